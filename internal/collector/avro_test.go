package collector

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/idl"
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

// logicalField is one field of test.types.Logical: its physical Avro type
// (what hamba/avro encodes it as), its value for hamba/avro and the same
// value in JSON.
type logicalField struct {
	name, physical string
	value          any
	json           string
}

// logicalEvent is a valid test.types.Logical, in field order.
var logicalEvent = []logicalField{
	{"day", `"int"`, 19700, `19700`},
	{"tod", `"int"`, 3600000, `3600000`},
	{"tod_us", `"long"`, int64(3600000000), `3600000000`},
	{"ts", `"long"`, int64(1700000000000), `1700000000000`},
	{"ts_us", `"long"`, int64(1700000000000000), `1700000000000000`},
	{"local_ts", `"long"`, int64(1700000000000), `1700000000000`},
	{"local_ts_us", `"long"`, int64(1700000000000000), `1700000000000000`},
	{"id", `"string"`, "123e4567-e89b-12d3-a456-426614174000", `"123e4567-e89b-12d3-a456-426614174000"`},
	{"price", `"bytes"`, []byte{0x04, 0xd2}, `"12.34"`},
	{"cost", `{"type": "fixed", "name": "Cents", "size": 2}`, [2]byte{0x04, 0xd2}, `"12.34"`},
}

// encodeLogical renders fields as JSON and, field by field with
// hamba/avro, as Avro binary (a record is its fields one after the
// other).
func encodeLogical(t *testing.T, fields []logicalField) (jsonBody, binaryBody []byte) {
	t.Helper()
	ms := make([]member, len(fields))
	for i, f := range fields {
		ms[i] = member{f.name, f.json}
		b, err := avro.Marshal(avro.MustParse(f.physical), f.value)
		require.NoError(t, err, f.name)
		binaryBody = append(binaryBody, b...)
	}
	return []byte(object(ms)), binaryBody
}

