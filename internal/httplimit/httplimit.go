// Package httplimit bounds what clients can make an HTTP server hold: the
// number of connections open at once (Listener) and the bytes of request
// bodies in flight (BodyBudget). Time is bounded by http.Server's own
// timeouts, which esm serve sets from its flags.
package httplimit

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Listener wraps a net.Listener so that at most a fixed number of the
// connections it accepted are open at once; Accept waits for one to close
// before it takes the next (the kernel's backlog holds the waiting ones).
type Listener struct {
	net.Listener
	slots     chan struct{}
	open      atomic.Int64
	done      chan struct{}
	closeOnce sync.Once
}

// LimitListener returns a Listener that keeps at most n of ln's
// connections open at once; n must be positive.
func LimitListener(ln net.Listener, n int) *Listener {
	return &Listener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then accepts a connection that gives the
// slot back when it is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.open.Add(1)
	return &limitedConn{Conn: c, release: func() { l.open.Add(-1); <-l.slots }}, nil
}

// Close closes the listener; an Accept waiting for a slot returns.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open returns how many accepted connections are open.
func (l *Listener) Open() int { return int(l.open.Load()) }

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// BodyBudget is a byte budget shared by the request bodies in flight: a
// request reserves what its body may take before the handler reads it and
// gives it back when the handler returns, so that slow senders of large
// bodies cannot together make the server hold more than the budget.
type BodyBudget struct {
	mu      sync.Mutex
	size    int64 // the budget
	used    int64
	changed chan struct{} // closed and replaced whenever bytes are given back
	wait    time.Duration
}

// NewBodyBudget returns a budget of size bytes. A request that finds the
// budget spent waits up to wait for bytes to be given back, then is
// answered 503.
func NewBodyBudget(size int64, wait time.Duration) *BodyBudget {
	return &BodyBudget{size: size, wait: wait, changed: make(chan struct{})}
}

// InUse returns the bytes reserved by the requests in flight.
func (b *BodyBudget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Middleware returns a middleware that reserves the body of each request
// from the budget: its Content-Length, at most maxBody, or maxBody when
// the length is unknown (chunked). maxBody is the most the handler reads;
// it answers bodies announced as larger without reading them. A request
// without a body reserves nothing. When the budget stays spent for the
// wait, the request is answered 503 Service Unavailable with Retry-After,
// and its connection is closed.
func (b *BodyBudget) Middleware(maxBody int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := reservation(r, maxBody)
			if n == 0 {
				next.ServeHTTP(w, r)
				return
			}
			if !b.acquire(r, n) {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Connection", "close")
				http.Error(w, "too many request bodies in flight; retry later", http.StatusServiceUnavailable)
				return
			}
			defer b.release(n)
			next.ServeHTTP(w, r)
		})
	}
}

// reservation is what r's body may take of the budget.
func reservation(r *http.Request, maxBody int64) int64 {
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		return 0
	case r.ContentLength < 0 || r.ContentLength > maxBody:
		return maxBody
	default:
		return r.ContentLength
	}
}

// acquire reserves n bytes, waiting up to b.wait or until the request
// ends; it reports whether it did. A reservation larger than the whole
// budget is granted when nothing else is reserved, so no request is
// refused for good.
func (b *BodyBudget) acquire(r *http.Request, n int64) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		if b.used+n <= b.size || b.used == 0 {
			b.used += n
			b.mu.Unlock()
			return true
		}
		changed := b.changed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(b.wait)
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		case <-r.Context().Done():
			return false
		}
	}
}

// release gives n bytes back and wakes the requests waiting.
func (b *BodyBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
