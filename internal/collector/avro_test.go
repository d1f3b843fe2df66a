package collector

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hugeBlockBody is the 8-byte CheckoutCompleted of issue 9: two empty
// strings (order_id, cart_id), then an items block count of 2^40.
var hugeBlockBody = []byte("\x00\x00\x80\x80\x80\x80\x80\x40")

// TestAvroBinaryHugeBlockCount posts the 8-byte body to a real
// HTTP server of the example schemas: it must get a 400, and the server
// must go on serving. Before the bound, hamba/avro grew a slice of 2^40
// line items and the process died with "fatal error: runtime: out of
// memory" (run the test binary under `ulimit -v` to see it).
func TestAvroBinaryHugeBlockCount(t *testing.T) {
	c, m := shopCollector(t, Options{})
	srv := httptest.NewServer(c)
	defer srv.Close()

	postAvro := func(body []byte) (int, Response) {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+"/v1/events/CheckoutCompleted", "avro/binary", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var r Response
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		return resp.StatusCode, r
	}

	status, resp := postAvro(hugeBlockBody)
	assert.Equal(t, http.StatusBadRequest, status)
	require.Len(t, resp.Rejected, 1)
	assert.Equal(t, ReasonMalformed, resp.Rejected[0].Reason)
	assert.Equal(t, "items", resp.Rejected[0].Path)

	// Still serving: a good event is accepted.
	status, resp = postAvro(checkoutBinary(t))
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, 1, resp.Accepted)
	assert.Equal(t, 1, m.got("CheckoutCompleted"))
	assert.Equal(t, 1, m.rej("CheckoutCompleted", ReasonMalformed))
}

// checkoutBinary is a valid CheckoutCompleted of the example schemas in
// Avro binary, encoded by hamba/avro.
func checkoutBinary(t testing.TB) []byte {
	t.Helper()
	reg, err := NewRegistry("../../schemas", newFakeMeter(), nil)
	require.NoError(t, err)
	typ := reg.current().byName["CheckoutCompleted"]
	b, err := avro.Marshal(typ.avro, map[string]any{
		"order_id": "o-1",
		"cart_id":  "c-1",
		"items": []any{
			map[string]any{"sku": "S-1", "quantity": 2, "unit_price": big.NewRat(999, 100)},
		},
		"total":          big.NewRat(1998, 100),
		"currency":       "EUR",
		"payment_method": "CARD",
		"attribution":    map[string]any{"utm_source": "mail"},
		"occurred_at":    time.UnixMilli(1700000000000).UTC(),
	})
	require.NoError(t, err)
	return b
}
