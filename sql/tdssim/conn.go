package tdssim

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Internal cancellation causes and connection-end reasons.
var (
	errAttention = errors.New("tdssim: attention received")
	errKilled    = errors.New("tdssim: connection killed")
	errFaultDrop = errors.New("tdssim: connection dropped by fault")
	errFaultHang = errors.New("tdssim: hung by fault")
	errSevere    = errors.New("tdssim: severe error")
	errCancelled = errors.New("tdssim: request cancelled")
	errDropped   = errors.New("tdssim: connection dropped")
	errLoginDone = errors.New("tdssim: login rejected")
)

// garbageToken is sent by FaultGarbageToken: 0x5A is not a token any
// client knows.
const garbageToken = "\x5A\xDE\xAD\xBE\xEF"

// conn is one client connection. After login two goroutines run: the
// reader (readLoop) reads messages, handles ATTENTION itself and queues
// requests for the executor (serve/execute), which runs them one at a time
// in the order they arrived.
type conn struct {
	srv  *Server
	nc   net.Conn
	raw  *bufferedConn
	pr   *packetReader
	pw   *packetWriter
	log  *slog.Logger // set once in newConn; read from any goroutine
	spid uint16
	sess atomic.Pointer[Session]

	ctx       context.Context
	cancel    context.CancelCauseFunc
	closeOnce sync.Once
	tlsMode   TLSMode
	ver       TDSVersion // the negotiated TDS version; set at login, then read-only
	reqCh     chan *inbound

	// Transaction state, used by the executor only.
	tranSeq    uint64
	tranCount  int
	tranName   string
	savepoints []string

	// mu guards the request state shared by reader and executor. The
	// decision "acknowledge an ATTENTION after the current response, or at
	// once when no request is outstanding" is made under mu together with
	// the "response finished" transition, so every attention is
	// acknowledged once.
	mu          sync.Mutex
	pending     int      // requests received whose response is not finished
	cur         *inbound // the request executing, if any
	attnPending bool
}

// inbound is a decoded request on its way from reader to executor.
type inbound struct {
	msg    message
	req    *Request
	tx     *txRequest
	decErr error
	// ignored is a message the client abandoned with the IGNORE bit.
	ignored bool
	plan    plan
	ctx     context.Context
	cancel  context.CancelCauseFunc
}

// requestQueue bounds the requests a client may send before the first is
// answered; more wait in the socket (the reader stops reading).
const requestQueue = 64

func newConn(s *Server, nc net.Conn) *conn {
	spid := uint16(s.spid.Add(1))
	raw := &bufferedConn{Conn: nc, r: bufio.NewReaderSize(nc, 8192)}
	c := &conn{
		srv:   s,
		nc:    nc,
		raw:   raw,
		pr:    &packetReader{r: raw, maxMessage: s.cfg.MaxMessageSize},
		pw:    &packetWriter{w: raw, spid: spid, size: defaultPacketSize, sent: &s.st.bytesSent},
		log:   s.log.With("spid", spid, "remote", nc.RemoteAddr().String()),
		spid:  spid,
		ver:   TDS74,
		reqCh: make(chan *inbound, requestQueue),
	}
	c.ctx, c.cancel = context.WithCancelCause(s.ctx)
	return c
}

func (c *conn) session() *Session { return c.sess.Load() }

// close ends the connection once: cancels contexts, closes the socket and
// unregisters it.
func (c *conn) close(cause error) {
	c.closeOnce.Do(func() {
		c.cancel(cause)
		_ = c.nc.Close()
		c.srv.removeConn(c)
		c.log.Debug("tdssim: connection closed", "cause", cause)
	})
}

// recoverPanic is the last line of defence: a panic closes only this
// connection and is counted.
func (c *conn) recoverPanic(where string) {
	if p := recover(); p != nil {
		c.srv.st.panics.Add(1)
		c.log.Error("tdssim: recovered panic, closing connection", "where", where, "panic", p, "stack", string(debug.Stack()))
		c.close(fmt.Errorf("tdssim: panic in %s: %v", where, p))
	}
}

func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.close(io.EOF)
	defer c.recoverPanic("connection")
	if err := c.login(); err != nil {
		if errors.Is(err, errProtocol) || errors.Is(err, errRefused) {
			// Only what the client did wrong is worth telling: a client
			// that just went away, or a login answered with an error
			// (logged with its reason), is not.
			c.log.Warn("tdssim: connection refused before login", "err", err)
		} else {
			c.log.Debug("tdssim: connection ended before login completed", "err", err)
		}
		return
	}
	c.srv.wg.Add(1)
	go c.readLoop()
	for {
		select {
		case in := <-c.reqCh:
			c.execute(in)
		case <-c.ctx.Done():
			return
		}
	}
}

// writeMessage sends data as one reply message.
func (c *conn) writeMessage(data []byte, packetSize int) error {
	m := newMsgWriter(c.pw, pktReply, packetSize)
	m.buf = data
	return m.finish()
}

// hangUntilClosed blocks until the client disconnects, the login deadline
// passes or the connection is closed.
func (c *conn) hangUntilClosed() {
	_, _ = io.Copy(io.Discard, c.pr.r)
}

// ---- PRELOGIN, TLS and LOGIN7 ----

// errRefused is a connection the server ends on purpose before login: an
// encryption setting it cannot serve, a TDS 8.0 client on a server without
// TDS 8.0.
var errRefused = errors.New("tdssim: connection refused")

