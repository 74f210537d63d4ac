package tdssim

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// unhex parses a hex dump, ignoring whitespace.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertBytes(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got  % X\n want % X", name, got, want)
	}
}

// MS-TDS 4.4 "Login Response".
const specLoginResponse = `
04 01 01 61 00 00 01 00 E3 1B 00 01 06 6D 00 61
00 73 00 74 00 65 00 72 00 06 6D 00 61 00 73 00
74 00 65 00 72 00 AB 58 00 45 16 00 00 02 00 25
00 43 00 68 00 61 00 6E 00 67 00 65 00 64 00 20
00 64 00 61 00 74 00 61 00 62 00 61 00 73 00 65
00 20 00 63 00 6F 00 6E 00 74 00 65 00 78 00 74
00 20 00 74 00 6F 00 20 00 27 00 6D 00 61 00 73
00 74 00 65 00 72 00 27 00 2E 00 00 00 00 00 00
00 E3 08 00 07 05 09 04 D0 00 34 00 E3 17 00 02
0A 75 00 73 00 5F 00 65 00 6E 00 67 00 6C 00 69
00 73 00 68 00 00 E3 13 00 04 04 34 00 30 00 39
00 36 00 04 34 00 30 00 39 00 36 00 AB 5C 00 47
16 00 00 01 00 27 00 43 00 68 00 61 00 6E 00 67
00 65 00 64 00 20 00 6C 00 61 00 6E 00 67 00 75
00 61 00 67 00 65 00 20 00 73 00 65 00 74 00 74
00 69 00 6E 00 67 00 20 00 74 00 6F 00 20 00 75
00 73 00 5F 00 65 00 6E 00 67 00 6C 00 69 00 73
00 68 00 2E 00 00 00 00 00 00 00 AD 36 00 01 72
09 00 02 16 4D 00 69 00 63 00 72 00 6F 00 73 00
6F 00 66 00 74 00 20 00 53 00 51 00 4C 00 20 00
53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00
00 00 00 00 FD 00 00 00 00 00 00 00 00 00 00 00
00`

// TestGoldenLoginResponse rebuilds the spec's login response packet with
// the token encoders and the packet writer, byte for byte, and checks that
// loginReply produces the same tokens around its own LOGINACK.
func TestGoldenLoginResponse(t *testing.T) {
	t.Parallel()
	want := unhex(t, specLoginResponse)
	var b []byte
	b = appendEnvChangeString(b, envDatabase, "master", "master")
	b = appendMessage(b, TDS72, tokInfo, 5701, 2, 0, "Changed database context to 'master'.", "", "", 0)
	b = appendEnvChangeBytes(b, envSQLCollation, []byte(collationLatin1), nil)
	b = appendEnvChangeString(b, envLanguage, "us_english", "")
	b = appendEnvChangeString(b, envPacketSize, "4096", "4096")
	b = appendMessage(b, TDS72, tokInfo, 5703, 1, 0, "Changed language setting to us_english.", "", "", 0)
	b = appendLoginAck(b, 0x72090002, "Microsoft SQL Server\x00\x00", [4]byte{})
	b = appendDone(b, TDS72, doneToken{tok: tokDone})
	var out bytes.Buffer
	m := newMsgWriter(&packetWriter{w: &out, size: 4096}, pktReply, 4096)
	m.buf = b
	if err := m.finish(); err != nil {
		t.Fatal(err)
	}
	assertBytes(t, "login response packet", out.Bytes(), want)

	got := loginReply("master", 4096, "", TDS74, [4]byte{15, 0, 7, 0xD0})
	ack := bytes.IndexByte(got, byte(tokLoginAck))
	specAck := bytes.IndexByte(want[headerLen:], byte(tokLoginAck))
	assertBytes(t, "loginReply before LOGINACK", got[:ack], want[headerLen:headerLen+specAck])
	assertBytes(t, "loginReply LOGINACK", got[ack:len(got)-13],
		appendLoginAck(nil, 0x74000004, "Microsoft SQL Server", [4]byte{15, 0, 7, 0xD0}))
	assertBytes(t, "loginReply DONE", got[len(got)-13:], want[len(want)-13:])
}

