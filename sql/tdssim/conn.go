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
	"strings"
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
// reader (readLoop) reads messages, handles ATTENTION itself and hands
// requests to the executor (serve/execLoop), which runs them one at a time.
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
	tranSeq   uint64
	reqCh     chan *inbound

	// mu guards the request state shared by reader and executor: the
	// decision "acknowledge ATTENTION inside the running response or as a
	// standalone DONE(ATTN)" is made under mu together with the "request
	// finished" transition, so every attention is acknowledged once.
	mu          sync.Mutex
	inflight    bool
	attnPending bool
	ignoreAttn  bool
	cancelReq   context.CancelCauseFunc
}

// inbound is a decoded request on its way from reader to executor.
type inbound struct {
	msg    message
	req    *Request
	tx     *txRequest
	decErr error
	plan   plan
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newConn(s *Server, nc net.Conn) *conn {
	spid := uint16(s.spid.Add(1))
	raw := &bufferedConn{Conn: nc, r: bufio.NewReaderSize(nc, 8192)}
	c := &conn{
		srv:   s,
		nc:    nc,
		raw:   raw,
		pr:    &packetReader{r: raw, maxMessage: s.cfg.MaxMessageSize},
		pw:    &packetWriter{w: raw, spid: spid, size: defaultPacketSize},
		log:   s.log.With("spid", spid, "remote", nc.RemoteAddr().String()),
		spid:  spid,
		reqCh: make(chan *inbound, 1),
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
		c.log.Debug("tdssim: connection ended before login completed", "err", err)
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

func (c *conn) login() error {
	cfg := &c.srv.cfg
	_ = c.nc.SetDeadline(time.Now().Add(cfg.LoginTimeout))
	first, err := c.raw.r.Peek(1)
	if err != nil {
		return fmt.Errorf("read first byte: %w", err)
	}
	if first[0] == 0x16 { // a TLS record: TDS 8.0 (encrypt=strict)
		if cfg.TLS == nil {
			return fmt.Errorf("%w: TDS 8.0 TLS connection but no TLS configured", errProtocol)
		}
		tc := tls.Server(c.raw, c.tlsConfig("tds/8.0"))
		if err := tc.HandshakeContext(c.ctx); err != nil {
			return fmt.Errorf("TLS handshake (strict): %w", err)
		}
		c.tlsMode = TLSStrict
		c.pr.r = tc
		c.pw.setWriter(tc)
	}

	m, err := c.pr.readMessage()
	if err != nil {
		return fmt.Errorf("read PRELOGIN: %w", err)
	}
	if m.typ != pktPrelogin {
		return fmt.Errorf("%w: expected PRELOGIN, got packet type %#x", errProtocol, byte(m.typ))
	}
	pre, err := decodePrelogin(m.data)
	if err != nil {
		return err
	}
	p := c.srv.faults.evaluate(event{stage: stagePrelogin})
	if done, err := c.earlyFault(p, "prelogin", "", minPacketSize); done {
		return err
	}
	reply, mode := c.negotiate(pre)
	if c.tlsMode == TLSStrict {
		reply, mode = encryptOn, TLSStrict
	}
	if err := c.writeMessage(encodePreloginReply(reply, cfg.Version), minPacketSize); err != nil {
		return err
	}
	if mode == TLSLoginOnly || mode == TLSFull {
		if err := c.startTLS(mode); err != nil {
			return err
		}
	}
	c.tlsMode = mode

	m, err = c.pr.readMessage()
	if err != nil {
		return fmt.Errorf("read LOGIN7: %w", err)
	}
	if m.typ != pktLogin7 {
		return fmt.Errorf("%w: expected LOGIN7, got packet type %#x", errProtocol, byte(m.typ))
	}
	l, err := decodeLogin7(m.data)
	if err != nil {
		return err
	}
	db := l.database
	if db == "" {
		db = cfg.DefaultDatabase
	}
	size := clampPacketSize(l.packetSize)
	c.pw.setSize(size)
	p = c.srv.faults.evaluate(event{stage: stageLogin, user: l.userName, database: db})
	if done, err := c.earlyFault(p, "login", l.userName, size); done {
		return err
	}
	if authErr := c.authenticate(l, db); authErr != nil {
		c.srv.st.loginFailures.Add(1)
		e := asSQLError(authErr)
		var se *Error
		if !errors.As(authErr, &se) {
			e = LoginFailedError(l.userName)
		}
		c.log.Info("tdssim: login rejected", "user", l.userName, "database", db, "app", l.appName, "number", e.Number, "reason", authErr)
		_ = c.writeMessage(loginFailure(e, cfg.ServerName), size)
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
		RemoteAddr: c.nc.RemoteAddr(),
		Connected:  time.Now(),
	}
	if err := c.writeMessage(loginReply(db, size, cfg.ServerName, cfg.Version), size); err != nil {
		return err
	}
	c.sess.Store(sess)
	c.srv.st.logins.Add(1)
	c.log.Info("tdssim: login", "user", l.userName, "database", db, "app", l.appName, "tls", c.tlsMode.String(), "packet_size", size)
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

func (c *conn) authenticate(l *login7, db string) error {
	if len(l.sspi) > 0 && l.userName == "" {
		return errors.New("integrated (SSPI) authentication is not supported")
	}
	if c.srv.cfg.Auth == nil {
		return nil
	}
	return c.srv.cfg.Auth(l.userName, l.password, db, l.appName)
}

// negotiate picks the PRELOGIN ENCRYPTION answer and the session's TLS mode.
func (c *conn) negotiate(pre *prelogin) (byte, TLSMode) {
	cfg := &c.srv.cfg
	if cfg.TLS == nil {
		return encryptNotSup, TLSNone
	}
	client := encryptNotSup
	if pre.hasEncryption {
		client = pre.encryption
	}
	switch client {
	case encryptOff:
		if cfg.RequireEncryption {
			return encryptReq, TLSFull
		}
		return encryptOff, TLSLoginOnly
	case encryptOn, encryptReq:
		return encryptOn, TLSFull
	default:
		if cfg.RequireEncryption {
			return encryptReq, TLSFull
		}
		return encryptNotSup, TLSNone
	}
}

func (c *conn) tlsConfig(alpn string) *tls.Config {
	tc := c.srv.cfg.TLS.Clone()
	// Session tickets would trail the server's Finished inside the
	// PRELOGIN-wrapped flight and be lost when the client switches to the
	// raw socket, desynchronising the record sequence.
	tc.SessionTicketsDisabled = true
	if alpn != "" {
		tc.NextProtos = []string{alpn}
	}
	return tc
}

// startTLS runs the TLS handshake wrapped in PRELOGIN packets, then
// switches the transport: everything for TLSFull, only the next packet
// (the LOGIN7) for TLSLoginOnly.
func (c *conn) startTLS(mode TLSMode) error {
	hc := &handshakeConn{Conn: c.raw, pr: &packetReader{r: c.raw}, pw: c.pw}
	tc := tls.Server(hc, c.tlsConfig(""))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		_ = hc.flush() // deliver the alert, if any
		return fmt.Errorf("TLS handshake: %w", err)
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
		_ = c.writeMessage(loginFailure(e, c.srv.cfg.ServerName), size)
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
			continue // the client abandoned this message
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
			err := fmt.Errorf("%w: unexpected packet type %#x after login", errProtocol, byte(m.typ))
			c.log.Warn("tdssim: closing connection", "err", err)
			c.close(err)
			return
		}
	}
}

// onAttention acknowledges exactly once: inside the running response (the
// executor appends DONE(ATTN) when it finishes) or, when no request is in
// flight (the response was already complete: the "late attention" of an
// early rows.Close()), as a standalone DONE(ATTN) message.
func (c *conn) onAttention() {
	c.srv.st.attentions.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight {
		if c.ignoreAttn {
			c.log.Info("tdssim: ignoring attention (fault)")
			return
		}
		if !c.attnPending {
			c.attnPending = true
			c.cancelReq(errAttention)
		}
		return
	}
	c.srv.st.attnAcks.Add(1) // counted before the write so a client that saw the ack sees the count
	b := appendDone(nil, doneToken{tok: tokDone, status: doneAttn})
	if err := c.writeMessage(b, c.pw.packetSize()); err != nil {
		c.close(err)
	}
}

// dispatch decodes a request, evaluates fault rules and hands it to the
// executor. Decoding errors become error responses, not disconnects.
func (c *conn) dispatch(m message) error {
	sess := c.session()
	in := &inbound{msg: m}
	switch m.typ {
	case pktSQLBatch:
		sql, err := decodeSQLBatch(m.data)
		in.req, in.decErr = &Request{Kind: RequestBatch, SQL: sql}, err
	case pktRPC:
		req, err := decodeRPC(m.data)
		if err != nil {
			req = &Request{Kind: RequestRPC}
		}
		in.req, in.decErr = req, err
	case pktTransMgr:
		tx, err := decodeTransMgr(m.data)
		in.req, in.tx, in.decErr = &Request{Kind: RequestTransaction}, tx, err
		if tx != nil {
			in.req.SQL = tx.sql()
		}
	default:
		in.req, in.decErr = &Request{Kind: RequestBatch}, errors.New("bulk load is not supported")
	}
	in.req.Session = sess
	if in.decErr == nil {
		in.plan = c.srv.faults.evaluate(event{stage: stageRequest, sql: in.req.SQL, proc: in.req.Proc, user: sess.User, database: sess.Database})
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	in.ctx, in.cancel, in.req.ctx = ctx, cancel, ctx
	c.mu.Lock()
	if c.inflight {
		c.mu.Unlock()
		cancel(errProtocol)
		return fmt.Errorf("%w: request sent while another is running", errProtocol)
	}
	c.inflight, c.attnPending, c.ignoreAttn, c.cancelReq = true, false, in.plan.ignoreAttention, cancel
	c.mu.Unlock()
	select {
	case c.reqCh <- in:
		return nil
	case <-c.ctx.Done():
		cancel(context.Cause(c.ctx))
		return context.Cause(c.ctx)
	}
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

func (c *conn) execute(in *inbound) {
	defer in.cancel(nil)
	c.srv.st.requests.Add(1)
	sess := c.session()
	if in.msg.status&(statusResetConn|statusResetConnSkipTran) != 0 {
		sess.resets.Add(1)
		if in.msg.status&statusResetConn != 0 {
			sess.tranID.Store(0)
		}
	}
	r := &response{
		c:         c,
		in:        in,
		mw:        newMsgWriter(c.pw, pktReply, c.pw.packetSize()),
		rpc:       in.req.Kind == RequestRPC,
		rowDelay:  in.plan.rowDelay,
		dropAfter: -1,
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
		r.fail(e, false)
		return
	case FaultSevereError:
		e := p.err
		if e == nil {
			e = SevereErrorDefault()
		}
		r.fail(e, true)
		return
	}
	if in.decErr != nil {
		c.log.Warn("tdssim: malformed request", "err", in.decErr)
		r.fail(&Error{Number: 8016, State: 1, Class: 16, Message: "The incoming tabular data stream (TDS) protocol stream is incorrect: " + in.decErr.Error()}, false)
		return
	}
	if in.tx != nil {
		c.transaction(r, in.tx)
		return
	}
	res, err := c.callHandler(in.req)
	if in.ctx.Err() != nil {
		r.end(nil)
		return
	}
	if err != nil {
		e := asSQLError(err)
		r.fail(e, e.Class >= 20)
		return
	}
	r.result(res)
}

func (c *conn) callHandler(req *Request) (res *Result, err error) {
	if !c.srv.cfg.DisableBuiltins && req.Kind == RequestBatch {
		if r, ok := builtin(req.SQL); ok {
			return r, nil
		}
	}
	defer func() {
		if p := recover(); p != nil {
			c.srv.st.handlerPanics.Add(1)
			c.log.Error("tdssim: handler panic", "panic", p, "stack", string(debug.Stack()))
			res, err = nil, &Error{Number: 50000, State: 1, Class: 16, Message: fmt.Sprintf("tdssim: handler panic: %v", p)}
		}
	}()
	return c.srv.handler.ServeTDS(req)
}

// builtin answers "select 1" (db.Ping) and batches made only of SET
// statements.
func builtin(sql string) (*Result, bool) {
	n := NormalizeSQL(sql)
	if n == "select 1" {
		return Rows([]Column{{Type: TypeInt}}, Row{int64(1)}), true
	}
	for stmt := range strings.SplitSeq(n, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" && !strings.HasPrefix(stmt, "set ") {
			return nil, false
		}
	}
	return NoCount(), true
}

func (c *conn) transaction(r *response, tx *txRequest) {
	sess := c.session()
	begin := func() {
		c.tranSeq++
		id := uint64(c.spid)<<32 | c.tranSeq
		sess.tranID.Store(id)
		r.mw.buf = appendEnvChangeBytes(r.mw.buf, envBeginTran, binary.LittleEndian.AppendUint64(nil, id), nil)
	}
	switch tx.op {
	case txBegin:
		begin()
	case txCommit, txRollback:
		id := sess.tranID.Load()
		if id == 0 {
			if tx.op == txCommit {
				r.fail(&Error{Number: 3902, State: 1, Class: 16, Message: "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."}, false)
			} else {
				r.fail(&Error{Number: 3903, State: 1, Class: 16, Message: "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."}, false)
			}
			return
		}
		sess.tranID.Store(0)
		typ := envCommitTran
		if tx.op == txRollback {
			typ = envRollbackTran
		}
		r.mw.buf = appendEnvChangeBytes(r.mw.buf, typ, nil, binary.LittleEndian.AppendUint64(nil, id))
		if tx.beginNew {
			begin()
		}
	case txSave:
	default:
		r.fail(&Error{Number: 50000, State: 1, Class: 16, Message: fmt.Sprintf("tdssim: unsupported transaction manager request %d", tx.op)}, false)
		return
	}
	r.end(&doneToken{tok: tokDone})
}

// result writes a handler's Result.
func (r *response) result(res *Result) {
	if res == nil {
		res = NoCount()
	}
	server := r.c.srv.cfg.ServerName
	for _, m := range res.Messages {
		r.mw.buf = appendMessage(r.mw.buf, tokInfo, m.Number, m.State, m.Class, m.Text, server, "", 1)
	}
	doneTok := tokDone
	if r.rpc {
		doneTok = tokDoneInProc
	}
	hasSets := len(res.Sets) > 0
	if hasSets && res.RowsAffected > 0 {
		r.mw.buf = appendDone(r.mw.buf, doneToken{tok: doneTok, status: doneCount | doneMore, curCmd: cmdUpdate, count: uint64(res.RowsAffected)})
	}
	var final *doneToken
	for i := range res.Sets {
		n, err := r.writeSet(&res.Sets[i])
		if err != nil {
			switch {
			case errors.Is(err, errCancelled):
				r.end(nil)
			case errors.Is(err, errDropped):
			default:
				e := asSQLError(err)
				r.fail(e, e.Class >= 20)
			}
			return
		}
		d := doneToken{tok: doneTok, status: doneCount | doneMore, curCmd: cmdSelect, count: n}
		if !r.rpc && i == len(res.Sets)-1 {
			d.status &^= doneMore
			final = &d
			break
		}
		r.mw.buf = appendDone(r.mw.buf, d)
	}
	if !hasSets && res.RowsAffected >= 0 {
		d := doneToken{tok: doneTok, status: doneCount, curCmd: cmdUpdate, count: uint64(res.RowsAffected)}
		if r.rpc {
			d.status |= doneMore
			r.mw.buf = appendDone(r.mw.buf, d)
		} else {
			final = &d
		}
	}
	if r.rpc {
		var rs int32
		if res.ReturnStatus != nil {
			rs = *res.ReturnStatus
		}
		r.mw.buf = appendReturnStatus(r.mw.buf, rs)
		final = &doneToken{tok: tokDoneProc, curCmd: cmdExecute}
	} else {
		if res.ReturnStatus != nil {
			r.mw.buf = appendReturnStatus(r.mw.buf, *res.ReturnStatus)
		}
		if final == nil {
			final = &doneToken{tok: tokDone}
		}
	}
	r.end(final)
}

// writeSet writes COLMETADATA and the rows of one result set and returns
// the row count. errCancelled means ATTENTION or close; errDropped means
// the connection is gone.
func (r *response) writeSet(set *ResultSet) (uint64, error) {
	b, err := appendColMetadata(r.mw.buf, set.Columns)
	if err != nil {
		return 0, err
	}
	r.mw.buf = b
	var n uint64
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
		b, err := appendRow(r.mw.buf, set.Columns, row)
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

// fail ends the response with ERROR + DONE(ERROR); severe adds SRVERROR
// and closes the connection afterwards.
func (r *response) fail(e *Error, severe bool) {
	r.mw.buf = appendMessage(r.mw.buf, tokError, e.Number, e.State, e.Class, e.Message, r.c.srv.cfg.ServerName, e.Proc, e.Line)
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

// end finishes the message. Under c.mu it decides how a pending ATTENTION
// is acknowledged: the final DONE gets MORE and a DONE(ATTN) follows (or
// DONE(ATTN) alone when the request was cut short). The in-flight flag is
// cleared in the same critical section, so a later ATTENTION gets a
// standalone acknowledgement.
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attnPending {
		if final != nil {
			f := *final
			f.status |= doneMore
			r.mw.buf = appendDone(r.mw.buf, f)
		}
		r.mw.buf = appendDone(r.mw.buf, doneToken{tok: tokDone, status: doneAttn})
		c.srv.st.attnAcks.Add(1)
	} else if final != nil {
		r.mw.buf = appendDone(r.mw.buf, *final)
	}
	err := r.mw.finish()
	c.inflight, c.attnPending, c.ignoreAttn, c.cancelReq = false, false, false, nil
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