// login runs the connection from its first byte to the login response
// (MS-TDS 3.3.5.1 to 3.3.5.5). The first message SHOULD be PRELOGIN (or a
// TLS ClientHello for TDS 8.0); a LOGIN7 that comes first, as TDS 7.0
// clients and jTDS without SSL send it, is served in plaintext, as SQL
// Server serves such clients, unless the server requires encryption.
func (c *conn) login() error {
	cfg := &c.srv.cfg
	_ = c.nc.SetDeadline(time.Now().Add(cfg.LoginTimeout))
	first, err := c.raw.r.Peek(1)
	if err != nil {
		return fmt.Errorf("read first byte: %w", err)
	}
	if first[0] == 0x16 { // a TLS record: TDS 8.0 (encrypt=strict)
		if cfg.TLS == nil || !cfg.Strict {
			// SQL Server 2019 and earlier know no TDS 8.0: the ClientHello
			// is no PRELOGIN, and the connection is closed (MS-TDS 3.3.5.1).
			return fmt.Errorf("%w: a TLS handshake before PRELOGIN (TDS 8.0, encrypt=strict), which this server does not support", errRefused)
		}
		tc := tls.Server(c.raw, c.tlsConfig(true))
		if err := tc.HandshakeContext(c.ctx); err != nil {
			return fmt.Errorf("%w: TLS handshake (TDS 8.0): %w", errRefused, err)
		}
		c.tlsMode = TLSStrict
		c.ver = TDS80
		c.pr.r = tc
		c.pw.setWriter(tc)
	}

	m, err := c.pr.readMessage()
	if err != nil {
		return fmt.Errorf("read PRELOGIN: %w", err)
	}
	switch m.typ {
	case pktPrelogin:
		if err := c.prelogin(m); err != nil {
			return err
		}
		if m, err = c.pr.readMessage(); err != nil {
			return fmt.Errorf("read LOGIN7: %w", err)
		}
		if m.typ != pktLogin7 {
			return fmt.Errorf("%w: expected LOGIN7, got packet type %#x", errProtocol, byte(m.typ))
		}
	case pktLogin7:
		if cfg.RequireEncryption && c.tlsMode != TLSStrict {
			return fmt.Errorf("%w: LOGIN7 without PRELOGIN, in plaintext, but the server requires encryption", errRefused)
		}
	default:
		return fmt.Errorf("%w: expected PRELOGIN, got packet type %#x", errProtocol, byte(m.typ))
	}
	return c.login7(m)
}

// prelogin answers the client's PRELOGIN and runs the TLS handshake when
// encryption was agreed.
func (c *conn) prelogin(m message) error {
	cfg := &c.srv.cfg
	pre, err := decodePrelogin(m.data)
	if err != nil {
		return err
	}
	p := c.srv.faults.evaluate(event{stage: stagePrelogin})
	if done, err := c.earlyFault(p, "prelogin", "", minPacketSize); done {
		return err
	}
	reply, mode, refuse := c.negotiate(pre)
	if c.tlsMode == TLSStrict {
		// "In TDS 8.0, because the TLS session is already established, the
		// encryption value that is sent by the client is ignored."
		reply, mode, refuse = encryptOn, TLSStrict, nil
	}
	if err := c.writeMessage(encodePreloginReply(reply, cfg.Version), minPacketSize); err != nil {
		return err
	}
	if refuse != nil {
		return refuse
	}
	if mode == TLSLoginOnly || mode == TLSFull {
		if err := c.startTLS(mode); err != nil {
			return err
		}
	}
	c.tlsMode = mode
	return nil
}

