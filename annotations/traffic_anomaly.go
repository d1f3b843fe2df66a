package annotations

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// TrafficAnomalyAnnotation asks for an anomaly monitor on the count of a
// record's events: @traffic_anomaly_monitor({"deviations": 3}).
const TrafficAnomalyAnnotation = "traffic_anomaly_monitor"

// TrafficAnomalyParams are the parameters of @traffic_anomaly_monitor.
// Every one is optional; an unset one takes the value of the layer below.
type TrafficAnomalyParams struct {
	// Deviations is the width of the expected band, in standard deviations.
	Deviations *float64 `json:"deviations"`
	// Algorithm is basic, agile or robust.
	Algorithm *string `json:"algorithm"`
	// Direction is both, above or below.
	Direction *string `json:"direction"`
	// AlertWindow is how long the count must be anomalous, e.g. last_15m.
	AlertWindow *string `json:"alert_window"`
	// Interval is the rollup interval in seconds.
	Interval *int64 `json:"interval"`
	// Seasonality is hourly, daily or weekly (not for basic).
	Seasonality *string `json:"seasonality"`
	// QueryWindow is the evaluation window of the query, e.g. last_4h.
	QueryWindow *string `json:"query_window"`
	// CountDefaultZero counts missing points as zero.
	CountDefaultZero *bool `json:"count_default_zero"`
	// Priority is 1 (highest) to 5.
	Priority *int64 `json:"priority"`
	// Tags are added to the monitor.
	Tags []string `json:"tags"`
	// Message is added to the monitor's message.
	Message *string `json:"message"`
	// NotifyNoData notifies when the count stops arriving.
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

type trafficAnomaly struct{}

func init() { Register(trafficAnomaly{}) }

// TrafficAnomaly returns the @traffic_anomaly_monitor kind.
func TrafficAnomaly() Kind { return trafficAnomaly{} }

func (trafficAnomaly) Annotation() string { return TrafficAnomalyAnnotation }

// Defaults are the built-in parameters of an anomaly monitor.
func (trafficAnomaly) Defaults() json.RawMessage {
	return json.RawMessage(`{"algorithm": "agile", "deviations": 2, "direction": "both", "alert_window": "last_15m",
 "interval": 60, "count_default_zero": true, "seasonality": "weekly", "query_window": "last_4h",
 "notify_no_data": false, "renotify_interval": 0, "require_full_window": false, "include_tags": true,
 "notify_audit": false}`)
}

var windowRE = regexp.MustCompile(`^last_([1-9][0-9]*)(m|h|d|w)$`)

// The windows Datadog accepts for an anomaly monitor. The alert window
// (the trigger and recovery window) is "a value between 15 minutes and 24
// hours" (https://docs.datadoghq.com/monitors/types/anomaly/#set-alert-conditions);
// the evaluation window of a metric monitor's query is at most one month
// (https://docs.datadoghq.com/monitors/configuration/#set-alert-conditions),
// counted here as 30 days, and at least the alert window.
const (
	minAlertWindow = 15 * 60
	maxAlertWindow = 24 * 3600
	maxQueryWindow = 30 * 86400
)

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
	unit := map[string]int64{"m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
	return n * unit, true
}

// Check validates one layer on its own.
func (k trafficAnomaly) Check(l Layer) error {
	// A parameter that does not decode leaves the others decoded: check
	// them too, so that every problem is reported at once.
	p, err := decodeLayer[TrafficAnomalyParams](k.Annotation(), l)
	return errors.Join(err, k.checkValues(&p, l.PosOf, l.Source))
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (trafficAnomaly) checkValues(p *TrafficAnomalyParams, at func(param string) Position, source string) error {
	var errs []error
	bad := func(param, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if source != "" {
			msg = source + ": " + msg
		}
		errs = append(errs, &Error{Pos: at(param), Msg: msg})
	}
	oneOf := func(param string, v *string, allowed ...string) {
		if v == nil {
			return
		}
		for _, a := range allowed {
			if *v == a {
				return
			}
		}
		bad(param, "%s must be one of %s, not %q", param, strings.Join(allowed, ", "), *v)
	}
	if p.Deviations != nil && !(*p.Deviations > 0 && *p.Deviations <= 10) {
		bad("deviations", "deviations must be greater than 0 and at most 10, not %v", *p.Deviations)
	}
	oneOf("algorithm", p.Algorithm, "basic", "agile", "robust")
	oneOf("direction", p.Direction, "both", "above", "below")
	oneOf("seasonality", p.Seasonality, "hourly", "daily", "weekly")
	for _, w := range []struct {
		param            string
		v                *string
		min, max         int64
		minText, maxText string
	}{{"alert_window", p.AlertWindow, minAlertWindow, maxAlertWindow, "15 minutes", "24 hours"},
		{"query_window", p.QueryWindow, 0, maxQueryWindow, "", "30 days"}} {
		if w.v == nil {
			continue
		}
		sec, ok := windowSeconds(*w.v)
		switch {
		case !ok:
			bad(w.param, "%s must look like last_15m, last_4h or last_1d, not %q", w.param, *w.v)
		case sec < w.min:
			bad(w.param, "%s %s is shorter than Datadog accepts for an anomaly monitor (at least %s)", w.param, *w.v, w.minText)
		case sec > w.max:
			bad(w.param, "%s %s is longer than Datadog accepts for an anomaly monitor (at most %s)", w.param, *w.v, w.maxText)
		}
	}
	if p.Interval != nil && *p.Interval <= 0 {
		bad("interval", "interval must be a positive number of seconds, not %d", *p.Interval)
	}
	if p.Priority != nil && (*p.Priority < 1 || *p.Priority > 5) {
		bad("priority", "priority must be 1 (highest) to 5, not %d", *p.Priority)
	}
	for _, f := range []struct {
		param string
		v     *int64
		max   int64
	}{{"no_data_timeframe", p.NoDataTimeframe, 1 << 20}, {"renotify_interval", p.RenotifyInterval, 1 << 20},
		{"evaluation_delay", p.EvaluationDelay, 1 << 20}, {"timeout_h", p.TimeoutH, 24}} {
		if f.v != nil && (*f.v < 0 || *f.v > f.max) {
			bad(f.param, "%s must be between 0 and %d, not %d", f.param, f.max, *f.v)
		}
	}
	for i, t := range p.Tags {
		item := "tags." + strconv.Itoa(i)
		if err := CheckTag(t); err != nil {
			bad(item, "tag %q is not a valid Datadog tag: %v", t, err)
		} else if IsReservedTag(t) {
			bad(item, "tag %q is reserved: %s", t, ReservedTagsHint)
		}
	}
	return errors.Join(errs...)
}

// Build merges the layers into the anomaly monitor for target.
func (k trafficAnomaly) Build(t Target, layers []Layer) (Monitor, error) {
	all := append([]Layer{{Source: "built-in defaults", Params: k.Defaults()}}, layers...)
	var (
		p      TrafficAnomalyParams
		setBy  = map[string]Layer{}
		errs   []error
		fields = reflect.TypeOf(p)
	)
	for _, l := range all {
		lp, err := decodeLayer[TrafficAnomalyParams](k.Annotation(), l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v := reflect.ValueOf(&lp).Elem()
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); !f.IsNil() {
				setBy[strings.Split(fields.Field(i).Tag.Get("json"), ",")[0]] = l
			}
		}
		mergeSet(&p, &lp)
	}
	if len(errs) > 0 {
		return Monitor{}, errors.Join(errs...)
	}
	at := func(param string) Position { return setBy[paramName(param)].PosOf(param) }
	if err := k.checkValues(&p, at, ""); err != nil {
		return Monitor{}, err
	}
	// Combinations Datadog rejects.
	userSeasonality := setBy["seasonality"].Source != "built-in defaults"
	if *p.Algorithm == "basic" {
		if userSeasonality {
			return Monitor{}, errorf(at("seasonality"), "seasonality %q cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality", *p.Seasonality)
		}
		p.Seasonality = nil
	}
	alertSec, _ := windowSeconds(*p.AlertWindow)
	querySec, _ := windowSeconds(*p.QueryWindow)
	if *p.Interval*5 > alertSec {
		return Monitor{}, errorf(at("interval"), "interval %d s is over a fifth of alert_window %s (%d s): Datadog needs at least 5 points in the alert window", *p.Interval, *p.AlertWindow, alertSec/5)
	}
	if querySec < alertSec {
		return Monitor{}, errorf(at("query_window"), "query_window %s is shorter than alert_window %s", *p.QueryWindow, *p.AlertWindow)
	}
	if p.EscalationMessage != nil && strings.TrimSpace(*p.EscalationMessage) != "" && *p.RenotifyInterval == 0 {
		return Monitor{}, errorf(at("escalation_message"), "escalation_message needs renotify_interval: Datadog sends it only with renotifications, and renotify_interval is 0 (never)")
	}

	// The filters name the tags in the form Datadog stores them: the
	// collector's event_type:AddToCartEvent is stored, and only matches, as
	// event_type:addtocartevent.
	eventFilter := TagFilter("event_type", t.Record)
	var q strings.Builder
	fmt.Fprintf(&q, "avg(%s):anomalies(sum:%s{%s,%s}.as_count(), '%s', %s, direction='%s', alert_window='%s', interval=%d, count_default_zero='%t'",
		*p.QueryWindow, t.Env.Metric, eventFilter, TagFilter("env", t.Env.EnvTag), *p.Algorithm,
		strconv.FormatFloat(*p.Deviations, 'g', -1, 64), *p.Direction, *p.AlertWindow, *p.Interval, *p.CountDefaultZero)
	if p.Seasonality != nil {
		fmt.Fprintf(&q, ", seasonality='%s'", *p.Seasonality)
	}
	q.WriteString(") >= 1")

	m := Monitor{
		Name:  "Traffic Anomaly with " + t.Record,
		Type:  "query alert",
		Query: q.String(),
		Tags:  NormalizeTags(append(append([]string{ManagedByTag, eventFilter, TagFilter("env", t.Env.EnvTag)}, t.Env.Tags...), p.Tags...)),
		Options: Options{
			Thresholds:        Thresholds{Critical: Float(1), CriticalRecovery: Float(0)},
			ThresholdWindows:  &ThresholdWindows{TriggerWindow: *p.AlertWindow, RecoveryWindow: *p.AlertWindow},
			NotifyNoData:      *p.NotifyNoData,
			RenotifyInterval:  *p.RenotifyInterval,
			IncludeTags:       *p.IncludeTags,
			RequireFullWindow: *p.RequireFullWindow,
			NotifyAudit:       *p.NotifyAudit,
		},
	}
	if p.Priority != nil {
		m.Priority = *p.Priority
	}
	if m.Options.NotifyNoData {
		// Set explicitly, so that the plan does not fight Datadog's default.
		m.Options.NoDataTimeframe = 2 * querySec / 60
		if p.NoDataTimeframe != nil {
			m.Options.NoDataTimeframe = *p.NoDataTimeframe
		}
	}
	if p.EvaluationDelay != nil {
		m.Options.EvaluationDelay = *p.EvaluationDelay
	}
	if p.EscalationMessage != nil {
		m.Options.EscalationMessage = *p.EscalationMessage
	}
	if p.TimeoutH != nil {
		m.Options.TimeoutH = *p.TimeoutH
	}
	seas := ""
	if p.Seasonality != nil {
		seas = ", " + *p.Seasonality + " seasonality"
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "Traffic anomaly for %s events in %s: the count of %s{%s} left its expected band (%s, %s deviations, direction %s%s).",
		t.Record, t.Env.Name, t.Env.Metric, eventFilter, *p.Algorithm, strconv.FormatFloat(*p.Deviations, 'g', -1, 64), *p.Direction, seas)
	if t.Doc != "" {
		msg.WriteString("\n\n" + t.Doc)
	}
	if p.Message != nil && strings.TrimSpace(*p.Message) != "" {
		msg.WriteString("\n\n" + strings.TrimSpace(*p.Message))
	}
	// The file, not the line: moving an annotation must not update the monitor.
	fmt.Fprintf(&msg, "\n\nSchema: %s in %s", t.FullName, t.File)
	if h := t.Channels.Render(); h != "" {
		msg.WriteString("\n\n" + h)
	}
	if f := strings.TrimSpace(t.Env.MessageFooter); f != "" {
		msg.WriteString("\n\n" + f)
	}
	m.Message = msg.String()
	return m, nil
}
