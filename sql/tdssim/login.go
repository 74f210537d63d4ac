package tdssim

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// PRELOGIN option tokens (MS-TDS 2.2.6.5).
const (
	preVersion    byte = 0x00
	preEncryption byte = 0x01
	preInstOpt    byte = 0x02
	preThreadID   byte = 0x03
	preMARS       byte = 0x04
	preTraceID    byte = 0x05
	preFedAuth    byte = 0x06
	preNonce      byte = 0x07
	preTerminator byte = 0xFF
)

// PRELOGIN ENCRYPTION values.
const (
	encryptOff    byte = 0x00
	encryptOn     byte = 0x01
	encryptNotSup byte = 0x02
	encryptReq    byte = 0x03
	encryptStrict byte = 0x04
)

// prelogin is a decoded client PRELOGIN.
type prelogin struct {
	version       []byte
	encryption    byte
	hasEncryption bool
	instance      string
	threadID      uint32
	mars          byte
	traceID       []byte
	fedAuth       bool
}

// decodePrelogin parses a PRELOGIN payload: an option table of (token,
// offset BE, length BE) entries ending with 0xFF, then the option data.
func decodePrelogin(data []byte) (*prelogin, error) {
	p := &prelogin{}
	seen := map[byte]bool{}
	for off := 0; ; off += 5 {
		if off >= len(data) {
			return nil, fmt.Errorf("%w: PRELOGIN option table not terminated", errProtocol)
		}
		tok := data[off]
		if tok == preTerminator {
			break
		}
		if off+5 > len(data) {
			return nil, fmt.Errorf("%w: PRELOGIN option table truncated", errProtocol)
		}
		o := int(binary.BigEndian.Uint16(data[off+1:]))
		n := int(binary.BigEndian.Uint16(data[off+3:]))
		if o+n > len(data) {
			return nil, fmt.Errorf("%w: PRELOGIN option %#x data [%d,+%d) outside %d bytes", errProtocol, tok, o, n, len(data))
		}
		if seen[tok] {
			return nil, fmt.Errorf("%w: duplicate PRELOGIN option %#x", errProtocol, tok)
		}
		seen[tok] = true
		v := data[o : o+n]
		switch tok {
		case preVersion:
			p.version = append([]byte{}, v...)
		case preEncryption:
			if n < 1 {
				return nil, fmt.Errorf("%w: empty PRELOGIN ENCRYPTION", errProtocol)
			}
			p.encryption, p.hasEncryption = v[0], true
		case preInstOpt:
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			p.instance = string(v)
		case preThreadID:
			if n >= 4 {
				p.threadID = binary.BigEndian.Uint32(v)
			}
		case preMARS:
			if n >= 1 {
				p.mars = v[0]
			}
		case preTraceID:
			p.traceID = append([]byte{}, v...)
		case preFedAuth:
			p.fedAuth = n >= 1 && v[0] != 0
		}
	}
	return p, nil
}

// encodePreloginReply builds the server's PRELOGIN response: VERSION,
// ENCRYPTION, INSTOPT and MARS. No zero-length option is ever last (the
// driver rejects an option offset at the end of the buffer).
func encodePreloginReply(encryption byte, version [4]byte) []byte {
	opts := []struct {
		tok  byte
		data []byte
	}{
		{preVersion, []byte{version[0], version[1], version[2], version[3], 0, 0}},
		{preEncryption, []byte{encryption}},
		{preInstOpt, []byte{0}},
		{preMARS, []byte{0}},
	}
	off := 5*len(opts) + 1
	b := make([]byte, 0, off+16)
	for _, o := range opts {
		b = append(b, o.tok)
		b = binary.BigEndian.AppendUint16(b, uint16(off))
		b = binary.BigEndian.AppendUint16(b, uint16(len(o.data)))
		off += len(o.data)
	}
	b = append(b, preTerminator)
	for _, o := range opts {
		b = append(b, o.data...)
	}
	return b
}

// login7 is a decoded LOGIN7 record (MS-TDS 2.2.6.4).
type login7 struct {
	tdsVersion     uint32
	packetSize     uint32
	clientProgVer  uint32
	clientPID      uint32
	connectionID   uint32
	optionFlags1   byte
	optionFlags2   byte
	typeFlags      byte
	optionFlags3   byte
	clientTimeZone int32
	clientLCID     uint32
	hostName       string
	userName       string
	password       string
	appName        string
	serverName     string
	cltIntName     string
	language       string
	database       string
	clientID       [6]byte
	sspi           []byte
	atchDBFile     string
	changePassword string
}

const (
	login7MinHeader = 86 // TDS 7.1 header; 7.2+ adds ChangePassword and SSPILong
	login7Header    = 94
	fIntSecurity    = 0x80
	fChangePassword = 0x01
)

