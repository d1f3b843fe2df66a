package httplimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// safety bounds every wait; no test here measures speed.
const safety = 10 * time.Second

func TestListenerHoldsAtMostN(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := LimitListener(inner, 1)
	defer ln.Close()

	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	first := <-accepted
	assert.Equal(t, 1, ln.Open())
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the first is open")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, first.Close())
	_ = first.Close() // a second Close gives nothing back twice
	select {
	case c := <-accepted:
		require.NotNil(t, c)
		assert.Equal(t, 1, ln.Open())
		require.NoError(t, c.Close())
	case <-time.After(safety):
		t.Fatal("the second connection was not accepted after the first closed")
	}
	assert.Equal(t, 0, ln.Open())
}

func TestListenerCloseEndsAWaitingAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := LimitListener(inner, 1)
	c, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	held, err := ln.Accept()
	require.NoError(t, err)
	defer held.Close()

	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }() // waits for a slot
	require.NoError(t, ln.Close())
	select {
	case err := <-done:
		assert.True(t, errors.Is(err, net.ErrClosed), "got %v", err)
	case <-time.After(safety):
		t.Fatal("Accept still waits after Close")
	}
}

func TestBodyBudget(t *testing.T) {
	const maxBody = 100
	tests := []struct {
		name     string
		held     int64 // reserved by a request in flight
		body     string
		length   int64 // Content-Length; -1 for chunked
		wantCode int
	}{
		{name: "fits", held: 50, body: "x", length: 50, wantCode: http.StatusOK},
		{name: "does not fit", held: 60, body: "x", length: 50, wantCode: http.StatusServiceUnavailable},
		{name: "chunked reserves the most a body can be", held: 1, body: "x", length: -1, wantCode: http.StatusServiceUnavailable},
		{name: "announced over the limit reserves the limit", held: 1, body: "x", length: 1000, wantCode: http.StatusServiceUnavailable},
		{name: "no body reserves nothing", held: 100, length: 0, wantCode: http.StatusOK},
		{name: "larger than the budget, alone", held: 0, body: "x", length: 150, wantCode: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBodyBudget(100, 50*time.Millisecond)
			release := make(chan struct{})
			entered := make(chan struct{}, 2)
			h := b.Middleware(maxBody)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				if r.Header.Get("Hold") != "" {
					<-release
				}
				w.WriteHeader(http.StatusOK)
			}))
			if tt.held > 0 {
				go h.ServeHTTP(httptest.NewRecorder(), holdRequest(tt.held))
				<-entered
				assert.Equal(t, tt.held, b.InUse())
			}
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.ContentLength = tt.length
			if tt.length == 0 {
				r.Body = http.NoBody
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tt.wantCode, w.Code)
			if w.Code == http.StatusServiceUnavailable {
				assert.Equal(t, "1", w.Header().Get("Retry-After"))
				assert.Equal(t, "close", w.Header().Get("Connection"))
			}
			close(release)
		})
	}
}

func TestBodyBudgetWaitsForReleasedBytes(t *testing.T) {
	b := NewBodyBudget(100, safety)
	release := make(chan struct{})
	h := b.Middleware(100)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Hold") != "" {
			<-release
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	held := make(chan struct{})
	go func() { h.ServeHTTP(httptest.NewRecorder(), holdRequest(100)); close(held) }()
	require.Eventually(t, func() bool { return b.InUse() == 100 }, safety, time.Millisecond)

	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello")))
		done <- w.Code
	}()
	close(release)
	<-held
	select {
	case code := <-done:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(safety):
		t.Fatal("the waiting request did not get the bytes given back")
	}
	assert.Equal(t, int64(0), b.InUse())
}

// holdRequest is a request of n body bytes whose handler waits.
func holdRequest(n int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", int(n))))
	r.Header.Set("Hold", "yes")
	return r
}