// login7 decodes LOGIN7, negotiates the version and answers the login.
func (c *conn) login7(m message) error {
	cfg := &c.srv.cfg
	strict := c.tlsMode == TLSStrict
	l, err := decodeLogin7(m.data, strict)
	if err != nil {
		return err
	}
	if !strict {
		if c.ver, err = negotiateVersion(l.tdsVersion); err != nil {
			return err
		}
	}
	db := l.database
	if db == "" {
		db = cfg.DefaultDatabase
	}
	size := clampPacketSize(l.packetSize)
	c.pw.setSize(size)
	p := c.srv.faults.evaluate(event{stage: stageLogin, user: l.userName, database: db})
	if done, err := c.earlyFault(p, "login", l.userName, size); done {
		return err
	}
	if authErr := c.authenticate(l, db); authErr != nil {
		c.srv.st.loginFailures.Add(1)
		errs := loginErrors(authErr, l.userName)
		last := errs[len(errs)-1]
		c.log.Info("tdssim: login rejected", "user", l.userName, "database", db, "app", l.appName, "host", l.hostName,
			"tds", c.ver.String(), "number", last.Number, "errors", errorNumbers(errs), "reason", authErr)
		_ = c.writeMessage(loginFailure(errs, cfg.ServerName, c.ver), size)
		return fmt.Errorf("%w: %w", errLoginDone, authErr)
	}
	sess := &Session{
		SPID:       c.spid,
		User:       l.userName,
		Database:   db,
		AppName:    l.appName,
		HostName:   l.hostName,
		PacketSize: size,
		TLS:        c.tlsMode,
		TDSVersion: c.ver,
		RemoteAddr: c.nc.RemoteAddr(),
		Connected:  time.Now(),
	}
	// The session is registered before the answer goes out, so a client
	// that saw its LOGINACK finds it in Conns and Stats.
	c.sess.Store(sess)
	c.srv.st.logins.Add(1)
	if err := c.writeMessage(loginReply(db, size, cfg.ServerName, c.ver, cfg.Version), size); err != nil {
		return err
	}
	c.log.Debug("tdssim: login", "user", l.userName, "database", db, "app", l.appName, "tds", c.ver.String(),
		"tls", c.tlsMode.String(), "packet_size", size)
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

// loginErrors is the error sequence SQL Server sends for a rejected login:
// the Auth hook's *Error (or Errors), 18456 for any other error, and 18456
// after 4060: a login to a database that cannot be opened fails with
// "Cannot open database ... requested by the login. The login failed."
// followed by "Login failed for user ..." (MSSQLSERVER_4060; the driver
// reports the last error and keeps both in mssql.Error.All).
func loginErrors(authErr error, user string) []*Error {
	var e *Error
	var es Errors
	if !errors.As(authErr, &e) && !errors.As(authErr, &es) {
		return []*Error{LoginFailedError(user)}
	}
	errs := asSQLErrors(authErr)
	if errs[0].Number == 4060 && errs[len(errs)-1].Number != 18456 {
		errs = append(errs, LoginFailedError(user))
	}
	return errs
}

func errorNumbers(errs []*Error) []int32 {
	out := make([]int32, len(errs))
	for i, e := range errs {
		out[i] = e.Number
	}
	return out
}

func (c *conn) authenticate(l *login7, db string) error {
	if len(l.sspi) > 0 || (l.optionFlags2&fIntSecurity != 0 && l.userName == "") {
		return errors.New("integrated (SSPI) authentication is not supported")
	}
	if c.srv.cfg.Auth == nil {
		return nil
	}
	return c.srv.cfg.Auth(l.userName, l.password, db, l.appName)
}

// negotiate picks the PRELOGIN ENCRYPTION answer and the session's TLS mode
// from the table in MS-TDS 2.2.6.5: a server with TLS is "set to
// ENCRYPT_OFF" (it offers encryption), or with RequireEncryption "set to
// ENCRYPT_ON"; a server without TLS is "set to ENCRYPT_NOT_SUP". Where the
// table says "connection terminated", refuse is the reason and the server
// closes the connection after its answer.
func (c *conn) negotiate(pre *prelogin) (reply byte, mode TLSMode, refuse error) {
	cfg := &c.srv.cfg
	client := encryptNotSup
	if pre.hasEncryption {
		client = pre.encryption
	}
	if client&encryptClientCert != 0 {
		// Certificate-based authentication (ENCRYPT_CLIENT_CERT) is for
		// "specific extensibility scenarios" of SQL Server only.
		return encryptNotSup, TLSNone, fmt.Errorf("%w: the client asks for certificate-based authentication (ENCRYPTION %#x)", errRefused, client)
	}
	switch {
	case client != encryptOff && client != encryptOn && client != encryptNotSup && client != encryptReq:
		return encryptNotSup, TLSNone, fmt.Errorf("%w: PRELOGIN ENCRYPTION %#x is no value a client sends", errProtocol, client)
	case cfg.TLS == nil:
		if client == encryptOn || client == encryptReq {
			return encryptNotSup, TLSNone, fmt.Errorf("%w: the client requires encryption and the server has no certificate", errRefused)
		}
		return encryptNotSup, TLSNone, nil
	case client == encryptOn || client == encryptReq:
		return encryptOn, TLSFull, nil
	case cfg.RequireEncryption && client == encryptNotSup:
		return encryptReq, TLSNone, fmt.Errorf("%w: the client cannot encrypt and the server requires encryption", errRefused)
	case cfg.RequireEncryption:
		return encryptReq, TLSFull, nil
	case client == encryptOff:
		return encryptOff, TLSLoginOnly, nil
	}
	return encryptNotSup, TLSNone, nil
}

// tlsConfig is the server's TLS configuration for a handshake. Inside the
// PRELOGIN exchange of TDS 7.x it negotiates at most TLS 1.2: SQL Server
// supports TLS 1.3 only with TDS 8.0 ("SQL Server 2022 supports TLS 1.3
// when TDS 8.0 is used"; sql-docs relational-databases/security/networking/
// tls-1-3.md), and clients that wrap the handshake in PRELOGIN packets stall
// on a TLS 1.3 one (FreeTDS). TDS 8.0 offers ALPN "tds/8.0" (MS-TDS 1.9).
func (c *conn) tlsConfig(strict bool) *tls.Config {
	tc := c.srv.cfg.TLS.Clone()
	// Session tickets would trail the server's Finished inside the
	// PRELOGIN-wrapped flight and be lost when the client switches to the
	// raw socket, desynchronising the record sequence.
	tc.SessionTicketsDisabled = true
	if strict {
		tc.NextProtos = []string{"tds/8.0"}
		return tc
	}
	if tc.MaxVersion == 0 || tc.MaxVersion > tls.VersionTLS12 {
		tc.MaxVersion = tls.VersionTLS12
	}
	if tc.MinVersion > tc.MaxVersion {
		tc.MinVersion = tc.MaxVersion
	}
	return tc
}

// startTLS runs the TLS handshake wrapped in PRELOGIN packets, then
// switches the transport: everything for TLSFull, only the next packet
// (the LOGIN7) for TLSLoginOnly. MS-TDS 2.2.6.5 says the server SHOULD wrap
// its handshake payloads in PRELOGIN messages for TDS 7.2 and later and in
// table responses (0x04) before 7.2; the server cannot know the client's
// version before LOGIN7, and the clients of those versions read either
// (jTDS accepts 0x04 and 0x12, FreeTDS any type), while go-mssqldb accepts
// only PRELOGIN: PRELOGIN it is.
func (c *conn) startTLS(mode TLSMode) error {
	hc := &handshakeConn{Conn: c.raw, pr: &packetReader{r: c.raw}, pw: c.pw}
	tc := tls.Server(hc, c.tlsConfig(false))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		_ = hc.flush() // deliver the alert, if any
		return fmt.Errorf("%w: TLS handshake: %w", errRefused, err)
	}
	if err := hc.flush(); err != nil {
		return fmt.Errorf("TLS handshake flush: %w", err)
	}
	hc.passthrough = true
	c.pr.r = tc
	if mode == TLSFull {
		c.pw.setWriter(tc)
		return nil
	}
	c.pr.afterFirst = func() { c.pr.r = c.raw }
	return nil
}