func TestGoldenTokens(t *testing.T) {
	t.Parallel()
	// MS-TDS 4.7 "SQL Batch Server Response": the closing DONE.
	assertBytes(t, "DONE count", appendDone(nil, TDS74, doneToken{tok: tokDone, status: doneCount, curCmd: cmdSelect, count: 1}),
		unhex(t, "FD 10 00 C1 00 01 00 00 00 00 00 00 00"))
	// MS-TDS 4.9 "RPC Server Response".
	var rpc []byte
	rpc = appendDone(rpc, TDS74, doneToken{tok: tokDoneInProc, status: doneCount | doneMore, curCmd: cmdSelect, count: 1})
	rpc = appendReturnStatus(rpc, 0)
	rpc = appendDone(rpc, TDS74, doneToken{tok: tokDoneProc, curCmd: cmdExecute})
	assertBytes(t, "RPC response", rpc, unhex(t, `FF 11 00 C1 00 01 00 00 00 00 00 00 00 79 00 00 00 00 FE 00 00 E0 00 00 00 00 00 00 00 00 00`))
	// ERROR 1205: derived from the 2.2.7.10 layout.
	got := appendMessage(nil, TDS74, tokError, 1205, 51, 13, "dl", "S", "p", 7)
	assertBytes(t, "ERROR", got, unhex(t, `AA 16 00 B5 04 00 00 33 0D 02 00 64 00 6C 00 01 53 00 01 70 00 07 00 00 00`))
	// ENVCHANGE 8 begin transaction, 9 commit.
	assertBytes(t, "ENVCHANGE begin", appendEnvChangeBytes(nil, envBeginTran, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil),
		unhex(t, "E3 0B 00 08 08 01 02 03 04 05 06 07 08 00"))
	assertBytes(t, "ENVCHANGE commit", appendEnvChangeBytes(nil, envCommitTran, nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		unhex(t, "E3 0B 00 09 00 08 01 02 03 04 05 06 07 08"))
	// PRELOGIN reply: VERSION 15.0.2000, ENCRYPTION NOT_SUP, INSTOPT, MARS.
	assertBytes(t, "PRELOGIN reply", encodePreloginReply(encryptNotSup, [4]byte{15, 0, 0x07, 0xD0}), unhex(t, `
		00 00 15 00 06  01 00 1B 00 01  02 00 1C 00 01  04 00 1D 00 01  FF
		0F 00 07 D0 00 00  02  00  00`))
	// COLMETADATA: one nullable INT named "n".
	cm, err := appendColMetadata(nil, []Column{{Name: "n", Type: TypeInt, Nullable: true}}, TDS74)
	if err != nil {
		t.Fatal(err)
	}
	assertBytes(t, "COLMETADATA", cm, unhex(t, "81 01 00 00 00 00 00 01 00 26 04 01 6E 00"))
}

func TestGoldenValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		col  Column
		v    any
		want string
	}{
		{"int", Column{Type: TypeInt}, 42, "04 2A 00 00 00"},
		{"int -1", Column{Type: TypeInt}, int64(-1), "04 FF FF FF FF"},
		{"int null", Column{Type: TypeInt}, nil, "00"},
		{"bigint", Column{Type: TypeBigInt}, int64(1) << 40, "08 00 00 00 00 00 01 00 00"},
		{"smallint", Column{Type: TypeSmallInt}, -2, "02 FE FF"},
		{"tinyint", Column{Type: TypeTinyInt}, 255, "01 FF"},
		{"bit", Column{Type: TypeBit}, true, "01 01"},
		{"float", Column{Type: TypeFloat}, 1.0, "08 00 00 00 00 00 00 F0 3F"},
		{"real", Column{Type: TypeReal}, 1.0, "04 00 00 80 3F"},
		{"nvarchar", Column{Type: TypeNVarChar, Size: 5}, "ab", "04 00 61 00 62 00"},
		{"nvarchar surrogate pair", Column{Type: TypeNVarChar, Size: 2}, "😀", "04 00 3D D8 00 DE"},
		{"nvarchar empty", Column{Type: TypeNVarChar}, "", "00 00"},
		{"nvarchar null", Column{Type: TypeNVarChar}, nil, "FF FF"},
		{"nvarchar(max)", Column{Type: TypeNVarCharMax}, "ab", "04 00 00 00 00 00 00 00 04 00 00 00 61 00 62 00 00 00 00 00"},
		{"nvarchar(max) empty", Column{Type: TypeNVarCharMax}, "", "00 00 00 00 00 00 00 00 00 00 00 00"},
		{"nvarchar(max) null", Column{Type: TypeNVarCharMax}, nil, "FF FF FF FF FF FF FF FF"},
		{"varbinary", Column{Type: TypeVarBinary}, []byte{0xCA, 0xFE}, "02 00 CA FE"},
		{"decimal(18,4) -12.34", Column{Type: TypeDecimal, Precision: 18, Scale: 4}, "-12.34", "09 00 08 E2 01 00 00 00 00 00"},
		{"decimal(5,2) 1.005 rounds", Column{Type: TypeDecimal, Precision: 5, Scale: 2}, "1.005", "05 01 65 00 00 00"},
		{"decimal null", Column{Type: TypeDecimal}, nil, "00"},
		{"datetime 1900-01-01", Column{Type: TypeDateTime}, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "08 00 00 00 00 00 00 00 00"},
		{"datetime 2000-01-01 12:00", Column{Type: TypeDateTime}, time.Date(2000, 1, 1, 12, 0, 0, 0, time.UTC), "08 AC 8E 00 00 00 C1 C5 00"},
		{"datetime 1753-01-01", Column{Type: TypeDateTime}, time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), "08 46 2E FF FF 00 00 00 00"},
		{"datetime2 0001-01-01", Column{Type: TypeDateTime2}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "08 00 00 00 00 00 00 00 00"},
		{"datetime2 00:00:01 day 1", Column{Type: TypeDateTime2}, time.Date(1, 1, 2, 0, 0, 1, 0, time.UTC), "08 80 96 98 00 00 01 00 00"},
		{"date", Column{Type: TypeDate}, time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), "03 01 00 00"},
		{"datetimeoffset +01:00", Column{Type: TypeDateTimeOffset}, time.Date(1, 1, 2, 1, 0, 1, 0, time.FixedZone("", 3600)), "0A 80 96 98 00 00 01 00 00 3C 00"},
		{"guid", Column{Type: TypeUniqueIdentifier}, "6F9619FF-8B86-D011-B42D-00C04FC964FF", "10 FF 19 96 6F 86 8B 11 D0 B4 2D 00 C0 4F C9 64 FF"},
	}
	for _, c := range cases {
		got, err := appendValue(nil, &c.col, c.v)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		assertBytes(t, c.name, got, unhex(t, c.want))
	}
}

