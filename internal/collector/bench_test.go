package collector

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure the collector rather than a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchRequest returns a request whose body can be rewound.
func benchRequest(b *testing.B, path string, body []byte) (*http.Request, *bytes.Reader) {
	b.Helper()
	rd := bytes.NewReader(body)
	req, err := http.NewRequest(http.MethodPost, path, io.NopCloser(rd))
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	return req, rd
}

func shopBench(b *testing.B) *Collector {
	reg, err := NewRegistry("../../schemas", newFakeMeter(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return New(reg, Options{})
}

// BenchmarkSingleEvent is one POST /v1/events/AddToCartEvent through the
// router, validation and counting (a fake meter), without the network.
func BenchmarkSingleEvent(b *testing.B) {
	c := shopBench(b)
	body := []byte(addToCart)
	req, rd := benchRequest(b, "/v1/events/AddToCartEvent", body)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		c.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkBatch is one POST /v1/events of 100 NDJSON events; it reports
// events/s.
func BenchmarkBatch(b *testing.B) {
	c := shopBench(b)
	const n = 100
	body := []byte(strings.Repeat(`{"type": "AddToCartEvent", "event": `+addToCart+"}\n", n))
	req, rd := benchRequest(b, "/v1/events", body)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		c.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkValidate is the schema walk of one event alone: no
// allocation.
func BenchmarkValidate(b *testing.B) {
	reg, _ := testRegistry(b)
	n := reg.current().byName["Everything"].node
	body := []byte(object(everything))
	var d decoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.validate(n, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAvroBinaryEvent is one POST /v1/events/CheckoutCompleted in
// Avro binary (one line item, one attribution) through the router, the
// binary walk and counting (a fake meter), without the network.
func BenchmarkAvroBinaryEvent(b *testing.B) {
	c := shopBench(b)
	body := checkoutBinary(b)
	req, rd := benchRequest(b, "/v1/events/CheckoutCompleted", body)
	req.Header.Set("Content-Type", "avro/binary")
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		c.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
}
