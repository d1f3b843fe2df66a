// Package collector is esm's event ingest: services POST their events,
// the collector checks each one against its registered Avro record schema
// while it reads it, and counts it per event type.
//
// # HTTP API
//
//	POST /v1/events/{type}   one event as a JSON object (or Avro binary
//	                         with Content-Type: avro/binary)
//	POST /v1/events          NDJSON: one envelope per line,
//	                         {"type": "AddToCartEvent", "event": {...}}
//
// {type} is a record's simple name (AddToCartEvent) or full name
// (com.example.shop.AddToCartEvent). Answers:
//
//	202 {"accepted":N}                                 every event accepted
//	400 {"accepted":N,"rejected":[{"line":2,"type":"AddToCartEvent",
//	     "reason":"schema","path":"items[2].sku","error":"expected string, got number"}]}
//	404 the same body, for an unknown type on /v1/events/{type}
//	408 {"error":"..."}                                the body did not arrive
//	                                                   within the read timeout
//	413 {"error":"...","reason":"too_large"}           body over the limit
//	415 Avro binary sent to the batch endpoint
//
// A batch's good events are counted even when other lines are rejected;
// "line" is the 1-based line of the batch (blank lines count as lines and
// are skipped). At most 100 rejections are listed; "rejected_count"
// always has the total.
//
// # JSON encoding of Avro values
//
// Values are written as Avro's JSON encoding writes them, with a natural
// form accepted too:
//
//   - int, long: JSON integers (no fraction or exponent) in range;
//     float, double: JSON numbers in range, or "NaN", "Infinity",
//     "-Infinity";
//   - bytes and fixed: JSON strings of code points 0 to 255, one per byte
//     ("\u00ff"); fixed has exactly its size;
//   - enums: one of the symbols, as a string;
//   - records: objects with every field that has no default; a field
//     given twice and an unknown field are rejected, so that a typo does
//     not silently drop data;
//   - unions: null, Avro's wrapped form {"string": "x"} (the key is the
//     branch's type name, a named type's full or simple name), or the
//     natural form: a value matching a branch, branches tried in order;
//   - logical types are written as their underlying type: date as days
//     (int), time-millis and time-micros within one day, timestamps as
//     epoch milli- or microseconds between years 1 and 9999, uuid as the
//     36-character text form; decimal as bytes (two's complement, as
//     above) or as decimal text, "12.34", or a JSON number, with at most
//     scale digits after the point and precision-scale before it.
//
// Avro binary events are checked against the same schema while they are
// read, without building the value, and must use every byte of the body:
// union and enum indexes, lengths (within the bytes left), fixed sizes,
// booleans 0 or 1, ints in 32 bits, UTF-8 strings and map keys, and the
// logical types exactly as for JSON (ranges, the uuid form, a decimal's
// size and precision), so an event gets the same verdict in both
// encodings. An array or map block claims at most as many items as the
// bytes left can hold, and an event holds at most the body limit of items
// that take no bytes (null, an empty record); nesting is bounded as for
// JSON. Memory therefore never depends on the counts a body claims.
package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Reason is why events were rejected: the value of the reason label.
// It is an alias of string so that adapters implement Counter without
// importing this package.
type Reason = string

// The reasons events are rejected for, a small fixed set.
const (
	// ReasonMalformed is a body that is not JSON, or a batch line that is
	// not an envelope.
	ReasonMalformed Reason = "malformed"
	// ReasonSchema is an event that does not match its schema.
	ReasonSchema Reason = "schema"
	// ReasonUnknownType is an event of a type no schema declares.
	ReasonUnknownType Reason = "unknown_type"
	// ReasonTooLarge is a body over the size limit.
	ReasonTooLarge Reason = "too_large"
)

// Reasons lists every Reason.
var Reasons = []Reason{ReasonMalformed, ReasonSchema, ReasonUnknownType, ReasonTooLarge}

// UnknownType is the event type events of unknown types, and batches
// rejected before any line was read, are counted under, so that no sender
// can add label values.
const UnknownType = "unknown"

// DefaultMaxBody is the default limit of a request body, 1 MiB.
const DefaultMaxBody = 1 << 20

// Counter counts the events of one type. Its methods are on the hot
// path: they must not allocate nor block.
type Counter interface {
	// Received counts n accepted events.
	Received(n int)
	// Rejected counts n events rejected for reason.
	Rejected(reason Reason, n int)
}

