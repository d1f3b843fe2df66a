package collector

import (
	"bytes"
	"net/http"
	"strconv"
)

// batch serves POST /v1/events: NDJSON, one envelope per line.
func (c *Collector) batch(w http.ResponseWriter, r *http.Request) {
	set := c.reg.current()
	if isAvroBinary(r) {
		set.unknown.Rejected(ReasonMalformed, 1)
		c.writeJSON(w, http.StatusUnsupportedMediaType, &Response{
			Error:  "Avro binary is accepted for a single event only: POST /v1/events/{type}",
			Reason: ReasonMalformed,
		})
		return
	}
	st := c.getState()
	defer c.putState(st)
	body, err := c.readBody(r, st)
	if err != nil {
		c.bodyError(w, set.unknown, UnknownType, err)
		return
	}
	accepted := 0
	for line := 1; len(body) > 0; line++ {
		var text []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			text, body = body[:i], body[i+1:]
		} else {
			text, body = body, nil
		}
		if isBlank(text) {
			continue
		}
		t, rej := c.envelope(set, st, text)
		if rej != nil {
			rej.Line = line
			c.reject(st, set, t, rej)
			continue
		}
		accepted++
		st.count(t)
	}
	for _, tc := range st.counts {
		tc.t.counter.Received(tc.n)
	}
	if st.nrej > 0 {
		c.writeJSON(w, http.StatusBadRequest, &Response{Accepted: accepted, Rejected: st.rej, RejectedCount: st.nrej})
		return
	}
	st.out = strconv.AppendInt(append(st.out[:0], `{"accepted":`...), int64(accepted), 10)
	st.out = append(st.out, '}')
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(st.out)
}

// count adds one accepted event of t.
func (st *reqState) count(t *eventType) {
	for i := range st.counts {
		if st.counts[i].t == t {
			st.counts[i].n++
			return
		}
	}
	st.counts = append(st.counts, typeCount{t: t, n: 1})
}

// reject counts and lists one rejected line; t is nil when the type is
// unknown or the line names none.
func (c *Collector) reject(st *reqState, set *schemaSet, t *eventType, rej *Rejection) {
	counter, name := set.unknown, UnknownType
	if t != nil {
		counter, name = t.counter, t.name
	}
	counter.Rejected(rej.Reason, 1)
	c.rejected(name, rej.Reason, rejectionDetail(*rej))
	st.nrej++
	if len(st.rej) < maxListed {
		st.rej = append(st.rej, *rej)
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// envelope reads one line, {"type": "...", "event": {...}}, validating
// the event while it reads it when "type" comes first (the fast path;
// the other order works too). It returns the event's type when known,
// and the rejection when the line is not accepted.
func (c *Collector) envelope(set *schemaSet, st *reqState, line []byte) (*eventType, *Rejection) {
	d := &st.dec
	d.b, d.i, d.depth, d.seen = line, 0, 0, d.seen[:0]
	var (
		t            *eventType
		typeName     string // as sent, when unknown
		haveType     bool
		haveEvent    bool
		eventStart   int
		eventEnd     int
		pendingEvent bool // event read before its type, not yet validated
	)
	malformed := func(err *eventError) (*eventType, *Rejection) {
		name := typeName
		if t != nil {
			name = t.name
		}
		return t, &Rejection{Type: name, Reason: ReasonMalformed, Error: err.msg + " at column " + strconv.Itoa(err.off+1)}
	}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return malformed(d.malformed(`expected an envelope {"type": "...", "event": {...}}`))
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
	} else {
		for {
			d.ws()
			key, err := d.stringBytes()
			if err != nil {
				return malformed(err)
			}
			var member int
			switch string(key) {
			case "type":
				member = 1
			case "event":
				member = 2
			default:
				return malformed(d.malformed("unknown envelope member " + quoteShort(key) + `; an envelope has "type" and "event"`))
			}
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return malformed(d.malformed("':' expected after an object key"))
			}
			d.i++
			d.ws()
			switch {
			case member == 1 && haveType, member == 2 && haveEvent:
				return malformed(d.malformed("envelope member " + quoteShort(key) + " given twice"))
			case member == 1:
				haveType = true
				if d.i >= len(d.b) || d.b[d.i] != '"' {
					return malformed(d.malformed(`"type" must be a string`))
				}
				name, err := d.stringBytes()
				if err != nil {
					return malformed(err)
				}
				t = set.lookup(name)
				if t == nil {
					typeName = shortName(string(name))
				}
			case member == 2:
				haveEvent = true
				eventStart = d.i
				if t != nil {
					if err := d.value(t.node); err != nil {
						if err.reason == ReasonMalformed {
							return malformed(err)
						}
						return t, &Rejection{Type: t.name, Reason: err.reason, Path: err.path(), Error: err.msg}
					}
				} else {
					if err := d.skip(); err != nil {
						return malformed(err)
					}
					pendingEvent = !haveType
				}
				eventEnd = d.i
			}
			d.ws()
			if d.i >= len(d.b) {
				return malformed(d.malformed("unexpected end of line in the envelope"))
			}
			if d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.b[d.i] == '}' {
				d.i++
				break
			}
			return malformed(d.malformed("',' or '}' expected in the envelope"))
		}
	}
	d.ws()
	if d.i < len(d.b) {
		return malformed(d.malformed("unexpected data after the envelope"))
	}
	switch {
	case !haveType:
		return malformed(&eventError{msg: `envelope without "type"`})
	case t == nil:
		return nil, &Rejection{Type: typeName, Reason: ReasonUnknownType, Error: "unknown event type"}
	case !haveEvent:
		return malformed(&eventError{msg: `envelope without "event"`})
	case pendingEvent:
		if err := d.validate(t.node, line[eventStart:eventEnd]); err != nil {
			return t, &Rejection{Type: t.name, Reason: err.reason, Path: err.path(), Error: err.msg}
		}
	}
	return t, nil
}
