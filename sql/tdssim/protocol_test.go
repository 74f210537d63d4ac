package tdssim

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoginEachTDSVersion logs in at every TDS version MS-TDS lists
// (appendix A <17>): the LOGIN7 in that version's layout (an 86-byte fixed
// part before 7.2), with and without PRELOGIN, and checks that the answer is
// in the version the client asked for: the LOGINACK TDSVersion of note <69>,
// no collation ENVCHANGE for 7.0, and then a query and an error whose DONE
// and ERROR tokens have that version's widths (parseTokens fails on any
// byte it cannot account for).
func TestLoginEachTDSVersion(t *testing.T) {
	t.Parallel()
	rt := echoRouter()
	rt.Exact("select 1/0", func(*Request) (*Result, error) {
		return nil, &Error{Number: 8134, State: 1, Class: 16, Message: "Divide by zero error encountered.", Line: 1}
	})
	srv, _ := newServer(t, Config{Handler: rt})
	cases := []struct {
		name     string
		client   uint32
		prelogin bool
		ack      uint32
	}{
		{"7.0 without PRELOGIN", 0x70000000, false, 0x07000000},
		{"7.1 without PRELOGIN (jTDS without SSL)", 0x71000000, false, 0x07010000},
		{"7.1", 0x71000000, true, 0x07010000},
		{"7.1 rev 1 (FreeTDS)", 0x71000001, true, 0x71000001},
		{"7.2", 0x72090002, true, 0x72090002},
		{"7.3.A", 0x730A0003, true, 0x730A0003},
		{"7.3.B", 0x730B0003, true, 0x730B0003},
		{"7.4", 0x74000004, true, 0x74000004},
		{"a 7.x later than 7.4 gets 7.4", 0x75000000, true, 0x74000004},
		{"TDS 8.0's version in a 7.x flow gets 7.4", 0x08000000, true, 0x74000004},
		{"between 7.2 and 7.3.A gets 7.2", 0x73000000, true, 0x72090002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv)
			if tc.prelogin {
				if got := c.prelogin(encryptNotSup); got != encryptNotSup {
					t.Fatalf("PRELOGIN answer %#x", got)
				}
			}
			toks := c.login(tc.client, "sa", "pw", "AXDB")
			var ack uint32
			var collation bool
			for _, tk := range toks {
				if tk.typ == byte(tokLoginAck) {
					ack = tk.ackVersion
				}
				collation = collation || (tk.typ == byte(tokEnvChange) && tk.envType == envSQLCollation)
			}
			if ack != tc.ack {
				t.Fatalf("LOGINACK TDSVersion %#08x, want %#08x", ack, tc.ack)
			}
			if collation != (tc.client != 0x70000000) {
				t.Errorf("collation ENVCHANGE sent: %v", collation)
			}
			if d := dones(toks); len(d) != 1 || d[0].status != doneFinal {
				t.Fatalf("login DONE: %v", d)
			}
			if s := srv.Conns(); !slices.ContainsFunc(s, func(s *Session) bool { return s.TDSVersion == c.ver }) {
				t.Errorf("no session with TDSVersion %v", c.ver)
			}
			toks = c.batch("select n from numbers")
			if r := rows(toks); len(r) != 20 || r[19][0] != int64(19) {
				t.Fatalf("rows: %v", r)
			}
			if d := dones(toks); len(d) != 1 || d[0].count != 20 || d[0].status != doneCount {
				t.Fatalf("DONE: %v", d)
			}
			toks = c.batch("select 1/0")
			if got := errorsOf(toks); !slices.Equal(got, []int32{8134}) || toks[0].line != 1 {
				t.Fatalf("errors %v (line %d)", got, toks[0].line)
			}
		})
	}
	t.Run("TDS 5.0 in a LOGIN7 is refused", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, srv)
		c.prelogin(encryptNotSup)
		c.send(pktLogin7, 0, login7Payload(0x05000000, "sa", "pw", "AXDB"))
		c.expectClosed()
	})
}

