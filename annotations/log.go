package annotations

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"unicode"
)

// LogAnnotation asks for a log monitor on the logs of a record's event
// type: @log_monitor({"above": 10}).
const LogAnnotation = "log_monitor"

// EventTypeToken in a log monitor's query stands for the record's
// event_type value, as the collector tags it and Datadog stores it.
const EventTypeToken = "{event_type}"

// LogParams are the parameters of @log_monitor, as a layer writes them.
// Every one is optional; an unset one takes the value of the layer below.
type LogParams struct {
	// Query is a log search; {event_type} stands for the type's value.
	Query *string `json:"query"`
	// Index is the log index searched, or * for all.
	Index *string `json:"index"`
	// Above alerts when more logs than it match in the window.
	Above *float64 `json:"above"`
	// Warning is a lower threshold, for warnings.
	Warning *float64 `json:"warning"`
	// Window is the rolling window the logs are counted in, e.g. 5m.
	Window *string `json:"window"`
	CommonParams
}

// LogSpec is what @log_monitor asks for, resolved: alert when more than
// Above logs matching Query in Index arrive within Window.
type LogSpec struct {
	// Query is the log search, with {event_type} replaced, as the user
	// wrote it: the backend quotes it.
	Query string
	Index string // * or an index name
	Above float64
	// Warning is the warning threshold; nil for none.
	Warning *float64
	Window  string // 5m
}

// Annotation names the kind.
func (*LogSpec) Annotation() string { return LogAnnotation }

type logKind struct{}

func init() { Register(logKind{}) }

// Log returns the @log_monitor kind.
func Log() Kind { return logKind{} }

func (logKind) Annotation() string { return LogAnnotation }

// Defaults are the built-in parameters of a log monitor: any error log
// of the event type in five minutes.
func (logKind) Defaults() json.RawMessage {
	return json.RawMessage(`{"query": "event_type:` + EventTypeToken + ` status:error", "index": "*", "above": 0, "window": "5m",
 "require_full_window": false, ` + commonDefaults + `}`)
}

// What Datadog's log monitors accept. The query is
// logs(<query>).index(<index>).rollup(<method>).last(<time window>)
// <operator> <threshold>, with a time window of "#m (between 1 and 2880),
// #h (between 1 and 48)" (Create a monitor, "Logs Alert Query":
// https://docs.datadoghq.com/api/latest/monitors/#create-a-monitor);
// "log monitors have a maximum rolling time window of 2 days"
// (https://docs.datadoghq.com/monitors/types/log/), written 1d or 2d as
// well. Index names "must start with a letter and can only contain
// lowercase letters, numbers, or the '-' character"
// (https://docs.datadoghq.com/logs/log_configuration/indexes/#add-indexes).
// require_full_window "only applies to metric monitors" (the API's
// MonitorOptions), so a log monitor cannot ask for it.
var (
	maxLogWindow = bound{2 * 86400, "2 days"}
	logIndexRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// Check validates one layer on its own.
func (k logKind) Check(l Layer) error {
	p, err := decodeLayer[LogParams](k.Annotation(), l)
	return errors.Join(err, k.checkValues(&p, l.PosOf, l.Source))
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (logKind) checkValues(p *LogParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	if p.Query != nil {
		if msg := logQueryProblem(*p.Query); msg != "" {
			ck.bad("query", "%s", msg)
		}
	}
	if p.Index != nil && *p.Index != "*" && !logIndexRE.MatchString(*p.Index) {
		ck.bad("index", "index must be * or a Datadog log index name (a lowercase letter, then lowercase letters, digits and -), not %q", *p.Index)
	}
	if p.Window != nil {
		sec, ok := spanSeconds(*p.Window, "m", "h", "d")
		switch {
		case !ok:
			ck.bad("window", "window must look like 5m, 1h or 1d, not %q", *p.Window)
		case sec > maxLogWindow.sec:
			ck.bad("window", "window %s is longer than Datadog accepts for a log monitor (at most %s)", *p.Window, maxLogWindow.text)
		}
	}
	for _, t := range []struct {
		param string
		v     *float64
	}{{"above", p.Above}, {"warning", p.Warning}} {
		if t.v != nil && !(*t.v >= 0) {
			ck.bad(t.param, "%s must be a count of logs, 0 or more, not %v", t.param, *t.v)
		}
	}
	if p.RequireFullWindow != nil && *p.RequireFullWindow {
		ck.bad("require_full_window", "require_full_window applies only to metric monitors; a log monitor cannot wait for a full window: drop it")
	}
	p.CommonParams.check(ck)
	return ck.err()
}

// logQueryProblem says what is wrong with a log search, or "". A
// backslash is refused rather than passed on: in the quoted query
// Datadog reads it as an escape, and the search would not be the one
// written (a " is quoted by the backend).
func logQueryProblem(q string) string {
	switch {
	case strings.TrimSpace(q) == "":
		return "query must be a log search; use * for every log"
	case strings.ContainsRune(q, '\\'):
		return "query cannot hold a backslash (\\): Datadog would read it as an escape in the monitor's quoted query"
	case strings.IndexFunc(q, unicode.IsControl) >= 0:
		return "query cannot hold a line break, tab or other control character"
	}
	return ""
}

// Spec merges the layers into the log monitor asked for target.
func (k logKind) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[LogParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	if p.Warning != nil && !(*p.Warning < *p.Above) {
		return Spec{}, m.conflict("warning", "above", "warning %v must be lower than above %v: more than warning logs warn, more than above alert", *p.Warning, *p.Above)
	}
	window, _ := spanSeconds(*p.Window, "m", "h", "d")
	common, err := p.CommonParams.resolve(m, 2*window/60)
	if err != nil {
		return Spec{}, err
	}
	s := &LogSpec{
		Query: strings.ReplaceAll(strings.TrimSpace(*p.Query), EventTypeToken, EventTypeValue(t.Record)),
		Index: *p.Index, Above: *p.Above, Warning: p.Warning, Window: *p.Window,
	}
	return Spec{Kind: k.Annotation(), Name: "Logs with " + t.Record, Target: t, Common: common, Params: s}, nil
}

// EventTypeValue returns the value of a record's event_type tag as
// Datadog stores it, the value the metric queries filter on:
// "addtocartevent" for AddToCartEvent.
func EventTypeValue(record string) string {
	return strings.TrimPrefix(TagFilter("event_type", record), "event_type:")
}