// Meter hands out the counter of each event type, once per type when a
// schema set is compiled, and records schema reloads.
type Meter interface {
	// Counter returns the counter of eventType, a record's simple name or
	// UnknownType.
	Counter(eventType string) Counter
	// SchemaReload records a reload: err is nil on success; types is the
	// number of types in use afterwards.
	SchemaReload(err error, types int)
}

// RejectionObserver is told about each rejected event, off the accepted
// path; BurstReporter is one.
type RejectionObserver interface {
	Rejected(eventType string, reason Reason, detail string)
}

// Options configure a Collector.
type Options struct {
	// MaxBody is the limit of a request body in bytes; 0 means
	// DefaultMaxBody.
	MaxBody int64
	// Log receives request problems at debug level; nil discards them.
	Log *slog.Logger
	// Rejections, when set, is told about each rejected event.
	Rejections RejectionObserver
}

// Collector is the event ingest http.Handler.
type Collector struct {
	reg     *Registry
	maxBody int64
	log     *slog.Logger
	observe RejectionObserver
	router  chi.Router
	states  sync.Pool
}

// New returns a collector validating against the schemas of reg.
func New(reg *Registry, opts Options) *Collector {
	c := &Collector{reg: reg, maxBody: opts.MaxBody, log: opts.Log, observe: opts.Rejections}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.states.New = func() any { return &reqState{} }
	r := chi.NewRouter()
	c.Routes(r)
	c.router = r
	return c
}

// Routes registers the collector's endpoints on r.
func (c *Collector) Routes(r chi.Router) {
	r.Post("/v1/events/{type}", c.single)
	r.Post("/v1/events", c.batch)
}

// ServeHTTP serves the collector's endpoints alone.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.router.ServeHTTP(w, r)
}

// MaxBody returns the body limit in bytes.
func (c *Collector) MaxBody() int64 { return c.maxBody }

// reqState is the reusable memory of one request.
type reqState struct {
	body   []byte
	out    []byte
	dec    decoder
	bin    binaryDecoder
	counts []typeCount
	rej    []Rejection
	nrej   int
}

// typeCount is the number of accepted events of one type in a batch.
type typeCount struct {
	t *eventType
	n int
}

// maxListed is how many rejections a response lists.
const maxListed = 100

// Rejection is one rejected event in a response.
type Rejection struct {
	// Line is the line of the event in a batch (1-based); 0 for a single
	// event.
	Line int `json:"line,omitempty"`
	// Type is the event type as sent.
	Type string `json:"type,omitempty"`
	// Reason is one of Reasons.
	Reason Reason `json:"reason"`
	// Path is the field at fault, e.g. items[2].sku.
	Path string `json:"path,omitempty"`
	// Error says what is wrong.
	Error string `json:"error"`
}

// Response is the body of an answer to a POST of events.
type Response struct {
	// Accepted is the number of events accepted and counted.
	Accepted int `json:"accepted"`
	// Rejected lists the rejected events, the first 100.
	Rejected []Rejection `json:"rejected,omitempty"`
	// RejectedCount is the number of rejected events.
	RejectedCount int `json:"rejected_count,omitempty"`
	// Error says why a whole request was refused.
	Error string `json:"error,omitempty"`
	// Reason is the reason of a whole refused request.
	Reason Reason `json:"reason,omitempty"`
}

var (
	jsonContentType = []string{"application/json"}
	acceptedOne     = []byte(`{"accepted":1}`)
)

func (c *Collector) getState() *reqState {
	st := c.states.Get().(*reqState)
	st.counts, st.rej, st.nrej = st.counts[:0], st.rej[:0], 0
	return st
}

func (c *Collector) putState(st *reqState) {
	if cap(st.body) > 4*int(c.maxBody) || cap(st.body) > 8<<20 {
		st.body = nil
	}
	st.dec.b, st.bin.b = nil, nil
	c.states.Put(st)
}

// errTooLarge is a body over the limit.
var errTooLarge = errors.New("body too large")

// readBody reads the request body into st.body, up to the limit.
func (c *Collector) readBody(r *http.Request, st *reqState) ([]byte, error) {
	if r.ContentLength > c.maxBody {
		return nil, errTooLarge
	}
	buf := st.body[:0]
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength+1 {
		buf = make([]byte, 0, r.ContentLength+1)
	} else if cap(buf) == 0 {
		buf = make([]byte, 0, 4096)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > c.maxBody {
			st.body = buf
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			st.body = buf
			return nil, err
		}
	}
	st.body = buf
	return buf, nil
}