// TestLogin7Malformed: a LOGIN7 that breaks MS-TDS 2.2.6.4's rules is "not a
// structurally valid LOGIN7 packet": "the TDS server does not send any
// response to the client" and closes the connection (MS-TDS 3.3.5.5).
func TestLogin7Malformed(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	le := binary.LittleEndian
	good := login7Payload(0x74000004, "sa", "pw", "AXDB")
	cases := []struct {
		name   string
		mutate func(b []byte) []byte
	}{
		{"Length is not the message's", func(b []byte) []byte { le.PutUint32(b, uint32(len(b)+2)); return b }},
		{"ibHostName points into the fixed part", func(b []byte) []byte { le.PutUint16(b[36:], 40); return b }},
		{"a 7.4 LOGIN7 with the 86-byte 7.1 header", func(b []byte) []byte {
			// the 7.1 layout under a 7.4 version: ibHostName 86 < 94
			return login7Payload71As(0x74000004)
		}},
		{"UserName longer than 128 characters", func(b []byte) []byte {
			return login7Payload(0x74000004, strings.Repeat("u", 129), "pw", "AXDB")
		}},
		{"a string beyond the message", func(b []byte) []byte { le.PutUint16(b[42:], 2000); return b }},
		{"FeatureExt without its terminator", func(b []byte) []byte {
			b[27] |= fExtension
			ext := len(b)
			b = le.AppendUint32(b, uint32(ext+4)) // ibFeatureExtLong
			b = append(b, 0x0A)                   // UTF8_SUPPORT
			b = le.AppendUint32(b, 1)
			b = append(b, 1)
			le.PutUint16(b[56:], uint16(ext))
			le.PutUint16(b[58:], 4)
			le.PutUint32(b, uint32(len(b)))
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv)
			c.prelogin(encryptNotSup)
			c.send(pktLogin7, 0, tc.mutate(slices.Clone(good)))
			c.expectClosed()
		})
	}
	t.Run("FeatureExt with its terminator is accepted", func(t *testing.T) {
		t.Parallel()
		b := slices.Clone(good)
		b[27] |= fExtension
		ext := len(b)
		b = le.AppendUint32(b, uint32(ext+4))
		b = append(b, 0x0A)
		b = le.AppendUint32(b, 1)
		b = append(b, 1, featureExtEnd)
		le.PutUint16(b[56:], uint16(ext))
		le.PutUint16(b[58:], 4)
		le.PutUint32(b, uint32(len(b)))
		c := dialRaw(t, srv)
		c.prelogin(encryptNotSup)
		c.send(pktLogin7, 0, b)
		if toks := c.readTokens(); len(errorsOf(toks)) != 0 || c.ver != TDS74 {
			t.Fatalf("login: %v", toks)
		}
	})
}

// login7Payload71As is a TDS 7.1 LOGIN7 (86-byte header) whose version field
// says version.
func login7Payload71As(version uint32) []byte {
	b := login7Payload(0x71000000, "sa", "pw", "AXDB")
	binary.LittleEndian.PutUint32(b[4:], version)
	return b
}

// TestPreloginRules holds the PRELOGIN exchange to MS-TDS 2.2.6.5: VERSION
// first, and the ENCRYPTION answer of the negotiation table for a server
// set to ENCRYPT_OFF (TLS offered), ENCRYPT_ON (RequireEncryption) and
// ENCRYPT_NOT_SUP (no TLS), closing where the table says "connection
// terminated".
func TestPreloginRules(t *testing.T) {
	t.Parallel()
	plain := New(Config{})
	if err := plain.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	offered, _ := newServer(t, Config{})
	required, _ := newServer(t, Config{RequireEncryption: true})

	t.Run("VERSION must come first", func(t *testing.T) {
		t.Parallel()
		p := preloginPayload(encryptOff)
		// Swap the VERSION and ENCRYPTION entries of the option table.
		q := slices.Concat(p[5:10], p[0:5], p[10:])
		c := dialRaw(t, offered)
		c.send(pktPrelogin, 0, q)
		c.expectClosed()
	})
	cases := []struct {
		srv      *Server
		name     string
		client   byte
		reply    byte
		refused  bool // the connection is closed after the answer
		wantsTLS bool
	}{
		{offered, "offered/OFF", encryptOff, encryptOff, false, true},
		{offered, "offered/ON", encryptOn, encryptOn, false, true},
		{offered, "offered/NOT_SUP", encryptNotSup, encryptNotSup, false, false},
		{offered, "offered/REQ", encryptReq, encryptOn, false, true},
		{offered, "offered/CLIENT_CERT|OFF", encryptClientCert | encryptOff, encryptNotSup, true, false},
		{required, "required/OFF", encryptOff, encryptReq, false, true},
		{required, "required/ON", encryptOn, encryptOn, false, true},
		{required, "required/NOT_SUP", encryptNotSup, encryptReq, true, false},
		{plain, "none/OFF", encryptOff, encryptNotSup, false, false},
		{plain, "none/ON", encryptOn, encryptNotSup, true, false},
		{plain, "none/NOT_SUP", encryptNotSup, encryptNotSup, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, tc.srv)
			if got := c.prelogin(tc.client); got != tc.reply {
				t.Fatalf("ENCRYPTION answer %#x, want %#x", got, tc.reply)
			}
			switch {
			case tc.refused:
				c.expectClosed()
			case tc.wantsTLS:
				st, err := c.rawTLS(&tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Fatal(err)
				}
				if st.Version != tls.VersionTLS12 {
					t.Fatalf("TLS %x inside PRELOGIN, want 1.2 at most", st.Version)
				}
			default:
				c.send(pktLogin7, 0, login7Payload(0x74000004, "sa", "pw", "AXDB"))
				if toks := c.readTokens(); len(errorsOf(toks)) != 0 {
					t.Fatalf("plaintext login: %v", toks)
				}
			}
		})
	}
	t.Run("LOGIN7 without PRELOGIN on a server that requires encryption", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, required)
		c.send(pktLogin7, 0, login7Payload(0x71000000, "sa", "pw", "AXDB"))
		c.expectClosed()
	})
}

