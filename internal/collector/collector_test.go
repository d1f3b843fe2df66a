package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// post sends body to the collector and decodes the answer.
func post(t *testing.T, h http.Handler, path, contentType string, body []byte) (int, Response) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var resp Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "body %q", rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	return rec.Code, resp
}

const addToCart = `{"cart_id": "c1", "sku": "S-1", "quantity": 2, "unit_price": "9.99", "occurred_at": 1700000000000}`

// shopCollector serves the example schemas of the repository.
func shopCollector(t *testing.T, opts Options) (*Collector, *fakeMeter) {
	t.Helper()
	m := newFakeMeter()
	reg, err := NewRegistry("../../schemas", m, nil)
	require.NoError(t, err)
	return New(reg, opts), m
}

func TestSingleEvent(t *testing.T) {
	c, m := shopCollector(t, Options{})
	tests := []struct {
		name     string
		path     string
		body     string
		status   int
		accepted int
		rejected *Rejection
	}{
		{name: "simple name", path: "/v1/events/AddToCartEvent", body: addToCart, status: 202, accepted: 1},
		{name: "full name", path: "/v1/events/com.example.shop.AddToCartEvent", body: addToCart, status: 202, accepted: 1},
		{name: "wrong type", path: "/v1/events/AddToCartEvent", body: strings.Replace(addToCart, `"quantity": 2`, `"quantity": "2"`, 1), status: 400,
			rejected: &Rejection{Type: "AddToCartEvent", Reason: ReasonSchema, Path: "quantity", Error: "expected int, got string"}},
		{name: "nested path", path: "/v1/events/CheckoutCompleted",
			body:   `{"order_id": "o", "cart_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": "1.00"}, {"sku": "b", "quantity": 1, "unit_price": "1.00"}, {"sku": 3, "quantity": 1, "unit_price": "1.00"}], "total": "3.00", "payment_method": "CARD", "occurred_at": 1}`,
			status: 400, rejected: &Rejection{Type: "CheckoutCompleted", Reason: ReasonSchema, Path: "items[2].sku", Error: "expected string, got number"}},
		{name: "malformed", path: "/v1/events/AddToCartEvent", body: `{"cart_id": `, status: 400,
			rejected: &Rejection{Type: "AddToCartEvent", Reason: ReasonMalformed, Path: "cart_id", Error: "unexpected end of input at byte 13"}},
		{name: "unknown type", path: "/v1/events/NoSuchEvent", body: addToCart, status: 404,
			rejected: &Rejection{Type: "NoSuchEvent", Reason: ReasonUnknownType, Error: "unknown event type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := post(t, c, tt.path, "application/json", []byte(tt.body))
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.accepted, resp.Accepted)
			if tt.rejected != nil {
				require.Len(t, resp.Rejected, 1)
				assert.Equal(t, *tt.rejected, resp.Rejected[0])
				assert.Equal(t, 1, resp.RejectedCount)
			} else {
				assert.Empty(t, resp.Rejected)
			}
		})
	}
	assert.Equal(t, 2, m.got("AddToCartEvent"))
	assert.Equal(t, 1, m.rej("AddToCartEvent", ReasonSchema))
	assert.Equal(t, 1, m.rej("AddToCartEvent", ReasonMalformed))
	assert.Equal(t, 1, m.rej("CheckoutCompleted", ReasonSchema))
	assert.Equal(t, 1, m.rej(UnknownType, ReasonUnknownType))
	assert.Zero(t, m.got("NoSuchEvent"))
}

