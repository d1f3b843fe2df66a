package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSlowClients measures what slow and greedy clients make the real
// server hold, with esm serve's default limits (the read timeout cut to
// 2 s so that the run is short) and with no limits at all (the server
// before it had them):
//
//	go test ./cmd/esm -run '^$' -bench BenchmarkSlowClients -benchtime 1x
//
// slow-open-1: of 2,000 connections that send a body at 1 byte/s, those
// still open one second after the read timeout; slow-open-2: one read
// timeout later (the connections beyond --max-connections wait their
// turn). greedy-heap-MiB: the heap in use (runtime.MemStats.HeapAlloc after
// a collection, server and clients share the process) while 500
// connections each announce a body of 1 MiB - 1 byte and send one;
// greedy-503: how many of them were refused.
func BenchmarkSlowClients(b *testing.B) {
	limited := testServeConfig("")
	limited.readTimeout, limited.writeTimeout, limited.idleTimeout = 2*time.Second, 30*time.Second, 2*time.Minute
	limited.maxConns, limited.maxInflightBody, limited.budgetWait = 1024, 64<<20, budgetWait
	for _, bc := range []struct {
		name string
		cfg  serveConfig
	}{
		{"limits", limited},
		{"no-limits", testServeConfig("")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				slowOpen1, slowOpen2 := measureSlowBodies(b, bc.cfg, 2000)
				heap, refused := measureGreedyBodies(b, bc.cfg, 500, 1<<20-1)
				b.ReportMetric(float64(slowOpen1), "slow-open-1")
				b.ReportMetric(float64(slowOpen2), "slow-open-2")
				b.ReportMetric(float64(heap)/(1<<20), "greedy-heap-MiB")
				b.ReportMetric(float64(refused), "greedy-503")
			}
		})
	}
}

// measureSlowBodies opens n connections that send a body at 1 byte/s and
// returns how many are still open 1 s after the read timeout, and one read
// timeout later (10 s and 20 s without a read timeout).
func measureSlowBodies(b *testing.B, cfg serveConfig, n int) (open1, open2 int) {
	s, err := newServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	base, stop := serveOnLoopback(b, s)
	defer func() { _ = stop() }()
	var open atomic.Int64
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "POST /v1/events/AddToCartEvent HTTP/1.1\r\nHost: esm\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		open.Add(1)
		go func() {
			_, _ = io.Copy(io.Discard, c) // until the server closes it
			open.Add(-1)
		}()
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // one byte a second on every connection
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, c := range conns {
					_, _ = c.Write([]byte(" "))
				}
			}
		}
	}()
	wait := cfg.readTimeout
	if wait == 0 {
		wait = 10 * time.Second
	}
	time.Sleep(wait + time.Second)
	open1 = int(open.Load())
	time.Sleep(wait)
	return open1, int(open.Load())
}

// measureGreedyBodies opens n connections that each announce a body of
// size bytes and send its first byte, and returns the heap in use while
// they are in flight and how many were answered 503.
func measureGreedyBodies(b *testing.B, cfg serveConfig, n, size int) (heap int64, refused int) {
	cfg.readTimeout = 0 // measure the bodies in flight, not their cut-off
	s, err := newServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	base, stop := serveOnLoopback(b, s)
	defer func() { _ = stop() }()
	before := heapInUse()
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	var refusedN atomic.Int64
	for range n {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		if _, err := fmt.Fprintf(c, "POST /v1/events/AddToCartEvent HTTP/1.1\r\nHost: esm\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", size); err != nil {
			b.Fatal(err)
		}
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
				refusedN.Add(1)
			}
		}()
	}
	time.Sleep(budgetWait + 2*time.Second) // the refusals come after the budget's wait
	runtime.GC()
	return heapInUse() - before, int(refusedN.Load())
}