// TestLogicalTypesSameVerdict sends each event as JSON and as Avro
// binary: both must get the same answer, with the same reason, field
// path and message. Before, Avro binary skipped every logical-type check
// and accepted all of these.
func TestLogicalTypesSameVerdict(t *testing.T) {
	reg, _ := testRegistry(t)
	c := New(reg, Options{})
	tests := []struct {
		name  string
		field logicalField
		msg   string // the message of both rejections; "" when valid
	}{
		{name: "valid", field: logicalEvent[0]},
		{name: "date first day", field: logicalField{"day", `"int"`, -719162, `-719162`}},
		{name: "date after 9999", field: logicalField{"day", `"int"`, 2932897, `2932897`},
			msg: "value 2932897 out of range for date (-719162 to 2932896)"},
		{name: "date before year 1", field: logicalField{"day", `"int"`, -719163, `-719163`},
			msg: "value -719163 out of range for date (-719162 to 2932896)"},
		{name: "time-millis a day", field: logicalField{"tod", `"int"`, 86400000, `86400000`},
			msg: "value 86400000 out of range for time-millis (0 to 86399999)"},
		{name: "time-millis negative", field: logicalField{"tod", `"int"`, -1, `-1`},
			msg: "value -1 out of range for time-millis (0 to 86399999)"},
		{name: "time-micros a day", field: logicalField{"tod_us", `"long"`, int64(86400000000), `86400000000`},
			msg: "value 86400000000 out of range for time-micros (0 to 86399999999)"},
		{name: "timestamp-millis last", field: logicalField{"ts", `"long"`, int64(253402300799999), `253402300799999`}},
		{name: "timestamp-millis year 10000", field: logicalField{"ts", `"long"`, int64(253402300800000), `253402300800000`},
			msg: "value 253402300800000 out of range for timestamp-millis (-62135596800000 to 253402300799999)"},
		{name: "timestamp-micros year 10000", field: logicalField{"ts_us", `"long"`, int64(253402300800000000), `253402300800000000`},
			msg: "value 253402300800000000 out of range for timestamp-micros (-62135596800000000 to 253402300799999999)"},
		{name: "local-timestamp-millis year 0", field: logicalField{"local_ts", `"long"`, int64(-62135596800001), `-62135596800001`},
			msg: "value -62135596800001 out of range for timestamp-millis (-62135596800000 to 253402300799999)"},
		{name: "local-timestamp-micros year 10000", field: logicalField{"local_ts_us", `"long"`, int64(253402300800000000), `253402300800000000`},
			msg: "value 253402300800000000 out of range for timestamp-micros (-62135596800000000 to 253402300799999999)"},
		{name: "uuid upper case", field: logicalField{"id", `"string"`, "123E4567-E89B-12D3-A456-426614174000", `"123E4567-E89B-12D3-A456-426614174000"`}},
		{name: "uuid without dashes", field: logicalField{"id", `"string"`, "123e4567e89b12d3a456426614174000", `"123e4567e89b12d3a456426614174000"`},
			msg: `expected a uuid such as 123e4567-e89b-12d3-a456-426614174000, got "123e4567e89b12d3a456426614174000"`},
		{name: "uuid not hex", field: logicalField{"id", `"string"`, "123e4567-e89b-12d3-a456-42661417400g", `"123e4567-e89b-12d3-a456-42661417400g"`},
			msg: `expected a uuid such as 123e4567-e89b-12d3-a456-426614174000, got "123e4567-e89b-12d3-a456-42661417400g"`},
		{name: "decimal bytes largest", field: logicalField{"price", `"bytes"`, []byte{0x27, 0x0f}, `"99.99"`}},
		{name: "decimal bytes smallest", field: logicalField{"price", `"bytes"`, []byte{0xd8, 0xf1}, `"-99.99"`}},
		{name: "decimal bytes too many digits", field: logicalField{"price", `"bytes"`, []byte{0x30, 0x39}, `"123.45"`},
			msg: `value "123.45" does not fit decimal(4,2)`},
		{name: "decimal bytes too many negative digits", field: logicalField{"price", `"bytes"`, []byte{0xcf, 0xc7}, `"-123.45"`},
			msg: `value "-123.45" does not fit decimal(4,2)`},
		{name: "decimal bytes as bytes", field: logicalField{"price", `"bytes"`, []byte{0x30, 0x39}, `"\u0030\u0039"`},
			msg: `value "123.45" does not fit decimal(4,2)`},
		{name: "decimal bytes over the size", field: logicalField{"price", `"bytes"`, []byte{0, 0, 0, 1}, `"\u0000\u0000\u0000\u0001"`},
			msg: "decimal(4,2) takes at most 2 bytes, got 4"},
		{name: "decimal bytes over the size in the value", field: logicalField{"price", `"bytes"`, []byte{0x01, 0x00, 0x00}, `"\u0001\u0000\u0000"`},
			msg: "decimal(4,2) takes at most 2 bytes, got 3"},
		{name: "decimal fixed largest", field: logicalField{"cost", `{"type": "fixed", "name": "Cents", "size": 2}`, [2]byte{0x27, 0x0f}, `"99.99"`}},
		{name: "decimal fixed too many digits", field: logicalField{"cost", `{"type": "fixed", "name": "Cents", "size": 2}`, [2]byte{0x30, 0x39}, `"123.45"`},
			msg: `value "123.45" does not fit decimal(4,2)`},
		{name: "decimal fixed holds more than the precision", field: logicalField{"cost", `{"type": "fixed", "name": "Cents", "size": 2}`, [2]byte{0x7f, 0xff}, `"\u007f\u00ff"`},
			msg: `value "327.67" does not fit decimal(4,2)`},
		{name: "decimal fixed negative", field: logicalField{"cost", `{"type": "fixed", "name": "Cents", "size": 2}`, [2]byte{0x80, 0x00}, `"\u0080\u0000"`},
			msg: `value "-327.68" does not fit decimal(4,2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := make([]logicalField, len(logicalEvent))
			copy(fields, logicalEvent)
			found := false
			for i := range fields {
				if fields[i].name == tt.field.name {
					fields[i], found = tt.field, true
				}
			}
			require.True(t, found, "no field %s", tt.field.name)
			jsonBody, binaryBody := encodeLogical(t, fields)

			jsonStatus, jsonResp := post(t, c, "/v1/events/Logical", "application/json", jsonBody)
			binStatus, binResp := post(t, c, "/v1/events/Logical", "avro/binary", binaryBody)
			if tt.msg == "" {
				assert.Equal(t, http.StatusAccepted, jsonStatus, "json: %+v", jsonResp)
				assert.Equal(t, http.StatusAccepted, binStatus, "avro binary: %+v", binResp)
				return
			}
			want := []Rejection{{Type: "Logical", Reason: ReasonSchema, Path: tt.field.name, Error: tt.msg}}
			assert.Equal(t, http.StatusBadRequest, jsonStatus)
			assert.Equal(t, want, jsonResp.Rejected, "json")
			assert.Equal(t, http.StatusBadRequest, binStatus)
			assert.Equal(t, want, binResp.Rejected, "avro binary")
		})
	}
}

// zz is the zig-zag varint of v, as Avro binary writes ints and longs.
func zz(v int64) []byte {
	return binary.AppendUvarint(nil, uint64(v<<1^v>>63))
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestAvroBinaryBounds sends Avro binary bodies that claim more than they
// hold, nest too deep or break the encoding: each is a 400 naming the
// field, and none allocates by what it claims.
func TestAvroBinaryBounds(t *testing.T) {
	reg, _ := testRegistry(t)
	c := New(reg, Options{MaxBody: 1024})
	none := []byte{0}
	nest := func(levels int) []byte {
		var b []byte
		for range levels {
			b = append(b, 0, 2) // value "", then the Node branch of next
		}
		return append(b, 0, 0) // value "", then null
	}
	tests := []struct {
		name   string
		typ    string
		body   []byte
		reason Reason // "" when valid
		path   string
		msg    string // a substring of the message
	}{
		{name: "nulls", typ: "Zeros", body: cat(zz(1000), none, none, none, zz(2), []byte{1})},
		{name: "negative block count with a size", typ: "Zeros", body: cat(zz(-3), zz(0), none, none, none, zz(0), zz(0))},
		{name: "nulls 2^40", typ: "Zeros", body: cat(zz(1<<40), none, none, none, none, none), reason: ReasonMalformed,
			path: "nulls", msg: "array block of 1099511627776 items exceeds what the 5 bytes left can hold"},
		{name: "nulls over the body limit", typ: "Zeros", body: cat(zz(1000), zz(1000), none, none, none, none, none), reason: ReasonMalformed,
			path: "nulls", msg: "exceeds what the"},
		{name: "nested empty records over the body limit", typ: "Zeros",
			body:   cat(none, zz(200), bytes.Repeat(cat(zz(10), none), 200), none, none, none, none),
			reason: ReasonMalformed, path: "nested[102]", msg: "array holds more items of zero bytes than the body limit"},
		{name: "block count min int64", typ: "Zeros", body: cat([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, none),
			reason: ReasonMalformed, path: "nulls", msg: "invalid array block count"},
		{name: "block size past the end", typ: "Zeros", body: cat(zz(-1), zz(100), none), reason: ReasonMalformed,
			path: "nulls", msg: "array block size 100 exceeds"},
		{name: "map 2^40", typ: "Zeros", body: cat(none, none, zz(1<<40)), reason: ReasonMalformed,
			path: "flags", msg: "map block of 1099511627776 items"},
		{name: "map key not UTF-8", typ: "Zeros", body: cat(none, none, zz(1), zz(1), []byte{0xff}, none, none, none), reason: ReasonMalformed,
			path: "flags", msg: "invalid UTF-8"},
		{name: "enum index", typ: "Zeros", body: cat(none, none, none, zz(3), none), reason: ReasonMalformed,
			path: "color", msg: "enum index 3 out of range for test.types.Color"},
		{name: "boolean byte", typ: "Zeros", body: cat(none, none, none, none, []byte{2}), reason: ReasonMalformed,
			path: "flag", msg: "invalid boolean byte 2"},
		{name: "string length past the end", typ: "Inner", body: cat(zz(1<<40), none), reason: ReasonMalformed,
			path: "name", msg: "length 1099511627776 exceeds the 1 bytes left"},
		{name: "string length negative", typ: "Inner", body: cat(zz(-1), none), reason: ReasonMalformed, path: "name", msg: "length -1"},
		{name: "int over 32 bits", typ: "Inner", body: cat(none, []byte{0x80, 0x80, 0x80, 0x80, 0x10}), reason: ReasonMalformed,
			path: "n", msg: "varint overflows 32 bits"},
		{name: "long over 64 bits", typ: "Everything", body: cat(none, zz(0), bytes.Repeat([]byte{0xff}, 9), []byte{0x02}), reason: ReasonMalformed,
			path: "big", msg: "varint overflows 64 bits"},
		{name: "truncated varint", typ: "Inner", body: cat(none, []byte{0x80}), reason: ReasonMalformed, path: "n", msg: "unexpected end"},
		{name: "union index", typ: "Node", body: cat(none, zz(2)), reason: ReasonMalformed, path: "next",
			msg: "union index 2 out of range for union [null, test.types.Node]"},
		{name: "recursion within the depth", typ: "Node", body: nest(20)},
		{name: "recursion too deep", typ: "Node", body: nest(100), reason: ReasonSchema, msg: "nested more than 64 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := post(t, c, "/v1/events/"+tt.typ, "avro/binary", tt.body)
			if tt.reason == "" {
				assert.Equal(t, http.StatusAccepted, status, "%+v", resp)
				return
			}
			assert.Equal(t, http.StatusBadRequest, status)
			require.Len(t, resp.Rejected, 1)
			got := resp.Rejected[0]
			assert.Equal(t, tt.reason, got.Reason)
			if tt.path != "" {
				assert.Equal(t, tt.path, got.Path)
			}
			assert.Contains(t, got.Error, tt.msg)
		})
	}
}

// TestAvroBinaryPanicIsMalformed: a panic in the walk (a bug, here a
// broken compiled schema) rejects the event instead of ending the
// process.
func TestAvroBinaryPanicIsMalformed(t *testing.T) {
	reg, _ := testRegistry(t)
	c := New(reg, Options{})
	broken := &eventType{name: "Broken", fullName: "test.Broken", node: &node{kind: idl.Union, name: "union [?]", branches: []*node{nil}}}
	st := c.getState()
	defer c.putState(st)
	err := c.decodeAvro(st, broken, []byte{0})
	require.NotNil(t, err)
	assert.Equal(t, ReasonMalformed, err.reason)
}
