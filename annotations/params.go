package annotations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// CommonParams are the parameters every kind takes, as a layer writes
// them: each kind's parameter struct embeds it. Every one is optional; an
// unset one takes the value of the layer below.
type CommonParams struct {
	// Priority is 1 (highest) to 5.
	Priority *int64 `json:"priority"`
	// Tags are added to the monitor.
	Tags []string `json:"tags"`
	// Message is added to the monitor's message.
	Message *string `json:"message"`
	// NotifyNoData notifies when the data stops arriving.
	NotifyNoData *bool `json:"notify_no_data"`
	// NoDataTimeframe is the minutes without data before a no-data alert.
	NoDataTimeframe *int64 `json:"no_data_timeframe"`
	// RenotifyInterval is the minutes after which an unresolved alert
	// notifies again; 0 never.
	RenotifyInterval *int64 `json:"renotify_interval"`
	// EscalationMessage is sent with renotifications.
	EscalationMessage *string `json:"escalation_message"`
	// EvaluationDelay delays evaluation by so many seconds.
	EvaluationDelay *int64 `json:"evaluation_delay"`
	// RequireFullWindow waits for a full window of data.
	RequireFullWindow *bool `json:"require_full_window"`
	// IncludeTags puts the triggering tags in the notification title.
	IncludeTags *bool `json:"include_tags"`
	// NotifyAudit notifies the channels when the monitor is modified.
	NotifyAudit *bool `json:"notify_audit"`
	// TimeoutH resolves an alert after so many hours without data.
	TimeoutH *int64 `json:"timeout_h"`
}

// commonDefaults are the built-in values of the common parameters, as
// the JSON members of a kind's Defaults.
const commonDefaults = `"notify_no_data": false, "renotify_interval": 0, "include_tags": true, "notify_audit": false`

// check reports the common parameters' values that are out of range.
func (c *CommonParams) check(ck *checker) {
	if c.Priority != nil && (*c.Priority < 1 || *c.Priority > 5) {
		ck.bad("priority", "priority must be 1 (highest) to 5, not %d", *c.Priority)
	}
	ck.intRange("no_data_timeframe", c.NoDataTimeframe, 0, 1<<20)
	ck.intRange("renotify_interval", c.RenotifyInterval, 0, 1<<20)
	ck.intRange("evaluation_delay", c.EvaluationDelay, 0, 1<<20)
	ck.intRange("timeout_h", c.TimeoutH, 0, 24)
	for i, t := range c.Tags {
		item := "tags." + strconv.Itoa(i)
		if err := CheckTag(t); err != nil {
			ck.bad(item, "tag %q is not a valid Datadog tag: %v", t, err)
		} else if IsReservedTag(t) {
			ck.bad(item, "tag %q is reserved: %s", t, ReservedTagsHint)
		}
	}
}

// resolve returns the merged common parameters; noData is the no-data
// timeframe, in minutes, used when notify_no_data is on and none is set.
// It reports an escalation message without renotifications, which Datadog
// never sends.
func (c *CommonParams) resolve(m *merged, noData int64) (Common, error) {
	out := Common{Tags: c.Tags}
	setIf(&out.Priority, c.Priority)
	setIf(&out.RenotifyInterval, c.RenotifyInterval)
	setIf(&out.EvaluationDelay, c.EvaluationDelay)
	setIf(&out.TimeoutH, c.TimeoutH)
	setIf(&out.NotifyNoData, c.NotifyNoData)
	setIf(&out.RequireFullWindow, c.RequireFullWindow)
	setIf(&out.IncludeTags, c.IncludeTags)
	setIf(&out.NotifyAudit, c.NotifyAudit)
	setIf(&out.EscalationMessage, c.EscalationMessage)
	if c.Message != nil {
		out.Message = strings.TrimSpace(*c.Message)
	}
	if out.NotifyNoData {
		// Set explicitly, so that the plan does not fight a backend's default.
		out.NoDataTimeframe = noData
		setIf(&out.NoDataTimeframe, c.NoDataTimeframe)
	}
	if strings.TrimSpace(out.EscalationMessage) != "" && out.RenotifyInterval == 0 {
		return out, m.conflict("escalation_message", "renotify_interval", "escalation_message needs renotify_interval: Datadog sends it only with renotifications, and renotify_interval is 0 (never)")
	}
	return out, nil
}

