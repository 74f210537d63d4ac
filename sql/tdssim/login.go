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
	// encryptClientCert is ENCRYPT_CLIENT_CERT, a bit ORed with one of the
	// others (MS-TDS 2.2.6.5).
	encryptClientCert byte = 0x80
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
		if off == 0 && tok != preVersion {
			// "VERSION is a required token, and it MUST be the first token
			// sent as part of PRELOGIN. If this is not the case, the
			// connection is closed by the server." (MS-TDS 2.2.6.5)
			return nil, fmt.Errorf("%w: PRELOGIN starts with option %#x, not VERSION", errProtocol, tok)
		}
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
			if n != 6 { // UL_VERSION US_SUBBUILD
				return nil, fmt.Errorf("%w: PRELOGIN VERSION of %d bytes, not 6", errProtocol, n)
			}
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
	headerLen      int // 86 for TDS 7.0/7.1, 94 from TDS 7.2 on
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
	// features are the FeatureExt FeatureIds (TDS 7.4, fExtension set), in
	// order; the server acknowledges none of them.
	features []byte
}

const (
	// login70Header is the fixed part of a TDS 7.0/7.1 LOGIN7: up to
	// cchAtchDBFile. TDS 7.2 added ibChangePassword, cchChangePassword and
	// cbSSPILong (8 more bytes).
	login70Header = 86
	login72Header = 94
	// maxLogin7 is MS-TDS's "MUST NOT be longer than 128K-1 bytes".
	maxLogin7       = 128<<10 - 1
	fIntSecurity    = 0x80 // OptionFlags2
	fChangePassword = 0x01 // OptionFlags3, TDS 7.2
	fExtension      = 0x10 // OptionFlags3, TDS 7.4
	featureExtEnd   = 0xFF
)