// earlyFault applies a prelogin/login fault plan. It reports whether the
// connection must end.
func (c *conn) earlyFault(p plan, phase, user string, size int) (bool, error) {
	if len(p.fired) > 0 {
		c.log.Info("tdssim: fault fired", "phase", phase, "rules", p.fired)
	}
	if p.delay > 0 && !sleepCtx(c.ctx, p.delay) {
		return true, context.Cause(c.ctx)
	}
	switch p.action {
	case FaultDropBeforeResponse, FaultDropDuringLogin:
		return true, errFaultDrop
	case FaultHang:
		c.hangUntilClosed()
		return true, errFaultHang
	case FaultGarbageToken:
		_ = c.writeMessage([]byte(garbageToken), size)
		return true, errFaultDrop
	case FaultError, FaultSevereError:
		e := p.err
		if e == nil {
			if p.action == FaultSevereError {
				e = SevereErrorDefault()
			} else {
				e = LoginFailedError(user)
			}
		}
		c.srv.st.loginFailures.Add(1)
		_ = c.writeMessage(loginFailure(loginErrors(e, user), c.srv.cfg.ServerName, c.ver), size)
		return true, errLoginDone
	}
	return false, nil
}

// ---- logged-in state: reader ----

func (c *conn) readLoop() {
	defer c.srv.wg.Done()
	defer c.recoverPanic("reader")
	for {
		m, err := c.pr.readMessage()
		if err != nil {
			c.close(fmt.Errorf("tdssim: read: %w", err))
			return
		}
		if m.status&statusIgnore != 0 {
			// "If a complete request has not been sent to the server, the
			// client MUST send the next packet with both the ignore bit
			// (0x02) and EOM bit (0x01) set ... the server does not send
			// an attention acknowledgment, but instead returns a table
			// response with a single DONE token that has a status of
			// DONE_ERROR" (MS-TDS 2.2.1.7). The answer waits its turn
			// behind any request still running.
			if err := c.enqueue(&inbound{msg: m, ignored: true, req: &Request{Kind: RequestBatch}}); err != nil {
				return
			}
			continue
		}
		switch m.typ {
		case pktAttention:
			c.onAttention()
		case pktSQLBatch, pktRPC, pktTransMgr, pktBulkLoad:
			if err := c.dispatch(m); err != nil {
				c.log.Warn("tdssim: closing connection", "err", err)
				c.close(err)
				return
			}
		default:
			// "If any other message type arrives, the server MUST close
			// the connection" (MS-TDS 3.3.5.7).
			err := fmt.Errorf("%w: unexpected packet type %#x after login", errProtocol, byte(m.typ))
			c.log.Warn("tdssim: closing connection", "err", err)
			c.close(err)
			return
		}
	}
}

// onAttention handles ATTENTION (MS-TDS 3.3.5.7: "The TDS server MUST send
// an attention acknowledgment to the TDS client"). With a request
// outstanding it cancels the one executing, and the acknowledgement follows
// that request's response, as MS-TDS 4.19.2 shows it: the response ends
// (its last DONE without DONE_MORE: "There might be or might not be a DONE
// token with the DONE_MORE bit clear prior to the DONE token with the
// DONE_ATTN bit set"), then a message of its own with DONE(DONE_ATTN).
// Clients read it there: tedious waits for the acknowledgement in the
// message after the one it was reading, go-mssqldb looks in both. With
// nothing outstanding (the response was complete: the "late attention" of
// an early rows.Close()) the acknowledgement goes out at once.
func (c *conn) onAttention() {
	c.srv.st.attentions.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending > 0 {
		if c.cur != nil && c.cur.plan.ignoreAttention {
			c.log.Info("tdssim: ignoring attention (fault)")
			return
		}
		if !c.attnPending {
			c.attnPending = true
			if c.cur != nil {
				c.cur.cancel(errAttention)
			}
		}
		return
	}
	if err := c.sendAttentionAck(); err != nil {
		c.close(err)
	}
}