// decodeLogin7 parses a LOGIN7 payload. Every offset/length pair is
// bounds-checked against the payload.
func decodeLogin7(data []byte) (*login7, error) {
	if len(data) < login7MinHeader {
		return nil, fmt.Errorf("%w: LOGIN7 of %d bytes is shorter than its header", errProtocol, len(data))
	}
	le := binary.LittleEndian
	l := &login7{
		tdsVersion:     le.Uint32(data[4:]),
		packetSize:     le.Uint32(data[8:]),
		clientProgVer:  le.Uint32(data[12:]),
		clientPID:      le.Uint32(data[16:]),
		connectionID:   le.Uint32(data[20:]),
		optionFlags1:   data[24],
		optionFlags2:   data[25],
		typeFlags:      data[26],
		optionFlags3:   data[27],
		clientTimeZone: int32(le.Uint32(data[28:])),
		clientLCID:     le.Uint32(data[32:]),
	}
	str := func(at int, field string, mangled bool) (string, error) {
		off, n := int(le.Uint16(data[at:])), int(le.Uint16(data[at+2:]))
		if n == 0 {
			return "", nil
		}
		if off+2*n > len(data) {
			return "", fmt.Errorf("%w: LOGIN7 %s [%d,+%d chars) outside %d bytes", errProtocol, field, off, n, len(data))
		}
		raw := data[off : off+2*n]
		if mangled {
			raw = demanglePassword(raw)
		}
		s, err := decodeUCS2(raw)
		if err != nil {
			return "", fmt.Errorf("LOGIN7 %s: %w", field, err)
		}
		return s, nil
	}
	var err error
	fields := []struct {
		at      int
		name    string
		mangled bool
		dst     *string
	}{
		{36, "HostName", false, &l.hostName},
		{40, "UserName", false, &l.userName},
		{44, "Password", true, &l.password},
		{48, "AppName", false, &l.appName},
		{52, "ServerName", false, &l.serverName},
		{60, "CltIntName", false, &l.cltIntName},
		{64, "Language", false, &l.language},
		{68, "Database", false, &l.database},
	}
	for _, f := range fields {
		if *f.dst, err = str(f.at, f.name, f.mangled); err != nil {
			return nil, err
		}
	}
	copy(l.clientID[:], data[72:78])
	sspiOff, sspiLen := int(le.Uint16(data[78:])), int(le.Uint16(data[80:]))
	if len(data) >= login7Header {
		if sspiLen == 0xFFFF {
			if long := le.Uint32(data[90:]); long <= uint32(len(data)) {
				sspiLen = int(long)
			}
		}
		if l.changePassword, err = str(86, "ChangePassword", true); err != nil {
			return nil, err
		}
	}
	if sspiLen > 0 {
		if sspiOff+sspiLen > len(data) {
			return nil, fmt.Errorf("%w: LOGIN7 SSPI outside payload", errProtocol)
		}
		l.sspi = append([]byte{}, data[sspiOff:sspiOff+sspiLen]...)
	}
	if l.atchDBFile, err = str(82, "AtchDBFile", false); err != nil {
		return nil, err
	}
	return l, nil
}

// demanglePassword reverses the LOGIN7 password obfuscation: XOR each byte
// with 0xA5, then swap its nibbles.
func demanglePassword(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		c ^= 0xA5
		out[i] = c<<4 | c>>4
	}
	return out
}

// clampPacketSize applies the driver's 512..32767 range; 0 means default.
func clampPacketSize(n uint32) int {
	switch {
	case n == 0:
		return defaultPacketSize
	case n < minPacketSize:
		return minPacketSize
	case n > maxPacketSize:
		return maxPacketSize
	}
	return int(n)
}

// loginReply builds the successful login response, in the order of the
// MS-TDS 4.4 example: ENVCHANGE database, INFO 5701, ENVCHANGE collation,
// ENVCHANGE language, ENVCHANGE packet size, INFO 5703, LOGINACK, DONE.
func loginReply(database string, packetSize int, server string, progVer [4]byte) []byte {
	var b []byte
	b = appendEnvChangeString(b, envDatabase, database, "master")
	b = appendMessage(b, tokInfo, 5701, 2, 0, fmt.Sprintf("Changed database context to '%s'.", database), server, "", 0)
	b = appendEnvChangeBytes(b, envSQLCollation, []byte(collationLatin1), nil)
	b = appendEnvChangeString(b, envLanguage, "us_english", "")
	size := strconv.Itoa(packetSize)
	b = appendEnvChangeString(b, envPacketSize, size, size)
	b = appendMessage(b, tokInfo, 5703, 1, 0, "Changed language setting to us_english.", server, "", 0)
	b = appendLoginAck(b, tdsVersion74, "Microsoft SQL Server", progVer)
	return appendDone(b, doneToken{tok: tokDone})
}

// tdsVersion74 is the TDS version we acknowledge (7.4).
const tdsVersion74 = 0x74000004

// loginFailure builds ERROR + DONE(ERROR). SRVERROR is never set here:
// the driver would then report a generic "login error" without the number.
func loginFailure(e *Error, server string) []byte {
	b := appendMessage(nil, tokError, e.Number, e.State, e.Class, e.Message, server, e.Proc, e.Line)
	return appendDone(b, doneToken{tok: tokDone, status: doneError})
}