// MS-TDS 4.1 "Pre-Login Request" payload.
const specPrelogin = `00 00 1A 00 06 01 00 20 00 01 02 00 21 00 01 03 00 22 00 04 04 00 26 00
01 FF 09 00 00 00 00 00 01 00 B8 0D 00 00 01`

// MS-TDS 4.2 "Login Request" payload.
const specLogin7 = `88 00 00 00 02 00 09 72
00 10 00 00 00 00 00 07 00 01 00 00 00 00 00 00
E0 03 00 00 00 00 00 00 09 04 00 00 5E 00 08 00
6E 00 02 00 72 00 00 00 72 00 07 00 80 00 00 00
80 00 00 00 80 00 04 00 88 00 00 00 88 00 00 00
00 50 8B E2 B7 8F 88 00 00 00 88 00 00 00 88 00
00 00 00 00 00 00 73 00 6B 00 6F 00 73 00 74 00
6F 00 76 00 31 00 73 00 61 00 4F 00 53 00 51 00
4C 00 2D 00 33 00 32 00 4F 00 44 00 42 00 43 00`

// MS-TDS 4.8 "RPC Client Request" payload.
const specRPC = `16 00 00 00 12 00 00 00
02 00 00 00 00 00 00 00 00 01 00 00 00 00 04 00
66 00 6F 00 6F 00 33 00 00 00 00 02 26 02 00`