// sendAttentionAck writes a message holding only DONE(DONE_ATTN). Called
// with c.mu held.
func (c *conn) sendAttentionAck() error {
	c.srv.st.attnAcks.Add(1) // counted before the write so a client that saw the ack sees the count
	return c.writeMessage(appendDone(nil, c.ver, doneToken{tok: tokDone, status: doneAttn}), c.pw.packetSize())
}

// enqueue hands a request to the executor. "If another client request
// packet is received during the execution of the current client request,
// the TDS server SHOULD queue the new client request" (MS-TDS 3.3.5.7).
func (c *conn) enqueue(in *inbound) error {
	in.req.Session = c.session()
	ctx, cancel := context.WithCancelCause(c.ctx)
	in.ctx, in.cancel, in.req.ctx = ctx, cancel, ctx
	c.mu.Lock()
	c.pending++
	c.mu.Unlock()
	select {
	case c.reqCh <- in:
		return nil
	case <-c.ctx.Done():
		cancel(context.Cause(c.ctx))
		return context.Cause(c.ctx)
	}
}

// dispatch decodes a request, evaluates fault rules and queues it for the
// executor. Decoding errors become error responses, not disconnects; a
// transaction manager request of an unknown type disconnects, as MS-TDS
// 2.2.6.9 says the receiver SHOULD.
func (c *conn) dispatch(m message) error {
	sess := c.session()
	in := &inbound{msg: m}
	switch m.typ {
	case pktSQLBatch:
		sql, err := decodeSQLBatch(m.data, c.ver)
		in.req, in.decErr = &Request{Kind: RequestBatch, SQL: sql}, err
	case pktRPC:
		req, err := decodeRPC(m.data, c.ver)
		if err != nil {
			req = &Request{Kind: RequestRPC}
		}
		in.req, in.decErr = req, err
	case pktTransMgr:
		tx, err := decodeTransMgr(m.data, c.ver)
		if errors.Is(err, errUnknownTxRequest) {
			return fmt.Errorf("%w: %w", errProtocol, err)
		}
		in.req, in.tx, in.decErr = &Request{Kind: RequestTransaction}, tx, err
		if tx != nil {
			in.req.SQL = tx.sql()
		}
	default:
		in.req, in.decErr = &Request{Kind: RequestBatch}, errors.New("bulk load is not supported")
	}
	if in.decErr == nil {
		in.plan = c.srv.faults.evaluate(event{stage: stageRequest, sql: in.req.SQL, proc: in.req.Proc, user: sess.User, database: sess.CurrentDatabase()})
	}
	return c.enqueue(in)
}

// ---- logged-in state: executor ----

// response streams one reply message.
type response struct {
	c         *conn
	in        *inbound
	mw        *msgWriter
	rpc       bool
	rowDelay  time.Duration
	dropAfter int // rows before FaultDropAfterRows closes; -1: off
	rowsSent  int
	finished  bool
}

// begin makes in the executing request; an ATTENTION that came while it
// waited in the queue cancels it at once.
func (c *conn) begin(in *inbound) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = in
	if c.attnPending {
		if in.plan.ignoreAttention {
			c.attnPending = false
			c.log.Info("tdssim: ignoring attention (fault)")
			return
		}
		in.cancel(errAttention)
	}
}

func (c *conn) execute(in *inbound) {
	defer in.cancel(nil)
	c.begin(in)
	r := &response{
		c:         c,
		in:        in,
		mw:        newMsgWriter(c.pw, pktReply, c.pw.packetSize()),
		rpc:       in.req.Kind == RequestRPC,
		rowDelay:  in.plan.rowDelay,
		dropAfter: -1,
	}
	if in.ignored {
		c.log.Debug("tdssim: request abandoned by the client (IGNORE bit)", "type", fmt.Sprintf("%#x", byte(in.msg.typ)))
		r.end(&doneToken{tok: tokDone, status: doneError})
		return
	}
	sess := c.session()
	c.srv.st.request(sess.CurrentDatabase())
	if in.msg.status&(statusResetConn|statusResetConnSkipTran) != 0 {
		sess.resets.Add(1)
		if in.msg.status&statusResetConn != 0 {
			// "the server MUST reset the connection state to the state at login"
			// (MS-TDS 2.2.3.1.2): the database, the SET options, the transaction.
			c.endTransaction()
			sess.reset()
		}
	}
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("tdssim: request", "kind", in.req.Kind.String(), "sql", truncate(in.req.SQL, 200), "proc", in.req.Proc, "params", len(in.req.Params))
	}
	p := in.plan
	if len(p.fired) > 0 {
		c.log.Info("tdssim: fault fired", "phase", "request", "rules", p.fired, "sql", truncate(in.req.SQL, 200), "proc", in.req.Proc)
	}
	if p.action == FaultDropAfterRows {
		r.dropAfter = p.rows
	}
	if p.delay > 0 && !sleepCtx(in.ctx, p.delay) {
		r.end(nil)
		return
	}
	switch p.action {
	case FaultDropBeforeResponse:
		c.close(errFaultDrop)
		return
	case FaultHang:
		<-in.ctx.Done()
		r.end(nil)
		return
	case FaultGarbageToken:
		r.mw.buf = append(r.mw.buf, garbageToken...)
		r.end(nil)
		return
	case FaultError:
		e := p.err
		if e == nil {
			e = &Error{Number: 50000, State: 1, Class: 16, Message: "tdssim: injected error"}
		}
		r.fail([]*Error{e}, false)
		return
	case FaultSevereError:
		e := p.err
		if e == nil {
			e = SevereErrorDefault()
		}
		r.fail([]*Error{e}, true)
		return
	}
	if in.decErr != nil {
		c.log.Warn("tdssim: malformed request", "kind", in.req.Kind.String(), "err", in.decErr)
		r.fail([]*Error{malformedError(in.decErr)}, false)
		return
	}
	if in.tx != nil {
		c.transaction(r, in.tx)
		return
	}
	if in.req.Kind == RequestBatch {
		c.runBatch(r, in.req)
		return
	}
	res, err := c.serveHandler(c.srv.handler, in.req)
	c.reply(r, in.req, res, err)
}

