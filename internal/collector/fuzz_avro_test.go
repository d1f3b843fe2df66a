package collector

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/hamba/avro/v2"
)

// FuzzAvroBinary posts arbitrary bytes as Avro binary events of every
// type of the example schemas and of the test schemas through the HTTP
// handler. It must never panic nor answer anything but 202 or 400, and
// an event it accepts must be one hamba/avro decodes whole (hamba bounded
// by the body limit, as the collector is).
func FuzzAvroBinary(f *testing.F) {
	const maxBody = 64 << 10
	f.Add(hugeBlockBody)
	f.Add(checkoutBinary(f))
	f.Add([]byte{})
	f.Add([]byte("\x02a\x02b\x00\x00\x00\x00\x00\x00"))
	f.Add(append(bytes.Repeat([]byte{0, 2}, 70), 0, 0))                                           // Node nested 70 deep
	f.Add([]byte("\xd0\x0f\x00\x00\x00\x04\x01"))                                                 // Zeros with 1000 nulls
	f.Add([]byte("\x00\x90\x03" + string(bytes.Repeat([]byte{20, 0}, 200)) + "\x00\x00\x00\x00")) // nested empty records
	f.Add([]byte("\x01\x02\x00\x80\x80\x80\x80\x80\x80\x80\x80\x01"))

	var collectors []*Collector
	var types [][]*eventType
	for _, dir := range []string{"../../schemas", "testdata/schemas"} {
		reg, err := NewRegistry(dir, newFakeMeter(), nil)
		if err != nil {
			f.Fatal(err)
		}
		collectors = append(collectors, New(reg, Options{MaxBody: maxBody}))
		types = append(types, reg.current().types)
	}
	hamba := avro.Config{MaxByteSliceSize: maxBody, MaxSliceAllocSize: maxBody}.Freeze()
	f.Fuzz(func(t *testing.T, body []byte) {
		for i, c := range collectors {
			for _, typ := range types[i] {
				req, err := http.NewRequest(http.MethodPost, "/v1/events/"+typ.fullName, bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "avro/binary")
				w := &discardWriter{h: http.Header{}}
				c.ServeHTTP(w, req)
				switch w.status {
				case http.StatusAccepted:
					r := avro.NewReader(nil, 0, avro.WithReaderConfig(hamba)).Reset(body)
					var v any
					r.ReadVal(typ.avro, &v)
					if r.Error != nil {
						t.Fatalf("%s: accepted %q, which hamba/avro refuses: %v", typ.name, body, r.Error)
					}
					if r.Peek(); r.Error == nil {
						t.Fatalf("%s: accepted %q, in which hamba/avro finds data after the event", typ.name, body)
					}
				case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				default:
					t.Fatalf("%s: status %d for %q", typ.name, w.status, body)
				}
			}
		}
	})
}
