package tui

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/clock"
)

// logLines collects what the server logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// dialFrom opens an SSH connection from a local address and completes the handshake and the
// key authentication, then hangs up.
func dialFrom(t *testing.T, from, addr string, k testKey) error {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("TCP connection from %s: %v", from, err) // refusals happen after accept, in SSH
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{User: "anyone",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(k.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		return err
	}
	return gossh.NewClient(c, chans, reqs).Close()
}

// TestSSHConnectionRateLimitAtAccept: connections beyond an address's burst are closed before
// the handshake; another address is not affected; the bucket refills with time.
func TestSSHConnectionRateLimitAtAccept(t *testing.T) {
	e := realEngine(t)
	ana := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Ana": {ana, engine.RoleOperator}})
	clk := clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	var logs logLines
	_, addr := startServerWith(t, e, team, func(o *ServerOptions) {
		o.RatePerSecond, o.Burst, o.clock, o.Logf = 1, 3, clk, logs.logf
	})
	for i := range 3 {
		if err := dialFrom(t, "127.0.0.1", addr, ana); err != nil {
			t.Fatalf("connection %d of the burst was refused: %v", i+1, err)
		}
	}
	for i := range 3 {
		err := dialFrom(t, "127.0.0.1", addr, ana)
		if err == nil {
			t.Fatalf("connection %d beyond the burst got through", i+1)
		}
		if !strings.Contains(err.Error(), "handshake failed") {
			t.Fatalf("a refused connection ends before the handshake: %v", err)
		}
	}
	if n := logs.count("ssh: refusing connections from 127.0.0.1"); n != 1 {
		t.Fatalf("a run of refusals is logged once, got %d: %q", n, logs.lines)
	}
	// Another address has its own bucket (Linux routes all of 127/8 to the loopback).
	if runtime.GOOS == "linux" {
		if err := dialFrom(t, "127.0.0.2", addr, ana); err != nil {
			t.Fatalf("another address was refused: %v", err)
		}
	}
	// One second refills one token: one more connection, then refused again.
	clk.Advance(time.Second)
	if err := dialFrom(t, "127.0.0.1", addr, ana); err != nil {
		t.Fatalf("the bucket did not refill: %v", err)
	}
	if err := dialFrom(t, "127.0.0.1", addr, ana); err == nil {
		t.Fatal("one second is one connection")
	}
	if n := logs.count("ssh: refusing connections from 127.0.0.1"); n != 2 {
		t.Fatalf("the next run of refusals is logged again, got %d", n)
	}
}

// tcpAddr is a client's TCP address for the limiter.
func tcpAddr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func TestConnLimiterAddressesAndMemory(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"10.0.0.5", "10.0.0.5", true},
		{"10.0.0.5", "10.0.0.6", false},
		{"::ffff:10.0.0.5", "10.0.0.5", true},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff::9", true}, // one /64: one host
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
	} {
		if same := limitKey(tcpAddr(c.a)) == limitKey(tcpAddr(c.b)); same != c.same {
			t.Errorf("%s and %s: same bucket %v, want %v (%s, %s)", c.a, c.b, same, c.same, limitKey(tcpAddr(c.a)), limitKey(tcpAddr(c.b)))
		}
	}

	clk := clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	l := newConnLimiter(nil, 1, 2, clk.Now, func(string, ...any) {})
	l.most = 4
	// Connections that come and go at once (their slot is freed).
	take := func(a net.Addr) bool {
		key, ok := l.allow(a)
		if ok {
			l.closed(key)
		}
		return ok
	}
	// A busy address is remembered while quiet ones (full buckets) are forgotten first.
	busy := tcpAddr("10.0.0.1")
	if first, second, third := take(busy), take(busy), take(busy); !first || !second || third {
		t.Fatalf("burst 2: %v %v %v", first, second, third)
	}
	for _, ip := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		take(tcpAddr(ip))
	}
	clk.Advance(time.Second) // the quiet ones are full again; the busy one has one token
	take(tcpAddr("10.0.0.5"))
	if len(l.addrs) != 2 {
		t.Fatalf("the full buckets are forgotten: %d addresses left", len(l.addrs))
	}
	if !take(busy) || take(busy) {
		t.Fatal("the busy address kept its state: one token after one second")
	}
	// However many addresses come, the memory stays bounded.
	for i := range 1000 {
		take(tcpAddr(fmt.Sprintf("10.1.%d.%d", i/250, i%250)))
		if len(l.addrs) > l.most {
			t.Fatalf("%d addresses remembered, at most %d", len(l.addrs), l.most)
		}
	}
}

