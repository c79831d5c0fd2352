package http

import (
	"container/list"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// failureLimiter is a token bucket of failed authentications per source
// address. Only failures take tokens; a source with none left is refused
// before its key is looked up. Sources are IPv4 addresses and IPv6 /64
// networks (what one host commonly holds). At most max sources are
// tracked: when a new one would exceed that, the one whose last failure is
// oldest is forgotten (it has had the longest to refill, and a source with
// a full bucket carries nothing worth keeping).
type failureLimiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	mu    sync.Mutex
	m     map[netip.Prefix]*list.Element // of *failureBucket
	lru   list.List                      // front: most recent failure
}

type failureBucket struct {
	src    netip.Prefix
	tokens float64
	last   time.Time
}

func newFailureLimiter(perMinute float64, burst, max int) *failureLimiter {
	return &failureLimiter{rate: perMinute / 60, burst: float64(burst), max: max, m: make(map[netip.Prefix]*list.Element)}
}

// refill brings b up to now.
func (l *failureLimiter) refill(b *failureBucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
}

// allow reports whether src may try to authenticate; if not, how long until
// it may. It changes nothing.
func (l *failureLimiter) allow(src netip.Prefix, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[src]
	if !ok {
		return 0, true
	}
	b := e.Value.(*failureBucket)
	l.refill(b, now)
	if b.tokens >= 1 {
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// fail records a failed authentication of src.
func (l *failureLimiter) fail(src netip.Prefix, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[src]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		e = l.lru.PushFront(&failureBucket{src: src, tokens: l.burst, last: now})
		l.m[src] = e
		for len(l.m) > l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.m, old.Value.(*failureBucket).src)
		}
	}
	b := e.Value.(*failureBucket)
	l.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// len returns the number of sources tracked, for tests.
func (l *failureLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// sourceKey is the source an address counts against: the address itself
// for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// ClientAddr returns the address of the client that sent r, taken as
// the API takes it (see clientAddr): from X-Forwarded-For only when the
// peer is one of the trusted proxies. The zero Addr means the peer's
// address could not be read.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
}

// clientAddr returns the address of the client that sent a request: the
// peer's, unless the peer is a trusted proxy, in which case it is taken
// from X-Forwarded-For: the rightmost address that is not itself a trusted
// proxy. Each proxy appends the address it received the request from, so
// hops to the right of the first untrusted one were written by trusted
// proxies, and the ones to its left by the client, who may write anything.
// A malformed entry ends the walk at the last trusted hop. The zero Addr
// means the peer address could not be read (not a TCP connection).
func clientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap().WithZone("")
	if !isTrusted(addr, trusted) || len(xff) == 0 {
		return addr
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		next, ok := parseHop(h)
		if !ok {
			return addr
		}
		addr = next
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, optionally with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes reads a comma-separated list of CIDR prefixes
// ("10.0.0.0/8, 2001:db8::/32"); a bare address is a prefix of its full
// length. The empty string is the empty list.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("%q: an address with a zone cannot name a proxy", f)
		}
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}