func TestGoldenDecoders(t *testing.T) {
	t.Parallel()
	p, err := decodePrelogin(unhex(t, specPrelogin))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.version, []byte{9, 0, 0, 0, 0, 0}) || p.encryption != encryptOn || p.threadID != 0xB80D0000 || p.mars != 1 || p.instance != "" {
		t.Errorf("prelogin = %+v", p)
	}
	l, err := decodeLogin7(unhex(t, specLogin7), false)
	if err != nil {
		t.Fatal(err)
	}
	if l.tdsVersion != 0x72090002 || l.packetSize != 4096 || l.hostName != "skostov1" || l.userName != "sa" ||
		l.password != "" || l.appName != "OSQL-32" || l.cltIntName != "ODBC" || l.database != "" ||
		l.clientID != [6]byte{0x00, 0x50, 0x8B, 0xE2, 0xB7, 0x8F} || l.optionFlags1 != 0xE0 || l.optionFlags2 != 0x03 {
		t.Errorf("login7 = %+v", l)
	}
	r, err := decodeRPC(unhex(t, specRPC), TDS72)
	if err != nil {
		t.Fatal(err)
	}
	if r.Proc != "foo3" || r.SQL != "" || len(r.Params) != 1 || r.Params[0].Name != "" || r.Params[0].Value != nil || r.Params[0].Output {
		t.Errorf("rpc = %+v", r)
	}
	if got := string(demanglePassword(mangledPassword("Pässwörd!"))); got != string(ucs2Bytes("Pässwörd!")) {
		t.Errorf("password round trip: %q", got)
	}
	// The driver's obfuscation of "a" (0x61 0x00): swap nibbles, XOR 0xA5.
	assertBytes(t, "mangled 'a'", mangledPassword("a"), []byte{0x16 ^ 0xA5, 0x00 ^ 0xA5})
}

// bufConn is a net.Conn whose writes are captured.
type bufConn struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *bufConn) Read([]byte) (int, error) { return 0, io.EOF }
func (c *bufConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *bufConn) Close() error                     { return nil }
func (c *bufConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *bufConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *bufConn) SetDeadline(time.Time) error      { return nil }
func (c *bufConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bufConn) SetWriteDeadline(time.Time) error { return nil }

// TestGoldenResponses drives the response writer directly and compares
// whole messages, including the ATTENTION acknowledgement shapes.
func TestGoldenResponses(t *testing.T) {
	t.Parallel()
	newResp := func(rpc bool) (*response, *bufConn) {
		bc := &bufConn{}
		c := newConn(New(Config{}), bc)
		c.pw.spid = 0x33
		c.sess.Store(&Session{})
		ctx, cancel := context.WithCancelCause(context.Background())
		in := &inbound{ctx: ctx, cancel: cancel, req: &Request{}}
		c.pending, c.cur = 1, in
		return &response{c: c, in: in, mw: newMsgWriter(c.pw, pktReply, 4096), rpc: rpc, dropAfter: -1}, bc
	}
	res := Rows([]Column{{Name: "n", Type: TypeInt, Nullable: true}}, Row{42}, Row{nil})
	header := func(n int) string { return "04 01 00 " + hex.EncodeToString([]byte{byte(n)}) + " 00 33 01 00" }
	body := "81 01 00 00 00 00 00 01 00 26 04 01 6E 00  D1 04 2A 00 00 00  D1 00 "

	r, bc := newResp(true)
	r.result(res)
	want := body + "FF 11 00 C1 00 02 00 00 00 00 00 00 00  79 00 00 00 00  FE 00 00 E0 00 00 00 00 00 00 00 00 00"
	assertBytes(t, "RPC result", bc.out.Bytes(), unhex(t, header(8+len(unhex(t, want)))+want))

	r, bc = newResp(false)
	r.result(res)
	want = body + "FD 10 00 C1 00 02 00 00 00 00 00 00 00"
	assertBytes(t, "batch result", bc.out.Bytes(), unhex(t, header(8+len(unhex(t, want)))+want))

	// ATTENTION while the handler runs: the response ends as it would, then
	// DONE(ATTN) comes in a message of its own (MS-TDS 4.19.2).
	ack := header(21) + "FD 20 00 00 00 00 00 00 00 00 00 00 00"
	r, bc = newResp(false)
	r.c.onAttention()
	r.result(Affected(3))
	want = "FD 10 00 C5 00 03 00 00 00 00 00 00 00"
	assertBytes(t, "batch result + attention", bc.out.Bytes(), unhex(t, header(8+len(unhex(t, want)))+want+ack))

	// ATTENTION while rows stream: rows stop, a final DONE ends the
	// response, then the acknowledgement.
	r, bc = newResp(false)
	r.c.onAttention()
	r.result(res)
	want = "81 01 00 00 00 00 00 01 00 26 04 01 6E 00  FD 00 00 00 00 00 00 00 00 00 00 00 00"
	assertBytes(t, "cancelled stream", bc.out.Bytes(), unhex(t, header(8+len(unhex(t, want)))+want+ack))

	// Late ATTENTION (nothing in flight): a standalone DONE(ATTN).
	bc.out.Reset()
	r.c.onAttention()
	assertBytes(t, "late attention", bc.out.Bytes(), unhex(t, header(21)+"FD 20 00 00 00 00 00 00 00 00 00 00 00"))
	if st := r.c.srv.Stats(); st.Attentions != 2 || st.AttentionAcks != 2 { // the in-flight and the late attention of this server
		t.Errorf("stats = %+v", st)
	}

	// The same in a TDS 7.1 session: DoneRowCount is a LONG, UserType a
	// USHORT (MS-TDS 2.2.7.6, 2.2.7.4).
	r, bc = newResp(false)
	r.c.ver = TDS71
	r.c.onAttention()
	r.result(res)
	want = "81 01 00 00 00 01 00 26 04 01 6E 00  FD 00 00 00 00 00 00 00 00"
	assertBytes(t, "cancelled stream, TDS 7.1", bc.out.Bytes(), unhex(t, header(8+len(unhex(t, want)))+want+header(17)+"FD 20 00 00 00 00 00 00 00"))
}