// isAvroBinary reports whether the request carries Avro binary.
func isAvroBinary(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	switch ct[0] {
	case "application/json", "application/x-ndjson", "text/plain":
		return false
	case "avro/binary", "application/avro":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	return err == nil && (mt == "avro/binary" || mt == "application/avro")
}

// single serves POST /v1/events/{type}.
func (c *Collector) single(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "type")
	set := c.reg.current()
	t := set.byName[name]
	if t == nil {
		set.unknown.Rejected(ReasonUnknownType, 1)
		c.rejected(UnknownType, ReasonUnknownType, "unknown event type "+strconv.Quote(shortName(name)))
		c.writeJSON(w, http.StatusNotFound, &Response{
			Rejected:      []Rejection{{Type: shortName(name), Reason: ReasonUnknownType, Error: "unknown event type"}},
			RejectedCount: 1,
		})
		return
	}
	st := c.getState()
	defer c.putState(st)
	body, err := c.readBody(r, st)
	if err != nil {
		c.bodyError(w, t.counter, t.name, err)
		return
	}
	var verr *eventError
	binary := isAvroBinary(r)
	if binary {
		verr = c.decodeAvro(st, t, body)
	} else {
		verr = st.dec.validate(t.node, body)
	}
	if verr != nil {
		t.counter.Rejected(verr.reason, 1)
		rej := Rejection{Type: t.name, Reason: verr.reason, Path: verr.path(), Error: verr.msg}
		if verr.reason == ReasonMalformed {
			if binary {
				rej.Error = "invalid Avro binary: " + rej.Error
			}
			rej.Error += " at byte " + strconv.Itoa(verr.off+1)
		}
		c.rejected(t.name, verr.reason, rejectionDetail(rej))
		c.writeJSON(w, http.StatusBadRequest, &Response{Rejected: []Rejection{rej}, RejectedCount: 1})
		return
	}
	t.counter.Received(1)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedOne)
}

// decodeAvro checks one Avro binary event; every byte must belong to
// the event. At most maxBody array and map items may take no bytes, the
// number a JSON event in the body limit could not even exceed. A panic
// in the walk, which would be a bug, rejects the event as malformed
// rather than ending the process.
func (c *Collector) decodeAvro(st *reqState, t *eventType, body []byte) (verr *eventError) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("avro binary walk panicked", "type", t.fullName, "panic", fmt.Sprint(p))
			verr = &eventError{reason: ReasonMalformed, msg: "event cannot be read"}
		}
	}()
	return st.bin.validate(t.node, body, int(c.maxBody))
}

// bodyError answers a body that could not be read.
func (c *Collector) bodyError(w http.ResponseWriter, counter Counter, eventType string, err error) {
	if errors.Is(err, errTooLarge) {
		counter.Rejected(ReasonTooLarge, 1)
		msg := "body exceeds the limit of " + strconv.FormatInt(c.maxBody, 10) + " bytes"
		c.rejected(eventType, ReasonTooLarge, msg)
		w.Header().Set("Connection", "close")
		c.writeJSON(w, http.StatusRequestEntityTooLarge, &Response{Error: msg, Reason: ReasonTooLarge})
		return
	}
	// The body did not arrive whole: the client was too slow (the
	// server's read timeout) or went away. No event was seen, so none is
	// counted as rejected; the answer, if the client still reads it, says
	// what happened.
	c.log.Debug("read request body", "error", err.Error())
	w.Header().Set("Connection", "close")
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		c.writeJSON(w, http.StatusRequestTimeout, &Response{Error: "the body did not arrive within the read timeout"})
		return
	}
	c.writeJSON(w, http.StatusBadRequest, &Response{Error: "read body: " + err.Error()})
}

// rejected tells the observer.
func (c *Collector) rejected(eventType string, reason Reason, detail string) {
	if c.observe != nil {
		c.observe.Rejected(eventType, reason, detail)
	}
}

// rejectionDetail renders a rejection for an observer: path: error.
func rejectionDetail(r Rejection) string {
	if r.Path != "" {
		return r.Path + ": " + r.Error
	}
	return r.Error
}

// shortName cuts a type name sent by a client for echoing it back.
func shortName(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// writeJSON writes v with status.
func (c *Collector) writeJSON(w http.ResponseWriter, status int, v *Response) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
