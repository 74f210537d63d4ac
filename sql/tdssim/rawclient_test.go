package tdssim

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// rawClient is a TDS client written from MS-TDS for the cases the driver
// never produces: other TDS versions, the IGNORE bit, requests sent before
// the previous answer, named transactions. It writes exactly the bytes a
// test asks for and parses the answers strictly, by the session's version.
type rawClient struct {
	t   testing.TB
	nc  net.Conn
	pr  *packetReader
	pw  *packetWriter
	ver TDSVersion
}

func dialRaw(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	return rawOn(t, nc)
}

// rawOn speaks TDS on an established connection (e.g. one the driver uses).
func rawOn(t testing.TB, nc net.Conn) *rawClient {
	return &rawClient{t: t, nc: nc, pr: &packetReader{r: nc}, pw: &packetWriter{w: nc, size: 4096}, ver: TDS74}
}

// send writes one message of type typ; status bits other than EOM go on
// every packet.
func (c *rawClient) send(typ packetType, status byte, payload []byte) {
	c.t.Helper()
	m := newMsgWriter(c.pw, typ, c.pw.size)
	m.buf = append([]byte{}, payload...)
	if len(m.buf) == 0 {
		if err := c.pw.writePacket(typ, status|statusEOM, 1, nil); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	if status != 0 {
		// One packet, for the tests that set status bits by hand.
		if err := c.pw.writePacket(typ, status|statusEOM, 1, payload); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	if err := m.finish(); err != nil {
		c.t.Fatal(err)
	}
}

// packet writes one packet with exactly the given status.
func (c *rawClient) packet(typ packetType, status byte, payload []byte) {
	c.t.Helper()
	if err := c.pw.writePacket(typ, status, 1, payload); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one whole server message.
func (c *rawClient) read() message {
	c.t.Helper()
	m, err := c.pr.readMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if m.typ != pktReply {
		c.t.Fatalf("reply of type %#x", byte(m.typ))
	}
	return m
}

// readTokens reads one message and parses it.
func (c *rawClient) readTokens() []tok {
	c.t.Helper()
	return parseTokens(c.t, c.read().data, c.ver)
}

// expectClosed asserts the server closes the connection without answering.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	m, err := c.pr.readMessage()
	if err == nil {
		c.t.Fatalf("the server answered (type %#x, % X) instead of closing", byte(m.typ), m.data)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("the server neither answered nor closed")
	}
}

// prelogin sends a PRELOGIN offering encryption enc and returns the server's
// ENCRYPTION answer.
func (c *rawClient) prelogin(enc byte) byte {
	c.t.Helper()
	c.send(pktPrelogin, 0, preloginPayload(enc))
	p, err := decodePrelogin(c.read().data)
	if err != nil || !p.hasEncryption {
		c.t.Fatalf("PRELOGIN answer: %+v %v", p, err)
	}
	return p.encryption
}

// login sends LOGIN7 asking for version and returns the answer's tokens.
func (c *rawClient) login(version uint32, user, password, database string) []tok {
	c.t.Helper()
	c.send(pktLogin7, 0, login7Payload(version, user, password, database))
	// The answer is in the version asked for (MS-TDS 2.2.6.4), unless the
	// connection is TDS 8.0 (7.4 layouts).
	if v, err := negotiateVersion(version); err == nil {
		c.ver = v
	}
	toks := c.readTokens()
	for _, tk := range toks {
		if tk.typ == byte(tokLoginAck) {
			c.ver = versionOfAck(tk.ackVersion)
		}
	}
	return toks
}

// versionOfAck maps a LOGINACK TDSVersion back to the session version.
func versionOfAck(ack uint32) TDSVersion {
	for _, e := range versionTable {
		if e.ack == ack {
			return e.client
		}
	}
	return TDS74
}

// batch sends a SQLBatch and returns the answer's tokens.
func (c *rawClient) batch(sql string) []tok {
	c.t.Helper()
	c.send(pktSQLBatch, 0, batchPayload(c.ver, sql))
	return c.readTokens()
}

func preloginPayload(enc byte) []byte {
	opts := []struct {
		tok  byte
		data []byte
	}{
		{preVersion, []byte{9, 0, 0, 0, 0, 0}},
		{preEncryption, []byte{enc}},
		{preInstOpt, []byte{0}},
		{preThreadID, []byte{0, 0, 0, 1}},
		{preMARS, []byte{0}},
	}
	off := 5*len(opts) + 1
	var b []byte
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

// login7Payload builds a LOGIN7 in the layout of version (MS-TDS 2.2.6.4):
// an 86-byte fixed part for TDS 7.0 and 7.1, 94 bytes from 7.2 on.
func login7Payload(version uint32, user, password, database string) []byte {
	hdr := login72Header
	if TDSVersion(version) < TDS72 && version>>24 != 0x08 {
		hdr = login70Header
	}
	fixed := make([]byte, hdr)
	le := binary.LittleEndian
	le.PutUint32(fixed[4:], version)
	le.PutUint32(fixed[8:], 4096)
	fixed[24] = 0xE0 // fUseDB, fDatabase, fSetLang
	fixed[25] = 0x03 // fLanguage, fODBC
	var data []byte
	field := func(at int, s string, mangle bool) {
		b := ucs2Bytes(s)
		if mangle {
			b = mangledPassword(s)
		}
		le.PutUint16(fixed[at:], uint16(hdr+len(data)))
		le.PutUint16(fixed[at+2:], uint16(len(b)/2))
		data = append(data, b...)
	}
	field(36, "rawhost", false)
	field(40, user, false)
	field(44, password, true)
	field(48, "rawclient", false)
	field(52, "", false)
	field(56, "", false)
	field(60, "raw-tds", false)
	field(64, "", false)
	field(68, database, false)
	for _, at := range []int{78, 82} {
		le.PutUint16(fixed[at:], uint16(hdr+len(data)))
	}
	if hdr == login72Header {
		le.PutUint16(fixed[86:], uint16(hdr+len(data)))
	}
	out := append(fixed, data...)
	le.PutUint32(out, uint32(len(out)))
	return out
}

// allHeaders is ALL_HEADERS with the Transaction Descriptor header.
func allHeaders(desc uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 22)
	b = binary.LittleEndian.AppendUint32(b, 18)
	b = binary.LittleEndian.AppendUint16(b, hdrTransaction)
	b = binary.LittleEndian.AppendUint64(b, desc)
	return binary.LittleEndian.AppendUint32(b, 1)
}

// batchPayload is a SQLBatch: ALL_HEADERS from TDS 7.2 on, then the text.
func batchPayload(v TDSVersion, sql string) []byte {
	var b []byte
	if v.atLeast(TDS72) {
		b = allHeaders(0)
	}
	return append(b, ucs2Bytes(sql)...)
}

// transMgrPayload is a TransMgrReq with ALL_HEADERS and the payload.
func transMgrPayload(op txOp, payload ...byte) []byte {
	b := allHeaders(0)
	b = binary.LittleEndian.AppendUint16(b, uint16(op))
	return append(b, payload...)
}

// bVarByteName is a transaction name as MS-TDS 2.2.6.9 has it: B_VARBYTE,
// a byte count and the UCS-2 bytes.
func bVarByteName(s string) []byte {
	u := ucs2Bytes(s)
	return append([]byte{byte(len(u))}, u...)
}

// tok is one parsed token.
type tok struct {
	typ        byte
	status     uint16 // DONE family
	count      uint64 // DONE family
	number     int32  // ERROR, INFO
	line       int32  // ERROR, INFO
	envType    byte   // ENVCHANGE
	envNew     []byte // ENVCHANGE new value (B_VARBYTE or B_VARCHAR bytes)
	envOld     []byte
	ackVersion uint32 // LOGINACK, network order
	cols       []rawCol
	values     []any // ROW
}

type rawCol struct {
	typ  byte
	size int
	name string
}

// parseTokens parses a token stream in version v's layouts and fails the
// test on anything it cannot account for to the last byte.
func parseTokens(t testing.TB, b []byte, v TDSVersion) []tok {
	t.Helper()
	r := newByteReader(b)
	var out []tok
	var cols []rawCol
	for r.remaining() > 0 {
		tk := tok{typ: r.u8()}
		switch tokenType(tk.typ) {
		case tokEnvChange:
			body := newByteReader(r.bytes(int(r.u16())))
			tk.envType = body.u8()
			tk.envNew = body.bytes(int(body.u8()) * envUnit(tk.envType))
			tk.envOld = body.bytes(int(body.u8()) * envUnit(tk.envType))
			if body.err != nil || body.remaining() != 0 {
				t.Fatalf("ENVCHANGE %d: % X", tk.envType, body.b)
			}
		case tokError, tokInfo:
			body := newByteReader(r.bytes(int(r.u16())))
			tk.number = int32(body.u32())
			_, _ = body.u8(), body.u8()
			_ = body.usVarChar()
			_ = body.bVarChar()
			_ = body.bVarChar()
			if v.atLeast(TDS72) {
				tk.line = int32(body.u32())
			} else {
				tk.line = int32(body.u16())
			}
			if body.err != nil || body.remaining() != 0 {
				t.Fatalf("ERROR/INFO of TDS %v: % X (%v)", v, body.b, body.err)
			}
		case tokLoginAck:
			body := newByteReader(r.bytes(int(r.u16())))
			_ = body.u8()
			tk.ackVersion = binary.BigEndian.Uint32(body.bytes(4))
			_ = body.bVarChar()
			_ = body.bytes(4)
			if body.err != nil || body.remaining() != 0 {
				t.Fatalf("LOGINACK: % X", body.b)
			}
		case tokDone, tokDoneProc, tokDoneInProc:
			tk.status, _ = r.u16(), r.u16()
			if v.atLeast(TDS72) {
				tk.count = r.u64()
			} else {
				tk.count = uint64(r.u32())
			}
		case tokReturnStatus:
			_ = r.u32()
		case tokColMetadata:
			n := int(r.u16())
			cols = nil
			for range n {
				if v.atLeast(TDS72) {
					_ = r.u32()
				} else {
					_ = r.u16()
				}
				_ = r.u16() // flags
				c := rawCol{typ: r.u8()}
				switch c.typ {
				case typeIntN, typeBitN, typeFltN, typeDateTimeN:
					c.size = int(r.u8())
				case typeNVarChar:
					c.size = int(r.u16())
					if v.atLeast(TDS71) {
						_ = r.bytes(5)
					}
				case typeNText, typeImage:
					c.size = int(r.u32())
					if c.typ == typeNText && v.atLeast(TDS71) {
						_ = r.bytes(5)
					}
					_ = r.usVarChar() // TableName (one part before TDS 7.2)
				case typeDateTime2N, typeDTOffsetN:
					c.size = int(r.u8()) // scale
				case typeDateN:
				default:
					t.Fatalf("COLMETADATA type %#x: the test parser does not know it", c.typ)
				}
				c.name = r.bVarChar()
				cols = append(cols, c)
			}
			tk.cols = cols
		case tokRow:
			for _, c := range cols {
				tk.values = append(tk.values, rawValue(t, r, c))
			}
		default:
			t.Fatalf("unknown token %#x at %d in % X", tk.typ, r.off-1, b)
		}
		if r.err != nil {
			t.Fatalf("token %#x of TDS %v: %v in % X", tk.typ, v, r.err, b)
		}
		out = append(out, tk)
	}
	return out
}

// envUnit is 2 for ENVCHANGE types whose values are B_VARCHAR (lengths in
// characters), 1 for B_VARBYTE.
func envUnit(typ byte) int {
	switch typ {
	case envDatabase, envLanguage, 3, envPacketSize, 5, 6, 13, 19:
		return 2
	}
	return 1
}

func rawValue(t testing.TB, r *byteReader, c rawCol) any {
	switch c.typ {
	case typeIntN:
		n := int(r.u8())
		b := r.bytes(n)
		switch n {
		case 0:
			return nil
		case 4:
			return int64(int32(binary.LittleEndian.Uint32(b)))
		case 8:
			return int64(binary.LittleEndian.Uint64(b))
		}
		return b
	case typeNVarChar:
		n := r.u16()
		if n == 0xFFFF {
			return nil
		}
		s, _ := decodeUCS2(r.bytes(int(n)))
		return s
	case typeNText, typeImage:
		if r.u8() == 0 {
			return nil
		}
		_ = r.bytes(16 + 8) // TextPointer rest, Timestamp
		b := r.bytes(int(r.u32()))
		if c.typ == typeNText {
			s, _ := decodeUCS2(b)
			return s
		}
		return b
	default:
		return r.bytes(int(r.u8()))
	}
}

// dones, errorsOf and envs pick tokens of one kind.
func dones(toks []tok) []tok {
	var out []tok
	for _, tk := range toks {
		if tk.typ == byte(tokDone) || tk.typ == byte(tokDoneProc) || tk.typ == byte(tokDoneInProc) {
			out = append(out, tk)
		}
	}
	return out
}

func errorsOf(toks []tok) []int32 {
	var out []int32
	for _, tk := range toks {
		if tk.typ == byte(tokError) {
			out = append(out, tk.number)
		}
	}
	return out
}

func envs(toks []tok) []tok {
	var out []tok
	for _, tk := range toks {
		if tk.typ == byte(tokEnvChange) {
			out = append(out, tk)
		}
	}
	return out
}

func rows(toks []tok) [][]any {
	var out [][]any
	for _, tk := range toks {
		if tk.typ == byte(tokRow) {
			out = append(out, tk.values)
		}
	}
	return out
}

// rawTLS runs a TLS client handshake wrapped in PRELOGIN packets, as a TDS
// 7.x client does after agreeing on encryption (MS-TDS 2.2.6.5), and
// returns the connection state.
func (c *rawClient) rawTLS(cfg *tls.Config) (tls.ConnectionState, error) {
	hc := &handshakeConn{Conn: c.nc, pr: &packetReader{r: c.nc}, pw: c.pw}
	tc := tls.Client(hc, cfg)
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

func (tk tok) String() string {
	return fmt.Sprintf("{%#x status=%#x count=%d number=%d env=%d}", tk.typ, tk.status, tk.count, tk.number, tk.envType)
}