// malformedError is the answer to a request that does not decode: 4009 for
// a broken ALL_HEADERS block, 4002 for a request cut short, 8016 otherwise
// (sql-docs, database engine events and errors 4000 to 4999 and 8000 to
// 8999; MS-TDS does not say which error a server sends).
func malformedError(err error) *Error {
	switch {
	case errors.Is(err, errHeaders):
		return &Error{Number: 4009, State: 1, Class: 16, Message: "The incoming tabular data stream (TDS) protocol stream is incorrect. The TDS headers contained errors."}
	case errors.Is(err, errShort):
		return &Error{Number: 4002, State: 1, Class: 16, Message: "The incoming tabular data stream (TDS) protocol stream is incorrect. The stream ended unexpectedly."}
	}
	return &Error{Number: 8016, State: 1, Class: 16, Message: "The incoming tabular data stream (TDS) protocol stream is incorrect: " + err.Error()}
}

// logFailure tells -v what went wrong with a request the handler refused:
// a refusal marked Unsupported (no route matched) is a statement the
// simulator does not support.
func (c *conn) logFailure(req *Request, errs []*Error) {
	last := errs[len(errs)-1]
	msg := "tdssim: request failed"
	if last.Unsupported {
		msg = "tdssim: unsupported statement"
	}
	c.log.Info(msg, "number", last.Number, "errors", errorNumbers(errs), "message", truncate(last.Message, 200),
		"sql", truncate(req.SQL, 500), "proc", req.Proc)
}

func maxClass(errs []*Error) uint8 {
	var m uint8
	for _, e := range errs {
		m = max(m, e.Class)
	}
	return m
}

// serveHandler asks a handler; a panic is a SQL error, not a crash.
func (c *conn) serveHandler(h Handler, req *Request) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.st.handlerPanics.Add(1)
			c.log.Error("tdssim: handler panic", "panic", p, "stack", string(debug.Stack()))
			res, err = nil, &Error{Number: 50000, State: 1, Class: 16, Message: fmt.Sprintf("tdssim: handler panic: %v", p)}
		}
	}()
	return h.ServeTDS(req)
}

// endTransaction forgets the open transaction, if any.
func (c *conn) endTransaction() {
	c.tranCount, c.tranName, c.savepoints = 0, "", nil
	if s := c.session(); s != nil {
		s.tranID.Store(0)
		s.setTranCount(0)
	}
}

// The transaction semantics of SQL Server, shared by Transaction Manager
// requests (MS-TDS 2.2.6.9) and the T-SQL statements of a batch: BEGIN
// starts a transaction or only increments @@TRANCOUNT, COMMIT decrements it
// and commits at zero, ROLLBACK rolls back everything (or to a savepoint
// named), SAVE sets a savepoint. ENVCHANGE 8, 9 and 10 carry the
// descriptor ("Types 8 to 19 were introduced in TDS 7.2": none before), and
// "For operations that change only the value of @@trancount, no ENVCHANGE
// stream is generated" (MS-TDS 2.2.7.9).

// tranBegin begins a transaction.
func (c *conn) tranBegin(r *response, name string) {
	sess := c.session()
	if c.tranCount > 0 {
		c.tranCount++
		sess.setTranCount(c.tranCount)
		return
	}
	c.tranSeq++
	id := uint64(c.spid)<<32 | c.tranSeq
	sess.tranID.Store(id)
	c.tranCount, c.tranName, c.savepoints = 1, name, nil
	sess.setTranCount(1)
	if c.ver.atLeast(TDS72) {
		r.mw.buf = appendEnvChangeBytes(r.mw.buf, envBeginTran, binary.LittleEndian.AppendUint64(nil, id), nil)
	}
}

// tranEnd ends the transaction with ENVCHANGE typ (commit or rollback).
func (c *conn) tranEnd(r *response, typ byte) {
	id := c.session().tranID.Load()
	c.endTransaction()
	if c.ver.atLeast(TDS72) {
		r.mw.buf = appendEnvChangeBytes(r.mw.buf, typ, nil, binary.LittleEndian.AppendUint64(nil, id))
	}
}

// tranCommit commits (a COMMIT's transaction name is ignored, as T-SQL's
// is).
func (c *conn) tranCommit(r *response) *Error {
	if c.tranCount == 0 {
		return &Error{Number: 3902, State: 1, Class: 16, Message: "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."}
	}
	c.tranCount--
	c.session().setTranCount(c.tranCount)
	if c.tranCount == 0 {
		c.tranEnd(r, envCommitTran)
	}
	return nil
}