// decodeLogin7 parses a LOGIN7 payload with the layout of the TDS version
// it asks for (MS-TDS 2.2.6.4): TDS 7.0 and 7.1 have an 86-byte fixed part,
// TDS 7.2 and later 94 bytes (ChangePassword and the long SSPI length), and
// TDS 7.4 may point to a FeatureExt block. In TDS 8.0 (strict) the version
// field is ignored and the 7.4 layout applies. Every offset and length is
// checked against the payload and the spec's "Login Data Validation
// Rules"; a LOGIN7 that breaks them is not structurally valid, and the
// server closes the connection without answering (MS-TDS 3.3.5.2).
func decodeLogin7(data []byte, strict bool) (*login7, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: LOGIN7 of %d bytes", errProtocol, len(data))
	}
	le := binary.LittleEndian
	if n := le.Uint32(data); int64(n) != int64(len(data)) {
		return nil, fmt.Errorf("%w: LOGIN7 Length says %d bytes, the message has %d", errProtocol, n, len(data))
	}
	if len(data) > maxLogin7 {
		return nil, fmt.Errorf("%w: LOGIN7 of %d bytes is longer than 128K-1", errProtocol, len(data))
	}
	l := &login7{tdsVersion: le.Uint32(data[4:]), headerLen: login72Header}
	if !strict && TDSVersion(l.tdsVersion) < TDS72 && l.tdsVersion>>24 != 0x08 {
		l.headerLen = login70Header
	}
	if len(data) < l.headerLen {
		return nil, fmt.Errorf("%w: LOGIN7 of %d bytes is shorter than the %d-byte header of TDS %#08x", errProtocol, len(data), l.headerLen, l.tdsVersion)
	}
	l.packetSize = le.Uint32(data[8:])
	l.clientProgVer = le.Uint32(data[12:])
	l.clientPID = le.Uint32(data[16:])
	l.connectionID = le.Uint32(data[20:])
	l.optionFlags1, l.optionFlags2, l.typeFlags, l.optionFlags3 = data[24], data[25], data[26], data[27]
	l.clientTimeZone = int32(le.Uint32(data[28:]))
	l.clientLCID = le.Uint32(data[32:])

	// ibHostName "MUST always point to the beginning of the variable-length
	// data": never into the fixed part. Later versions may add fields, so
	// it may point past the header this version defines.
	if host := int(le.Uint16(data[36:])); host < l.headerLen || host > len(data) {
		return nil, fmt.Errorf("%w: LOGIN7 ibHostName %d outside [%d, %d]", errProtocol, host, l.headerLen, len(data))
	}
	// span returns a field's bytes: offset and length (in units of size
	// bytes), at most maxUnits units, inside the variable part.
	span := func(at int, field string, size, maxUnits int) ([]byte, error) {
		off, n := int(le.Uint16(data[at:])), int(le.Uint16(data[at+2:]))
		if n == 0 {
			return nil, nil // "If the length is specified as 0, then the offset MUST be ignored."
		}
		if n > maxUnits {
			return nil, fmt.Errorf("%w: LOGIN7 %s of %d units (at most %d)", errProtocol, field, n, maxUnits)
		}
		if off < l.headerLen || off+size*n > len(data) {
			return nil, fmt.Errorf("%w: LOGIN7 %s [%d,+%d) outside the variable part [%d,%d)", errProtocol, field, off, size*n, l.headerLen, len(data))
		}
		return data[off : off+size*n], nil
	}
	str := func(at int, field string, maxChars int, mangled bool) (string, error) {
		raw, err := span(at, field, 2, maxChars)
		if err != nil || raw == nil {
			return "", err
		}
		if mangled {
			raw = demanglePassword(raw)
		}
		s, err := decodeUCS2(raw)
		if err != nil {
			return "", fmt.Errorf("%w: LOGIN7 %s: %w", errProtocol, field, err)
		}
		return s, nil
	}
	fields := []struct {
		at       int
		name     string
		maxChars int
		mangled  bool
		dst      *string
	}{
		{36, "HostName", 128, false, &l.hostName},
		{40, "UserName", 128, false, &l.userName},
		{44, "Password", 128, true, &l.password},
		{48, "AppName", 128, false, &l.appName},
		{52, "ServerName", 128, false, &l.serverName},
		{60, "CltIntName", 128, false, &l.cltIntName},
		{64, "Language", 128, false, &l.language},
		{68, "Database", 128, false, &l.database},
		{82, "AtchDBFile", 260, false, &l.atchDBFile},
	}
	var err error
	for _, f := range fields {
		if *f.dst, err = str(f.at, f.name, f.maxChars, f.mangled); err != nil {
			return nil, err
		}
	}
	copy(l.clientID[:], data[72:78])

	sspiLen := int(le.Uint16(data[80:]))
	if l.headerLen == login72Header {
		if l.changePassword, err = str(86, "ChangePassword", 128, true); err != nil {
			return nil, err
		}
		// "If cbSSPI == USHORT_MAX, then cbSSPILong MUST be checked. If
		// cbSSPILong > 0, then that value MUST be used."
		if long := le.Uint32(data[90:]); sspiLen == 0xFFFF && long > 0 {
			if long > uint32(len(data)) {
				return nil, fmt.Errorf("%w: LOGIN7 cbSSPILong %d beyond the message", errProtocol, long)
			}
			sspiLen = int(long)
		}
	}
	if sspiLen > 0 {
		off := int(le.Uint16(data[78:]))
		if off < l.headerLen || off+sspiLen > len(data) {
			return nil, fmt.Errorf("%w: LOGIN7 SSPI [%d,+%d) outside the variable part", errProtocol, off, sspiLen)
		}
		l.sspi = append([]byte{}, data[off:off+sspiLen]...)
	}

	// ibExtension/cbExtension (TDS 7.4, when fExtension is set; before
	// that, and with the bit clear, they are ibUnused/cbUnused): a DWORD
	// offset of the FeatureExt block, or 0 when there is none.
	if (strict || TDSVersion(l.tdsVersion) >= TDS74 || l.tdsVersion>>24 == 0x08) && l.optionFlags3&fExtension != 0 {
		ext, err := span(56, "Extension", 1, 255)
		if err != nil {
			return nil, err
		}
		if len(ext) < 4 {
			return nil, fmt.Errorf("%w: LOGIN7 Extension of %d bytes has no ibFeatureExtLong", errProtocol, len(ext))
		}
		if at := le.Uint32(ext); at != 0 {
			if l.features, err = decodeFeatureExt(data, int64(at), l.headerLen); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// decodeFeatureExt reads the FeatureExt block at off: FeatureId (BYTE),
// FeatureDataLen (DWORD), FeatureData, ..., then the 0xFF terminator, which
// MUST be there. It returns the FeatureIds.
func decodeFeatureExt(data []byte, off int64, headerLen int) ([]byte, error) {
	if off < int64(headerLen) || off >= int64(len(data)) {
		return nil, fmt.Errorf("%w: LOGIN7 ibFeatureExtLong %d outside the variable part", errProtocol, off)
	}
	var ids []byte
	for p := off; ; {
		if p >= int64(len(data)) {
			return nil, fmt.Errorf("%w: LOGIN7 FeatureExt has no terminator", errProtocol)
		}
		id := data[p]
		if id == featureExtEnd {
			return ids, nil
		}
		if p+5 > int64(len(data)) {
			return nil, fmt.Errorf("%w: LOGIN7 FeatureExt option %#x truncated", errProtocol, id)
		}
		n := int64(binary.LittleEndian.Uint32(data[p+1:]))
		if p+5+n > int64(len(data)) {
			return nil, fmt.Errorf("%w: LOGIN7 FeatureExt option %#x of %d bytes beyond the message", errProtocol, id, n)
		}
		ids = append(ids, id)
		p += 5 + n
	}
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
// ENVCHANGE language, ENVCHANGE packet size, INFO 5703, LOGINACK, DONE, each
// token in the layout of the negotiated version v. TDS 7.0 predates
// collations (SQL Server 2000, TDS 7.1, introduced them; MS-TDS: "ENVCHANGE
// types 3, 5, and 6 are only sent back to clients running TDS 7.0 or
// earlier"), so a 7.0 session gets no collation ENVCHANGE; MS-TDS gives no
// values for types 3, 5 and 6, and they are optional, so none is sent.
func loginReply(database string, packetSize int, server string, v TDSVersion, progVer [4]byte) []byte {
	var b []byte
	b = appendEnvChangeString(b, envDatabase, database, "master")
	b = appendMessage(b, v, tokInfo, 5701, 2, 0, fmt.Sprintf("Changed database context to '%s'.", database), server, "", 0)
	if v.atLeast(TDS71) {
		b = appendEnvChangeBytes(b, envSQLCollation, []byte(collationLatin1), nil)
	}
	b = appendEnvChangeString(b, envLanguage, "us_english", "")
	size := strconv.Itoa(packetSize)
	b = appendEnvChangeString(b, envPacketSize, size, size)
	b = appendMessage(b, v, tokInfo, 5703, 1, 0, "Changed language setting to us_english.", server, "", 0)
	b = appendLoginAck(b, v.loginAck(), "Microsoft SQL Server", progVer)
	return appendDone(b, v, doneToken{tok: tokDone})
}

// loginFailure builds the ERROR tokens + DONE(ERROR) of a rejected login.
// SRVERROR is never set here: the driver would then report a generic
// "login error" without the number.
func loginFailure(errs []*Error, server string, v TDSVersion) []byte {
	var b []byte
	for _, e := range errs {
		b = appendMessage(b, v, tokError, e.Number, e.State, e.Class, e.Message, server, e.Proc, e.Line)
	}
	return appendDone(b, v, doneToken{tok: tokDone, status: doneError})
}