func TestBatchMixedLines(t *testing.T) {
	obs := &recordingObserver{}
	c, m := shopCollector(t, Options{Rejections: obs})
	search := `{"query": "shoes", "result_count": 3, "occurred_at": 1}`
	lines := []string{
		`{"type": "AddToCartEvent", "event": ` + addToCart + `}`,
		`{"type": "AddToCartEvent", "event": ` + strings.Replace(addToCart, `"quantity": 2`, `"quantity": "2"`, 1) + `}`,
		``,
		`{"event": ` + search + `, "type": "SearchPerformed"}`,
		`{"type": "Nope", "event": {}}`,
		`{"type": "SearchPerformed", "event": {"query": "x"`,
		`not json`,
		`{"type": "com.example.search.SearchPerformed", "event": ` + search + "}\r",
		`{"type": "SearchPerformed"}`,
		`{"type": "SearchPerformed", "event": ` + search + `, "extra": 1}`,
	}
	status, resp := post(t, c, "/v1/events", "application/x-ndjson", []byte(strings.Join(lines, "\n")))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, 3, resp.Accepted)
	assert.Equal(t, 6, resp.RejectedCount)
	got := map[int]Rejection{}
	for _, r := range resp.Rejected {
		got[r.Line] = r
	}
	require.Len(t, got, 6)
	assert.Equal(t, Rejection{Line: 2, Type: "AddToCartEvent", Reason: ReasonSchema, Path: "quantity", Error: "expected int, got string"}, got[2])
	assert.Equal(t, Rejection{Line: 5, Type: "Nope", Reason: ReasonUnknownType, Error: "unknown event type"}, got[5])
	assert.Equal(t, ReasonMalformed, got[6].Reason)
	assert.Equal(t, "SearchPerformed", got[6].Type)
	assert.Equal(t, ReasonMalformed, got[7].Reason)
	assert.Equal(t, ReasonMalformed, got[9].Reason)
	assert.Contains(t, got[9].Error, `without "event"`)
	assert.Contains(t, got[10].Error, `unknown envelope member "extra"`)

	assert.Equal(t, 1, m.got("AddToCartEvent"))
	assert.Equal(t, 2, m.got("SearchPerformed"))
	assert.Equal(t, 1, m.rej("AddToCartEvent", ReasonSchema))
	assert.Equal(t, 1, m.rej(UnknownType, ReasonUnknownType))
	assert.Equal(t, 1, m.rej(UnknownType, ReasonMalformed))
	assert.Equal(t, 3, m.rej("SearchPerformed", ReasonMalformed))
	assert.Len(t, obs.got, 6)
	assert.Contains(t, obs.got, "AddToCartEvent/schema/quantity: expected int, got string")
}

func TestBatchAllAccepted(t *testing.T) {
	c, m := shopCollector(t, Options{})
	var b strings.Builder
	for range 50 {
		b.WriteString(`{"type": "AddToCartEvent", "event": ` + addToCart + "}\n")
	}
	status, resp := post(t, c, "/v1/events", "", []byte(b.String()))
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, Response{Accepted: 50}, resp)
	assert.Equal(t, 50, m.got("AddToCartEvent"))
}

func TestBatchListsAtMost100Rejections(t *testing.T) {
	c, m := shopCollector(t, Options{})
	body := strings.Repeat(`{"type": "X", "event": {}}`+"\n", 150)
	status, resp := post(t, c, "/v1/events", "", []byte(body))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Len(t, resp.Rejected, 100)
	assert.Equal(t, 150, resp.RejectedCount)
	assert.Equal(t, 150, m.rej(UnknownType, ReasonUnknownType))
}

func TestBodyTooLarge(t *testing.T) {
	c, m := shopCollector(t, Options{MaxBody: 64})
	big := []byte(strings.Replace(addToCart, `"c1"`, `"`+strings.Repeat("c", 100)+`"`, 1))

	status, resp := post(t, c, "/v1/events/AddToCartEvent", "application/json", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, ReasonTooLarge, resp.Reason)
	assert.Equal(t, 1, m.rej("AddToCartEvent", ReasonTooLarge))

	// Without a Content-Length the limit holds while reading.
	req := httptest.NewRequest(http.MethodPost, "/v1/events", struct{ *bytes.Reader }{bytes.NewReader(big)})
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Equal(t, 1, m.rej(UnknownType, ReasonTooLarge))

	// At the limit is fine.
	status, _ = post(t, c, "/v1/events/Inner", "", []byte(`{}`))
	assert.Equal(t, http.StatusNotFound, status)
}

func TestAvroBinary(t *testing.T) {
	reg, m := testRegistry(t)
	c := New(reg, Options{})
	inner := reg.current().byName["Inner"]
	good, err := avro.Marshal(inner.avro, map[string]any{"name": "x", "n": 3})
	require.NoError(t, err)

	status, resp := post(t, c, "/v1/events/Inner", "avro/binary", good)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, 1, resp.Accepted)

	status, resp = post(t, c, "/v1/events/Inner", "avro/binary", good[:len(good)-1])
	assert.Equal(t, http.StatusBadRequest, status)
	require.Len(t, resp.Rejected, 1)
	assert.Equal(t, ReasonMalformed, resp.Rejected[0].Reason)

	status, resp = post(t, c, "/v1/events/Inner", "avro/binary", append(good, 0))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, resp.Rejected[0].Error, "data after the event")

	status, _ = post(t, c, "/v1/events", "avro/binary", good)
	assert.Equal(t, http.StatusUnsupportedMediaType, status)

	assert.Equal(t, 1, m.got("Inner"))
	assert.Equal(t, 2, m.rej("Inner", ReasonMalformed))
}

// recordingObserver records rejections as type/reason/detail.
type recordingObserver struct {
	mu  sync.Mutex
	got []string
}

func (o *recordingObserver) Rejected(eventType string, reason Reason, detail string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, eventType+"/"+reason+"/"+detail)
}