// setIf sets *dst to *p when p is set.
func setIf[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

// merged records which layer set each parameter of a merge, so that a
// problem with the merged value is reported where it was written.
type merged struct {
	setBy map[string]Layer
	// order is the index of the layer that set each parameter: the
	// built-in defaults are 0, later (more specific) layers count up.
	order map[string]int
}

// at returns the position of the value of param ("tags" or "tags.1") in
// the layer that set it.
func (m *merged) at(param string) Position { return m.setBy[paramName(param)].PosOf(param) }

// byUser reports whether a layer other than the built-in defaults set param.
func (m *merged) byUser(param string) bool {
	l, ok := m.setBy[param]
	return ok && l.Source != builtinSource
}

// conflict reports that the merged values of params a and b do not go
// together. It is reported at whichever the more specific layer set (a
// when one layer set both), and names where the other was set when a
// user's layer set it elsewhere, so that a conflict between an annotation
// and esm.yaml points at the annotation and names the esm.yaml line.
func (m *merged) conflict(a, b, format string, args ...any) *Error {
	return m.report(a, b, false, format, args...)
}

// unused reports param, whose value does not apply given the value of by
// ("seasonality" with the basic algorithm), as conflict does; when by is
// the more specific, it adds the way out there: "param": null clears the
// inherited value.
func (m *merged) unused(param, by, format string, args ...any) *Error {
	return m.report(param, by, true, format, args...)
}

func (m *merged) report(a, b string, clearable bool, format string, args ...any) *Error {
	blame, other := a, b
	if m.order[paramName(b)] > m.order[paramName(a)] {
		blame, other = b, a
	}
	e := errorf(m.at(blame), format, args...)
	if m.byUser(paramName(other)) {
		if op := m.at(other); op != e.Pos {
			note := fmt.Sprintf("%s is set at %s", other, op)
			if clearable && blame == b {
				note += fmt.Sprintf(`; "%s": null here clears it`, a)
			}
			e.Msg += " (" + note + ")"
			e.Related = append(e.Related, op)
		}
	}
	return e
}

// builtinSource names the layer of a kind's built-in defaults.
const builtinSource = "built-in defaults"

// mergeLayers decodes the kind's built-in defaults and each layer into P,
// a struct of pointer and slice fields with json tags (embedding
// CommonParams), and merges the set fields, later layers winning. Every
// layer that does not decode is reported at its position.
func mergeLayers[P any](kind string, defaults json.RawMessage, layers []Layer) (*P, *merged, error) {
	all := append([]Layer{{Source: builtinSource, Params: defaults}}, layers...)
	var (
		p    P
		base P
		m    = &merged{setBy: map[string]Layer{}, order: map[string]int{}}
		errs []error
	)
	fields := paramFields(reflect.TypeOf(p))
	for i, l := range all {
		lp, err := decodeLayer[P](kind, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if i == 0 {
			base = lp
		}
		v := reflect.ValueOf(&lp).Elem()
		for _, f := range fields {
			if fv := v.FieldByIndex(f.index); !fv.IsNil() {
				m.setBy[f.name] = l
				m.order[f.name] = i
			}
		}
		mergeSet(&p, &lp)
		if i > 0 {
			// "param": null clears what the layers below set: the
			// parameter is back to its built-in default, or unset.
			pv, bv := reflect.ValueOf(&p).Elem(), reflect.ValueOf(&base).Elem()
			for _, name := range nullParams(l.Params) {
				for _, f := range fields {
					if f.name != name {
						continue
					}
					pv.FieldByIndex(f.index).Set(bv.FieldByIndex(f.index))
					if bv.FieldByIndex(f.index).IsNil() {
						delete(m.setBy, f.name)
						delete(m.order, f.name)
					} else {
						m.setBy[f.name] = all[0]
						m.order[f.name] = 0
					}
				}
			}
		}
	}
	return &p, m, errors.Join(errs...)
}

// nullParams returns the parameters a layer sets to null.
func nullParams(raw json.RawMessage) []string {
	if !bytes.Contains(raw, []byte("null")) {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var out []string
	for k, v := range obj {
		if string(bytes.TrimSpace(v)) == "null" {
			out = append(out, k)
		}
	}
	return out
}

// checker collects the problems of a kind's parameter values, each at the
// position at returns for its parameter.
type checker struct {
	at     func(param string) Position
	source string
	errs   []error
}

func (c *checker) bad(param, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.source != "" {
		msg = c.source + ": " + msg
	}
	c.errs = append(c.errs, &Error{Pos: c.at(param), Msg: msg})
}

func (c *checker) err() error { return errors.Join(c.errs...) }

// oneOf reports a set value that is none of allowed.
func (c *checker) oneOf(param string, v *string, allowed ...string) {
	if v == nil {
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	c.bad(param, "%s must be one of %s, not %q", param, strings.Join(allowed, ", "), *v)
}

// intRange reports a set value outside [min, max].
func (c *checker) intRange(param string, v *int64, min, max int64) {
	if v != nil && (*v < min || *v > max) {
		c.bad(param, "%s must be between %d and %d, not %d", param, min, max, *v)
	}
}

// positive reports a set number that is not above zero.
func (c *checker) positive(param string, v *float64) {
	if v != nil && !(*v > 0) {
		c.bad(param, "%s must be greater than 0, not %v", param, *v)
	}
}

// bound is a limit on a window, in seconds, with its text for messages
// ("15 minutes"); a zero bound is no limit.
type bound struct {
	sec  int64
	text string
}

// window reports a set window that is not last_<n><m|h|d|w>, or is
// shorter than min or longer than max; what names the monitor in the
// message, such as "an anomaly monitor".
func (c *checker) window(param string, v *string, min, max bound, what string) {
	if v == nil {
		return
	}
	sec, ok := windowSeconds(*v)
	switch {
	case !ok:
		c.bad(param, "%s must look like last_15m, last_4h or last_1d, not %q", param, *v)
	case min.sec > 0 && sec < min.sec:
		c.bad(param, "%s %s is shorter than Datadog accepts for %s (at least %s)", param, *v, what, min.text)
	case max.sec > 0 && sec > max.sec:
		c.bad(param, "%s %s is longer than Datadog accepts for %s (at most %s)", param, *v, what, max.text)
	}
}

var windowRE = regexp.MustCompile(`^last_([1-9][0-9]*)(m|h|d|w)$`)

// windowSeconds parses last_<n><m|h|d|w>.
func windowSeconds(w string) (int64, bool) {
	m := windowRE.FindStringSubmatch(w)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > 1<<20 {
		return 0, false
	}
	return n * unitSeconds[m[2]], true
}

var unitSeconds = map[string]int64{"m": 60, "h": 3600, "d": 86400, "w": 604800}