func TestMessageFraming(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	pw := &packetWriter{w: &out, spid: 7, size: 512}
	m := newMsgWriter(pw, pktReply, 512)
	m.buf = bytes.Repeat([]byte{0xAB}, 1200)
	if err := m.flushFull(); err != nil {
		t.Fatal(err)
	}
	if len(m.buf) != 1200-2*504 {
		t.Fatalf("kept %d bytes", len(m.buf))
	}
	if err := m.finish(); err != nil {
		t.Fatal(err)
	}
	pkts := parsePackets(t, out.Bytes())
	if len(pkts) != 3 {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, want := range []struct {
		status byte
		length int
	}{{0, 512}, {0, 512}, {1, 8 + 192}} {
		p := pkts[i]
		if p.status != want.status || p.length != want.length || p.id != byte(i+1) || p.typ != pktReply {
			t.Errorf("packet %d = %+v", i, p)
		}
	}
	assertBytes(t, "header", out.Bytes()[:8], []byte{0x04, 0x00, 0x02, 0x00, 0x00, 0x07, 0x01, 0x00})

	// An exact multiple of the payload size still ends with a non-empty EOM packet.
	out.Reset()
	m = newMsgWriter(pw, pktReply, 512)
	m.buf = bytes.Repeat([]byte{1}, 2*504)
	if err := m.finish(); err != nil {
		t.Fatal(err)
	}
	pkts = parsePackets(t, out.Bytes())
	if len(pkts) != 2 || pkts[0].status != 0 || pkts[1].status != 1 || len(pkts[1].data) != 504 {
		t.Fatalf("packets = %+v", pkts)
	}
}

func TestPacketReaderErrors(t *testing.T) {
	t.Parallel()
	pkt := func(typ packetType, status byte, payload []byte) []byte {
		b := []byte{byte(typ), status, 0, 0, 0, 0, 1, 0}
		n := len(payload) + 8
		b[2], b[3] = byte(n>>8), byte(n)
		return append(b, payload...)
	}
	var in []byte
	in = append(in, pkt(pktSQLBatch, 0, []byte{1, 2})...)
	in = append(in, pkt(pktSQLBatch, statusEOM|statusResetConn, []byte{3})...)
	pr := &packetReader{r: bytes.NewReader(in)}
	m, err := pr.readMessage()
	if err != nil || m.typ != pktSQLBatch || !bytes.Equal(m.data, []byte{1, 2, 3}) || m.status != statusResetConn {
		t.Fatalf("reassembly: %+v %v", m, err)
	}
	bad := [][]byte{
		append(pkt(pktSQLBatch, 0, []byte{1}), pkt(pktRPC, 1, nil)...), // type change
		{0x01, 0x01, 0x00, 0x04, 0, 0, 0, 0},                           // length < header
		pkt(pktSQLBatch, 0, bytes.Repeat([]byte{1}, 100)),              // too large (limit below)
	}
	for i, b := range bad {
		pr := &packetReader{r: io.MultiReader(bytes.NewReader(b), bytes.NewReader(pkt(pktSQLBatch, 1, bytes.Repeat([]byte{1}, 100))))}
		if i == 2 {
			pr.maxMessage = 150
		}
		if _, err := pr.readMessage(); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

// mangledPassword applies the client-side obfuscation (the client side, for tests and fuzz seeds).
func mangledPassword(s string) []byte {
	b := ucs2Bytes(s)
	for i, c := range b {
		b[i] = (c<<4 | c>>4) ^ 0xA5
	}
	return b
}
