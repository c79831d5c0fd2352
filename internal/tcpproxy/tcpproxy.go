// Package tcpproxy gives tests a TCP proxy in front of a server (S3,
// PostgreSQL, ...) that they can cut and restore, to see what the code
// under test does when the network to that server fails and comes back.
//
// A Proxy listens on a free port of 127.0.0.1 and forwards every connection
// to its target. Cut closes every connection in flight and refuses new ones
// (they are accepted and closed at once, so that clients fail fast rather
// than time out); Restore lets connections through again. RestoreLimited
// lets each new connection carry only so many bytes from the client, then
// closes it or stops reading from it (a server that stalls mid-request).
package tcpproxy

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// dialTimeout bounds connecting to the target.
const dialTimeout = 5 * time.Second

// Proxy is a TCP proxy to one target. It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	ctx    context.Context // ends when the proxy is closed
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cut      bool
	limit    int64 // if > 0, each new connection passes this many client bytes only
	stall    bool  // after limit bytes: stop reading rather than close
	conns    map[net.Conn]bool
	accepted int
	onAccept func()
}

// Start starts a proxy to target (host:port). It is closed when tb ends:
// its listener and every connection through it are closed, and Start's
// goroutines have returned before tb's cleanup goes on.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("tcpproxy: listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, target: target, ctx: ctx, stop: stop, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is "http://" followed by Addr: an S3 endpoint through the proxy.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted is how many connections the proxy has accepted so far, cut or
// not.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy: it closes the listener and every connection, and
// waits for its goroutines. Closing twice does nothing more.
func (p *Proxy) Close() {
	p.stop()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// Cut closes every connection through the proxy and refuses new ones: they
// are accepted and closed at once.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// OnAccept sets a function called for each new connection the proxy lets
// through, before it connects to the target; nil removes it. A test uses it
// to act at the moment the code under test connects: cut another proxy
// between two steps of a request, say. f runs on the proxy's accepting
// goroutine, without the proxy's lock held: the next connection waits for
// it to return.
func (p *Proxy) OnAccept(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onAccept = f
}

// Restore lets connections through again, without limit.
func (p *Proxy) Restore() { p.RestoreLimited(0, false) }

// RestoreLimited lets connections through again. With limit > 0, each new
// connection carries only that many bytes from the client, then is closed,
// or, if stall, stops reading (both ends stay open until Cut or Close).
func (p *Proxy) RestoreLimited(limit int64, stall bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.limit, p.stall = limit, stall
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		if p.cut || p.ctx.Err() != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		limit, stall, hook := p.limit, p.stall, p.onAccept
		p.wg.Add(1)
		p.mu.Unlock()
		if hook != nil {
			hook()
		}
		go p.pipe(c, limit, stall)
	}
}

// track registers c as in flight, unless the proxy was cut since the
// connection was accepted: then it closes c and reports false.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *Proxy) pipe(c net.Conn, limit int64, stall bool) {
	defer p.wg.Done()
	defer p.untrack(c)
	defer c.Close()
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	u, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		return
	}
	defer p.untrack(u)
	defer u.Close()
	if !p.track(u) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if limit <= 0 {
			io.Copy(u, c)
		} else if io.CopyN(u, c, limit); stall {
			return // leave both open, reading nothing more
		}
		u.Close()
		c.Close()
	}()
	io.Copy(c, u)
	// The server closed (or the proxy was cut): close both ends, which ends
	// the copy the other way.
	c.Close()
	u.Close()
	<-done
}