// tranRollback rolls back the transaction, or to the savepoint name.
func (c *conn) tranRollback(r *response, name string) *Error {
	if c.tranCount == 0 {
		return &Error{Number: 3903, State: 1, Class: 16, Message: "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."}
	}
	if name != "" && name != c.tranName {
		// "If XACT_NAME specifies a savepoint name, the rollback only
		// goes back until the specified savepoint". Names are
		// case-sensitive. The most recent savepoint of that name is the
		// one, and it is gone afterwards, with every later one.
		i := -1
		for j, s := range slices.Backward(c.savepoints) {
			if s == name {
				i = j
				break
			}
		}
		if i < 0 {
			return &Error{Number: 6401, State: 1, Class: 16, Message: fmt.Sprintf("Cannot roll back %s. No transaction or savepoint of that name was found.", name)}
		}
		c.savepoints = c.savepoints[:i]
		return nil
	}
	c.tranEnd(r, envRollbackTran)
	return nil
}

// tranSave sets a savepoint.
func (c *conn) tranSave(name string) *Error {
	if c.tranCount == 0 {
		return &Error{Number: 628, State: 1, Class: 16, Message: "Cannot issue SAVE TRANSACTION when there is no active transaction."}
	}
	c.savepoints = append(c.savepoints, name)
	return nil
}

// transaction answers a Transaction Manager request (MS-TDS 2.2.6.9).
func (c *conn) transaction(r *response, tx *txRequest) {
	fail := func(e *Error) {
		c.logFailure(r.in.req, []*Error{e})
		r.fail([]*Error{e}, false)
	}
	switch tx.op {
	case txBegin:
		c.tranBegin(r, tx.name)
	case txCommit:
		if e := c.tranCommit(r); e != nil {
			fail(e)
			return
		}
		if tx.beginNew {
			c.tranBegin(r, tx.beginName)
		}
	case txRollback:
		savepoint := tx.name != "" && tx.name != c.tranName
		if e := c.tranRollback(r, tx.name); e != nil {
			fail(e)
			return
		}
		// A begin that comes with a rollback to a savepoint "is ignored".
		if tx.beginNew && !savepoint {
			c.tranBegin(r, tx.beginName)
		}
	case txSave:
		if tx.name == "" {
			// "A nonempty name MUST be specified as part of this request.
			// Otherwise, an error is raised."
			if c.tranCount == 0 {
				fail(&Error{Number: 628, State: 1, Class: 16, Message: "Cannot issue SAVE TRANSACTION when there is no active transaction."})
				return
			}
			r.fail([]*Error{malformedError(errors.New("TM_SAVE_XACT without a savepoint name"))}, false)
			return
		}
		if e := c.tranSave(tx.name); e != nil {
			fail(e)
			return
		}
	default: // TM_GET_DTC_ADDRESS, TM_PROPAGATE_XACT, TM_PROMOTE_XACT
		fail(&Error{Number: 8501, State: 1, Class: 16, Message: fmt.Sprintf("MSDTC on server '%s' is unavailable.", c.srv.cfg.ServerName)})
		return
	}
	r.end(&doneToken{tok: tokDone})
}

// result writes a handler's Result as the whole response.
func (r *response) result(res *Result) {
	d, _, err := r.writeStatement(res, r.rpc, r.c.session().NoCount())
	if err != nil {
		switch {
		case errors.Is(err, errCancelled):
			r.end(nil)
		case errors.Is(err, errDropped):
		default:
			errs := asSQLErrors(err)
			r.c.logFailure(r.in.req, errs)
			r.fail(errs, maxClass(errs) >= 20)
		}
		return
	}
	r.end(&d)
}

// writeStatement writes one statement's answer: its messages, then its result sets, each but the
// last closed by a DONE with DONE_MORE, and returns the DONE that closes the statement (without
// DONE_MORE) and its row count. proc writes it as a procedure's answer: DONEINPROC after each
// result set, RETURNSTATUS, then DONEPROC. nocount (SET NOCOUNT ON) leaves DONE_COUNT off.
// errCancelled means ATTENTION or close; errDropped means the connection is gone.
func (r *response) writeStatement(res *Result, proc, nocount bool) (doneToken, int64, error) {
	if res == nil {
		res = NoCount()
	}
	v := r.c.ver
	server := r.c.srv.cfg.ServerName
	for _, m := range res.Messages {
		r.mw.buf = appendMessage(r.mw.buf, v, tokInfo, m.Number, m.State, m.Class, m.Text, server, "", 1)
	}
	count := doneCount
	if nocount {
		count = 0
	}
	inner := tokDone
	if proc {
		inner = tokDoneInProc
	}
	var rows int64
	hasSets := len(res.Sets) > 0
	if hasSets && res.RowsAffected > 0 {
		r.mw.buf = appendDone(r.mw.buf, v, doneToken{tok: inner, status: count | doneMore, curCmd: cmdUpdate, count: uint64(res.RowsAffected)})
	}
	var last *doneToken
	for i := range res.Sets {
		n, err := r.writeSet(&res.Sets[i])
		if err != nil {
			return doneToken{}, 0, err
		}
		rows = int64(n)
		d := doneToken{tok: inner, status: count, curCmd: cmdSelect, count: n}
		if !proc && i == len(res.Sets)-1 {
			last = &d
			break
		}
		d.status |= doneMore
		r.mw.buf = appendDone(r.mw.buf, v, d)
	}
	if !hasSets && res.RowsAffected >= 0 {
		rows = res.RowsAffected
		d := doneToken{tok: inner, status: count, curCmd: cmdUpdate, count: uint64(res.RowsAffected)}
		if proc {
			d.status |= doneMore
			r.mw.buf = appendDone(r.mw.buf, v, d)
		} else {
			last = &d
		}
	}
	if proc {
		var rs int32
		if res.ReturnStatus != nil {
			rs = *res.ReturnStatus
		}
		r.mw.buf = appendReturnStatus(r.mw.buf, rs)
		return doneToken{tok: tokDoneProc, curCmd: cmdExecute}, rows, nil
	}
	if res.ReturnStatus != nil {
		r.mw.buf = appendReturnStatus(r.mw.buf, *res.ReturnStatus)
	}
	if last == nil {
		return doneToken{tok: tokDone}, rows, nil
	}
	return *last, rows, nil
}