// TestConnLimiterBoundsOpenConnections: one address may hold at most maxOpenPerAddr connections
// at once, however slowly it opens them; closing one lets the next in.
func TestConnLimiterBoundsOpenConnections(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	l := newConnLimiter(nil, 1000, 1000, clk.Now, func(string, ...any) {})
	a := tcpAddr("10.0.0.9")
	var key string
	for i := range maxOpenPerAddr {
		var ok bool
		if key, ok = l.allow(a); !ok {
			t.Fatalf("connection %d refused", i+1)
		}
	}
	if _, ok := l.allow(a); ok {
		t.Fatalf("connection %d let in", maxOpenPerAddr+1)
	}
	if _, ok := l.allow(tcpAddr("10.0.0.10")); !ok {
		t.Fatal("another address is not affected")
	}
	c := &limitedConn{Conn: nopConn{}, done: func() { l.closed(key) }}
	c.Close()
	c.Close() // twice frees one slot
	if _, ok := l.allow(a); !ok {
		t.Fatal("a closed connection frees its slot")
	}
	if _, ok := l.allow(a); ok {
		t.Fatal("closing twice freed two slots")
	}

	// Many new addresses make the limiter forget old ones, but never one with connections
	// open: it stays capped (otherwise, coming back, it would start from zero open).
	l.most = 4
	for i := range 100 {
		if key, ok := l.allow(tcpAddr(fmt.Sprintf("10.2.0.%d", i))); ok {
			l.closed(key) // its bucket is not full again yet: only age can make it forgotten
		}
	}
	if _, ok := l.allow(a); ok {
		t.Fatal("an address holding its maximum of connections was forgotten and let in again")
	}
}

// nopConn is a connection that does nothing.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// TestSSHIdleTimeoutCountsKeyPresses: a session is closed, with a message, after the idle timeout
// without a key press, even though the cockpit writes to it all the time; it is warned first, a
// key press starts the count again, and the presence list's idle time is the same count.
func TestSSHIdleTimeoutCountsKeyPresses(t *testing.T) {
	e := realEngine(t)
	ana, ben := newTestKey(t), newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Ana": {ana, engine.RoleViewer}, "Ben": {ben, engine.RoleOperator}})
	clk := clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	srv, addr := startServerWith(t, e, team, func(o *ServerOptions) {
		o.IdleTimeout, o.clock = 10*time.Minute, clk
	})
	_, leaveLocal := srv.JoinLocal(engine.LocalOperator("local", "tty1"))
	defer leaveLocal()
	pa := openPty(t, addr, ana, 120, 40)
	pb := openPty(t, addr, ben, 120, 40)
	pa.waitOutput(t, "flow test")
	pb.waitOutput(t, "flow test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// advance moves the clock once the idle watch waits for its next look.
	advance := func(d time.Duration) {
		t.Helper()
		if err := clk.WaitForTimers(ctx, 1); err != nil {
			t.Fatalf("the idle watch is not waiting: %v", err)
		}
		clk.Advance(d)
	}
	// key presses a key in a session and waits until the cockpit has drawn its effect.
	key := func(p *ptySession, k, effect string) {
		t.Helper()
		m := p.mark()
		fmt.Fprint(p.in, k)
		p.waitOutputSince(t, m, effect)
	}
	idleOf := func(name string) (time.Duration, bool) {
		for _, w := range srv.Presence() {
			if w.Actor.Name == name {
				return w.Idle, true
			}
		}
		return 0, false
	}

	advance(6 * time.Minute)
	key(pb, "4", "4 Logs · ") // Ben at 6m: the logs
	if idle, _ := idleOf("Ben"); idle != 0 {
		t.Fatalf("Ben just pressed a key: idle %s", idle)
	}
	markA, markB := pa.mark(), pb.mark()
	advance(3*time.Minute + 30*time.Second) // 9m30s: Ana within a minute of the timeout
	pa.waitOutputSince(t, markA, "no key pressed for 9m30s: this session closes in 30s")
	if idle, _ := idleOf("Ana"); idle != 9*time.Minute+30*time.Second {
		t.Fatalf("the presence list counts the same idle time: %s", idle)
	}
	advance(30 * time.Second) // 10m: Ana's timeout, Ben idle for 4m
	pa.waitOutputSince(t, markA, "cutover: session closed after 10m without a key press (idle timeout)")
	select {
	case <-pa.ended:
	case <-ctx.Done():
		t.Fatal("Ana's session stays open after the idle timeout")
	}
	if _, ok := idleOf("Ana"); ok {
		t.Fatal("a closed session leaves the presence list")
	}
	if idle, ok := idleOf("Ben"); !ok || idle != 4*time.Minute {
		t.Fatalf("Ben typed 4m ago: still here (%v), idle %s", ok, idle)
	}
	if strings.Contains(pb.output()[markB:], "press any key to stay") {
		t.Fatal("Ben was warned too early")
	}

	// Ben is warned at 9m idle, presses a key, and stays past his first deadline.
	advance(5 * time.Minute) // 15m: Ben idle 9m
	pb.waitOutputSince(t, markB, "press any key to stay")
	key(pb, "1", "Stop the AOS") // back to the runbook
	advance(2 * time.Minute)     // 17m: past 16m, Ben's deadline without that key
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err) // the watch looked at 17m and waits again
	}
	if idle, ok := idleOf("Ben"); !ok || idle != 2*time.Minute || closedFor(srv, "Ben") {
		t.Fatalf("a key press keeps the session: present %v, idle %s, closed %v", ok, idle, closedFor(srv, "Ben"))
	}
	// The cockpit on the jump box itself is never closed for idleness.
	if _, ok := idleOf("local"); !ok {
		t.Fatal("the local cockpit was dropped")
	}
}

// closedFor reports whether the idle watch closed a person's session.
func closedFor(srv *Server, name string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, p := range srv.sessions {
		if p.actor.Name == name {
			return p.closed.Load()
		}
	}
	return false
}
