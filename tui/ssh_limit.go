package tui

import (
	"net"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// connLimiter is the SSH server's listener with a token bucket per remote address: a connection
// beyond its address's bucket is closed the moment it is accepted, before the SSH handshake. The
// sessions' rate limit (wish's ratelimiter) only runs after authentication, so without this every
// handshake and every key tried would be free. An address is an IPv4 address or an IPv6 /64 (one
// host usually holds a whole /64).
type connLimiter struct {
	net.Listener
	limit rate.Limit
	burst int
	now   func() time.Time
	logf  func(format string, args ...any)
	// most bounds how many addresses are remembered; the quietest are forgotten first.
	most int

	mu    sync.Mutex
	addrs map[string]*addrBucket
}

// addrBucket is one address's bucket.
type addrBucket struct {
	lim  *rate.Limiter
	seen time.Time
	// refused counts connections refused since the last one let through (logged once per run).
	refused int
	// open counts the address's connections not closed yet.
	open int
}

// maxLimitedAddrs is how many addresses a connLimiter remembers at most.
const maxLimitedAddrs = 4096

// maxOpenPerAddr bounds one address's open connections: a slow handshake holds its connection
// until the idle timeout, so the rate alone would let an address pile them up. A whole team
// behind one NAT address stays well under it.
const maxOpenPerAddr = 32

func newConnLimiter(ln net.Listener, perSecond float64, burst int, now func() time.Time, logf func(string, ...any)) *connLimiter {
	return &connLimiter{Listener: ln, limit: rate.Limit(perSecond), burst: burst, now: now, logf: logf,
		most: maxLimitedAddrs, addrs: map[string]*addrBucket{}}
}

// Accept returns the next connection its address's bucket allows, closing the others.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// Unwrapped: the SSH server tells temporary errors by asserting net.Error.
			return nil, err
		}
		if key, ok := l.allow(c.RemoteAddr()); ok {
			return &limitedConn{Conn: c, done: func() { l.closed(key) }}, nil
		}
		_ = c.Close()
	}
}

// limitedConn gives its address's slot back when it is closed.
type limitedConn struct {
	net.Conn
	once sync.Once
	done func()
}

// Close closes the connection and frees its slot (once).
func (c *limitedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

// closed frees a slot of the address key.
func (l *connLimiter) closed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.addrs[key]; b != nil && b.open > 0 {
		b.open--
	}
}

// allow takes a token from the address's bucket and a slot of its open connections.
func (l *connLimiter) allow(addr net.Addr) (string, bool) {
	key := limitKey(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.addrs[key]
	if b == nil {
		if len(l.addrs) >= l.most {
			l.forget(now)
		}
		b = &addrBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.addrs[key] = b
	}
	b.seen = now
	if b.open < maxOpenPerAddr && b.lim.AllowN(now, 1) {
		b.refused = 0
		b.open++
		return key, true
	}
	b.refused++
	if b.refused == 1 {
		l.logf("ssh: refusing connections from %s: more than %d at once or %g a second, or %d open", key, l.burst, float64(l.limit), maxOpenPerAddr)
	}
	return key, false
}

// forget drops the addresses whose bucket is full again (they are as good as new), and when that
// is not enough, the half least recently seen. An address with connections open is never
// forgotten: its count of open connections is what caps it (and what their Close gives back).
func (l *connLimiter) forget(now time.Time) {
	for k, b := range l.addrs {
		if b.open == 0 && b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, k)
		}
	}
	if len(l.addrs) < l.most {
		return
	}
	keys := make([]string, 0, len(l.addrs))
	for k, b := range l.addrs {
		if b.open == 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return l.addrs[keys[i]].seen.Before(l.addrs[keys[j]].seen) })
	for _, k := range keys[:len(keys)/2+1] {
		delete(l.addrs, k)
	}
}

// limitKey is the address a connection is counted against: its IPv4 address, or its IPv6 /64.
func limitKey(addr net.Addr) string {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	default:
		host, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			return addr.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return host
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}