// writeSet writes COLMETADATA and the rows of one result set and returns
// the row count. Columns of types the session's TDS version predates are
// sent as their down-level types (downlevelColumns). errCancelled means
// ATTENTION or close; errDropped means the connection is gone.
func (r *response) writeSet(set *ResultSet) (uint64, error) {
	cols := set.Columns
	wire := downlevelColumns(cols, r.c.ver)
	adapted := wire != nil
	if !adapted {
		wire = cols
	}
	b, err := appendColMetadata(r.mw.buf, wire, r.c.ver)
	if err != nil {
		return 0, err
	}
	r.mw.buf = b
	var n uint64
	var conv Row
	emit := func(row Row) error {
		if r.in.ctx.Err() != nil {
			return errCancelled
		}
		if r.rowDelay > 0 {
			if err := r.mw.flushAll(); err != nil {
				r.c.close(err)
				return errDropped
			}
			if !sleepCtx(r.in.ctx, r.rowDelay) {
				return errCancelled
			}
		}
		if r.dropAfter >= 0 && r.rowsSent >= r.dropAfter {
			r.drop()
			return errDropped
		}
		if adapted && len(row) == len(cols) {
			conv = append(conv[:0], row...)
			for i := range conv {
				conv[i] = downlevelValue(&cols[i], conv[i])
			}
			row = conv
		}
		b, err := appendRow(r.mw.buf, wire, row)
		if err != nil {
			return err
		}
		r.mw.buf = b
		n++
		r.rowsSent++
		if set.FlushEachRow {
			err = r.mw.flushAll()
		} else {
			err = r.mw.flushFull()
		}
		if err != nil {
			r.c.close(err)
			return errDropped
		}
		return nil
	}
	if set.Iter == nil {
		for _, row := range set.Rows {
			if err := emit(row); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				r.c.srv.st.handlerPanics.Add(1)
				r.c.log.Error("tdssim: row iterator panic", "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("tdssim: row iterator panic: %v", p)
			}
		}()
		for row, ierr := range set.Iter {
			if ierr != nil {
				return ierr
			}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	}()
	return n, err
}

// drop sends what is buffered (as non-final packets) and closes the
// connection: the client sees the rows so far, then a broken stream.
func (r *response) drop() {
	r.finished = true
	_ = r.mw.flushAll()
	r.c.close(errFaultDrop)
}

// fail ends the response with the ERROR tokens + DONE(ERROR), in the order
// SQL Server sends them (the driver reports the last); severe adds
// SRVERROR and closes the connection afterwards.
func (r *response) fail(errs []*Error, severe bool) {
	for _, e := range errs {
		r.mw.buf = appendMessage(r.mw.buf, r.c.ver, tokError, e.Number, e.State, e.Class, e.Message, r.c.srv.cfg.ServerName, e.Proc, e.Line)
	}
	status := doneError
	if severe {
		status |= doneSrvError
	}
	d := doneToken{tok: tokDone, status: status}
	if r.rpc {
		d.tok, d.curCmd = tokDoneProc, cmdExecute
	}
	r.end(&d)
	if severe {
		r.c.close(errSevere)
	}
}

// end finishes the response message with its final DONE (nil when the
// request was cut short by ATTENTION, close or a fault: a bare DONE, or
// DONEPROC for an RPC, then ends it). Under c.mu, in the same critical
// section as "response finished", a pending ATTENTION is acknowledged in
// a message of its own after this one (see onAttention).
func (r *response) end(final *doneToken) {
	if r.finished {
		return
	}
	r.finished = true
	c := r.c
	if c.ctx.Err() != nil {
		return // connection closing: nothing can be delivered
	}
	if r.dropAfter >= 0 {
		r.drop() // fewer rows than DropAfterRows: drop before the final DONE
		return
	}
	if final == nil {
		final = &doneToken{tok: tokDone}
		if r.rpc {
			final.tok, final.curCmd = tokDoneProc, cmdExecute
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := *final
	f.status &^= doneMore
	r.mw.buf = appendDone(r.mw.buf, c.ver, f)
	err := r.mw.finish()
	if err == nil && c.attnPending {
		err = c.sendAttentionAck()
	}
	c.pending--
	c.cur, c.attnPending = nil, false
	if err != nil {
		c.close(err) // lock order c.mu -> srv.mu; close never takes c.mu
	}
}

// sleepCtx waits for d or until ctx is done; it reports whether the full
// duration elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