// TestTLSVersions: inside the PRELOGIN exchange the server negotiates TLS 1.2
// even with a client offering 1.3 (FreeTDS stalled on 1.3 there); TDS 8.0
// (TLS first, ALPN tds/8.0) reaches TLS 1.3, and only on a Strict server.
func TestTLSVersions(t *testing.T) {
	t.Parallel()
	pemPath := t.TempDir() + "/cert.pem"
	tc, err := SelfSignedTLS(pemPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(pemPath)
	pool.AppendCertsFromPEM(b)
	client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS13}

	srv, _ := newServer(t, Config{TLS: tc, Handler: echoRouter()})
	c := dialRaw(t, srv)
	if got := c.prelogin(encryptOn); got != encryptOn {
		t.Fatalf("ENCRYPTION %#x", got)
	}
	st, err := c.rawTLS(client.Clone())
	if err != nil || st.Version != tls.VersionTLS12 {
		t.Fatalf("TLS inside PRELOGIN: %x %v", st.Version, err)
	}

	strictCfg := client.Clone()
	strictCfg.NextProtos = []string{"tds/8.0"}
	conn, err := tls.Dial("tcp", srv.Addr().String(), strictCfg)
	if err == nil {
		// The server may close only after the client's Finished.
		_ = conn.SetDeadline(time.Now().Add(testTimeout))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a server without Strict took a TDS 8.0 connection")
	}

	strict, _ := newServer(t, Config{TLS: tc, Strict: true, Handler: echoRouter()})
	conn, err = tls.Dial("tcp", strict.Addr().String(), strictCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if cs := conn.ConnectionState(); cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != "tds/8.0" {
		t.Fatalf("TDS 8.0: TLS %x, ALPN %q", cs.Version, cs.NegotiatedProtocol)
	}
	rc := rawOn(t, conn)
	rc.prelogin(encryptOn)
	rc.login(0x08000000, "sa", "pw", "AXDB")
	if r := rows(rc.batch("select n from numbers")); len(r) != 20 {
		t.Fatalf("rows over TDS 8.0: %v", r)
	}
	if s := strict.Conns(); len(s) != 1 || s[0].TDSVersion != TDS80 || s[0].TLS != TLSStrict {
		t.Fatalf("sessions: %+v", s)
	}
}

// TestIgnoreBit: a client that abandons a request it has not finished
// sending sets IGNORE and EOM on its next packet; "the server MUST ignore the
// current request" and answers "a table response with a single DONE token
// that has a status of DONE_ERROR" (MS-TDS 2.2.1.7). The session goes on.
func TestIgnoreBit(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")
	half := batchPayload(c.ver, "select n from num")
	c.packet(pktSQLBatch, 0, half)
	c.packet(pktSQLBatch, statusIgnore|statusEOM, ucs2Bytes("bers"))
	toks := c.readTokens()
	if len(toks) != 1 || toks[0].typ != byte(tokDone) || toks[0].status != doneError {
		t.Fatalf("answer to an ignored request: %v", toks)
	}
	if r := rows(c.batch("select n from numbers")); len(r) != 20 {
		t.Fatalf("after the ignored request: %v", r)
	}
	if st := srv.Stats(); st.Requests != 1 || st.Attentions != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestQueuedRequests: a request sent before the previous one is answered is
// queued ("the TDS server SHOULD queue the new client request", MS-TDS
// 3.3.5.7) and answered after it, in order; an ATTENTION then cancels the one
// executing and is acknowledged right after its response.
func TestQueuedRequests(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rt := echoRouter()
	rt.Exact("exec slow", func(r *Request) (*Result, error) {
		started <- struct{}{}
		select {
		case <-release:
			return Scalar(int64(7)), nil
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	})
	rt.Exact("exec until cancelled", func(r *Request) (*Result, error) {
		started <- struct{}{}
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	srv, _ := newServer(t, Config{Handler: rt})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")

	c.send(pktSQLBatch, 0, batchPayload(c.ver, "exec slow"))
	<-started
	c.send(pktSQLBatch, 0, batchPayload(c.ver, "select n from numbers"))
	c.send(pktSQLBatch, 0, batchPayload(c.ver, "select @@spid"))
	close(release)
	if r := rows(c.readTokens()); len(r) != 1 || r[0][0] != int64(7) {
		t.Fatalf("first answer: %v", r)
	}
	if r := rows(c.readTokens()); len(r) != 20 {
		t.Fatalf("second answer: %v", r)
	}
	if r := rows(c.readTokens()); len(r) != 1 {
		t.Fatalf("third answer: %v", r)
	}

	// Cancel the first of two: its response ends, the acknowledgement
	// follows in a message of its own, then the queued request's answer.
	c.send(pktSQLBatch, 0, batchPayload(c.ver, "exec until cancelled"))
	<-started
	c.send(pktSQLBatch, 0, batchPayload(c.ver, "select n from numbers"))
	c.send(pktAttention, 0, nil)
	if d := dones(c.readTokens()); len(d) != 1 || d[0].status&(doneAttn|doneMore) != 0 {
		t.Fatalf("cancelled response: %v", d)
	}
	if toks := c.readTokens(); len(toks) != 1 || toks[0].status != doneAttn {
		t.Fatalf("acknowledgement: %v", toks)
	}
	if r := rows(c.readTokens()); len(r) != 20 {
		t.Fatalf("queued request after the cancel: %v", r)
	}
	if st := srv.Stats(); st.Attentions != 1 || st.AttentionAcks != 1 || st.Connections != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestAttentionAckInItsOwnMessage: an ATTENTION while rows stream stops
// them; the response ends with a DONE without DONE_MORE, and DONE_ATTN comes
// in the next message (MS-TDS 4.19.2), where clients that read message by
// message (tedious) look for it.
func TestAttentionAckInItsOwnMessage(t *testing.T) {
	t.Parallel()
	streaming := make(chan struct{})
	rt := echoRouter()
	rt.Exact("select * from trickle", func(r *Request) (*Result, error) {
		return &Result{Sets: []ResultSet{{
			Columns:      []Column{{Name: "n", Type: TypeInt}},
			FlushEachRow: true,
			Iter: func(yield func(Row, error) bool) {
				for i := 0; ; i++ {
					if !yield(Row{i}, nil) {
						return
					}
					if i == 0 {
						close(streaming)
					}
					<-r.Context().Done()
				}
			},
		}}}, nil
	})
	srv, _ := newServer(t, Config{Handler: rt})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")
	c.send(pktSQLBatch, 0, batchPayload(c.ver, "select * from trickle"))
	<-streaming
	c.send(pktAttention, 0, nil)
	first := c.read()
	toks := parseTokens(t, first.data, c.ver)
	last := toks[len(toks)-1]
	if last.typ != byte(tokDone) || last.status&(doneAttn|doneMore) != 0 || len(rows(toks)) == 0 {
		t.Fatalf("the response ends with %v (%v)", last, toks)
	}
	ack := c.readTokens()
	if len(ack) != 1 || ack[0].status != doneAttn {
		t.Fatalf("the next message: %v", ack)
	}
	if r := rows(c.batch("select n from numbers")); len(r) != 20 {
		t.Fatalf("after the cancel: %v", r)
	}
}

// TestNamedTransaction drives Transaction Manager requests as MS-TDS 2.2.6.9
// defines them: names are B_VARBYTE (a byte count, then UCS-2), a nested
// BEGIN only counts, a savepoint can be rolled back to by name, only the
// outermost transaction's name rolls it back, COMMIT commits at the last
// level, and only transaction begin/end change the descriptor (ENVCHANGE 8,
// 9, 10).
func TestNamedTransaction(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")
	tm := func(op txOp, payload ...byte) []tok {
		t.Helper()
		c.send(pktTransMgr, 0, transMgrPayload(op, payload...))
		return c.readTokens()
	}
	ok := func(what string, toks []tok, env byte) []byte {
		t.Helper()
		if e := errorsOf(toks); len(e) != 0 {
			t.Fatalf("%s: errors %v", what, e)
		}
		ev := envs(toks)
		if env == 0 {
			if len(ev) != 0 {
				t.Fatalf("%s: ENVCHANGE %v, want none", what, ev)
			}
			return nil
		}
		if len(ev) != 1 || ev[0].envType != env {
			t.Fatalf("%s: ENVCHANGE %v, want type %d", what, ev, env)
		}
		return append(ev[0].envNew, ev[0].envOld...)
	}
	fails := func(what string, toks []tok, number int32) {
		t.Helper()
		if e := errorsOf(toks); !slices.Equal(e, []int32{number}) {
			t.Fatalf("%s: errors %v, want %d", what, e, number)
		}
	}
	desc := ok("BEGIN tx1", tm(txBegin, append([]byte{2}, bVarByteName("tx1")...)...), envBeginTran)
	if len(desc) != 8 || !srv.Conns()[0].InTransaction() {
		t.Fatalf("descriptor % X", desc)
	}
	ok("nested BEGIN", tm(txBegin, append([]byte{0}, bVarByteName("inner")...)...), 0)
	ok("SAVE sp1", tm(txSave, bVarByteName("sp1")...), 0)
	ok("ROLLBACK sp1", tm(txRollback, append(bVarByteName("sp1"), 0)...), 0)
	fails("ROLLBACK sp1 again", tm(txRollback, append(bVarByteName("sp1"), 0)...), 6401)
	fails("ROLLBACK of the inner name", tm(txRollback, append(bVarByteName("inner"), 0)...), 6401)
	fails("SAVE without a name", tm(txSave, 0), 8016)
	ok("COMMIT (2 to 1)", tm(txCommit, 0, 0), 0)
	if old := ok("COMMIT", tm(txCommit, append(bVarByteName("any"), 0)...), envCommitTran); !bytes.Equal(old, desc) {
		t.Fatalf("COMMIT's old descriptor % X, want % X", old, desc)
	}
	if srv.Conns()[0].InTransaction() {
		t.Fatal("still in a transaction")
	}
	fails("COMMIT without a transaction", tm(txCommit, 0, 0), 3902)
	fails("SAVE without a transaction", tm(txSave, bVarByteName("sp")...), 628)

	// The outermost name rolls everything back; with fBeginXact a new
	// transaction starts at once.
	ok("BEGIN outer", tm(txBegin, append([]byte{0}, bVarByteName("outer")...)...), envBeginTran)
	toks := tm(txRollback, slices.Concat(bVarByteName("outer"), []byte{1, 4}, bVarByteName("next"))...)
	if ev := envs(toks); len(ev) != 2 || ev[0].envType != envRollbackTran || ev[1].envType != envBeginTran {
		t.Fatalf("ROLLBACK outer + begin: %v", ev)
	}
	ok("COMMIT next", tm(txCommit, 0, 0), envCommitTran)

	fails("an odd-length name", tm(txBegin, 0, 3, 'a', 0, 'b'), 8016)
	fails("isolation level 6", tm(txBegin, 6, 0), 8016)
	fails("TM_GET_DTC_ADDRESS without MSDTC", tm(txGetDTCAddress, 0, 0), 8501)
	if st := srv.Stats(); st.Connections != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// "If an unknown Type is specified, the message receiver SHOULD
	// disconnect the connection."
	c.send(pktTransMgr, 0, transMgrPayload(3))
	c.expectClosed()
}

// TestTransMgrBeforeTDS72: request types 5 to 9 came with TDS 7.2; a 7.1
// session that sends one is disconnected like any unknown type.
func TestTransMgrBeforeTDS72(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	c := dialRaw(t, srv)
	c.login(0x71000001, "sa", "pw", "AXDB")
	c.send(pktTransMgr, 0, binary.LittleEndian.AppendUint16(nil, uint16(txBegin)))
	c.expectClosed()
}

// TestAllHeadersRules: from TDS 7.2 on a SQLBatch carries ALL_HEADERS with a
// Transaction Descriptor header (MS-TDS 2.2.5.3); without it, or with a
// Trace Activity header before 7.4, the request gets error 4009 and the
// session goes on.
func TestAllHeadersRules(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x730B0003, "sa", "pw", "AXDB")
	c.send(pktSQLBatch, 0, ucs2Bytes("select n from numbers"))
	if e := errorsOf(c.readTokens()); !slices.Equal(e, []int32{4009}) {
		t.Fatalf("no ALL_HEADERS: %v", e)
	}
	trace := binary.LittleEndian.AppendUint32(nil, 26)
	trace = binary.LittleEndian.AppendUint16(trace, hdrTraceActivity)
	trace = append(trace, make([]byte, 20)...)
	h := allHeaders(0)
	h = append(h, trace...)
	binary.LittleEndian.PutUint32(h, uint32(len(h)))
	c.send(pktSQLBatch, 0, append(h, ucs2Bytes("select n from numbers")...))
	if e := errorsOf(c.readTokens()); !slices.Equal(e, []int32{4009}) {
		t.Fatalf("Trace Activity in 7.3: %v", e)
	}
	if r := rows(c.batch("select n from numbers")); len(r) != 20 {
		t.Fatalf("rows: %v", r)
	}
}

// TestDownlevelTypes: a TDS 7.1 client gets DATETIME2 as its NVARCHAR
// literal and NVARCHAR(MAX) as NTEXT, the types of its version.
func TestDownlevelTypes(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 12, 5, 18, 30, 15, 123456700, time.UTC)
	rt := NewRouter()
	rt.Exact("select typed", func(*Request) (*Result, error) {
		return Rows([]Column{{Name: "at", Type: TypeDateTime2}, {Name: "doc", Type: TypeNVarCharMax, Nullable: true}},
			Row{when, "long text"}, Row{when, nil}), nil
	})
	srv, _ := newServer(t, Config{Handler: rt})
	for _, v := range []struct {
		client  uint32
		atType  byte
		docType byte
	}{{0x71000001, typeNVarChar, typeNText}, {0x72090002, typeNVarChar, typeNVarChar}} {
		c := dialRaw(t, srv)
		c.prelogin(encryptNotSup)
		c.login(v.client, "sa", "pw", "AXDB")
		if v.docType == typeNVarChar {
			// 7.2 has PLP: the test parser reads only the metadata.
			c.send(pktSQLBatch, 0, batchPayload(c.ver, "select typed"))
			m := c.read()
			if !bytes.Contains(m.data, []byte{typeNVarChar, 0xFF, 0xFF}) {
				t.Fatalf("7.2: no NVARCHAR(MAX) in % X", m.data)
			}
			continue
		}
		toks := c.batch("select typed")
		if cols := toks[0].cols; cols[0].typ != v.atType || cols[0].size != 2*27 || cols[1].typ != v.docType {
			t.Fatalf("columns %+v", cols)
		}
		r := rows(toks)
		if len(r) != 2 || r[0][0] != "2026-12-05 18:30:15.1234567" || r[0][1] != "long text" || r[1][1] != nil {
			t.Fatalf("rows %q", r)
		}
	}
}

// TestBatchedRPCs: a BatchFlag after the last RPC is ignored, as MS-TDS
// 2.2.6.6 says; a second RPC after it is refused, not silently dropped.
func TestBatchedRPCs(t *testing.T) {
	t.Parallel()
	rt := echoRouter()
	rt.Proc("dbo.ping", func(*Request) (*Result, error) { return Scalar(int64(1)), nil })
	srv, _ := newServer(t, Config{Handler: rt})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")
	rpc := func() []byte {
		name := ucs2Bytes("dbo.ping")
		b := binary.LittleEndian.AppendUint16(nil, uint16(len(name)/2))
		return binary.LittleEndian.AppendUint16(append(b, name...), 0) // OptionFlags
	}
	c.send(pktRPC, 0, slices.Concat(allHeaders(0), rpc(), []byte{0xFF}))
	if toks := c.readTokens(); len(errorsOf(toks)) != 0 || len(rows(toks)) != 1 {
		t.Fatalf("one RPC and a trailing BatchFlag: %v", toks)
	}
	c.send(pktRPC, 0, slices.Concat(allHeaders(0), rpc(), []byte{0xFF}, rpc()))
	if e := errorsOf(c.readTokens()); !slices.Equal(e, []int32{8016}) {
		t.Fatalf("two RPCs: %v", e)
	}
}
