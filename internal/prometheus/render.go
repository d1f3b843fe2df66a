// Package prometheus is esm's Prometheus backend: it renders specs into
// Prometheus alerting rules (with the recording rules they read) and
// keeps them in one rules file per environment, DIR/esm-<env>.rules.yml,
// which it rewrites atomically and, when told where Prometheus is, asks
// Prometheus to reload.
package prometheus

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// The collector's Prometheus counters (internal/metrics): the received
// one has the labels event_type and env, the rejected one event_type and
// reason.
const (
	ReceivedMetric = "esm_events_received_total"
	RejectedMetric = "esm_events_rejected_total"
	// QueryValueMetric is the gauge of the query monitors' rows (esm
	// serve --role queries): labelled query and the query's label
	// columns, without env.
	QueryValueMetric = "esm_query_value"
)

// The labels and annotations esm puts on every alerting rule. MonitorLabel
// holds the monitor's name, the one the Datadog backend gives it: the
// identity across backends. ChannelsLabel holds the @alert_channel
// channels that get the alert, as ",a,b," (sorted, without repeats), so
// that an Alertmanager route matches one with esm_channels=~".*,a,.*".
const (
	MonitorLabel   = "esm_monitor"
	EventTypeLabel = "event_type"
	// QueryLabel holds the query's name on the alerts of a query monitor,
	// in place of EventTypeLabel: the gauge's label.
	QueryLabel     = "query"
	EnvLabel       = "env"
	SeverityLabel  = "severity"
	ChannelsLabel  = "esm_channels"
	FileAnnotation = "esm_file"
	// RecordAnnotation holds the record's full name: with esm_file, what
	// scopes a plan to a change set or a --target, as esm's tags do on
	// Datadog.
	RecordAnnotation = "esm_record"
	SeverityCrit     = "critical"
	SeverityWarning  = "warning"
)

// WarningSuffix ends the plan's name of a warning rule: the monitor
// "Traffic Volume with CartViewed" with a warning threshold is two
// alerting rules, planned as "Traffic Volume with CartViewed" and
// "Traffic Volume with CartViewed (warning)", both labelled
// esm_monitor="Traffic Volume with CartViewed".
const WarningSuffix = " (warning)"

// NoFormError is the error of a kind that has no Prometheus form, such as
// @log_monitor (Datadog's log search): it matches monitor.ErrNoForm, so
// that the plan skips the monitor with a note.
type NoFormError struct {
	Kind string
	Why  string
}

// Error says which kind has no Prometheus form, and why.
func (e *NoFormError) Error() string {
	return fmt.Sprintf("@%s has no Prometheus form: %s", e.Kind, e.Why)
}

// Is reports whether target is monitor.ErrNoForm.
func (e *NoFormError) Is(target error) bool { return target == monitor.ErrNoForm }

// Render returns the alerting rules spec asks for: one with severity
// critical, and one with severity warning when the spec has a warning
// threshold, named as WarningSuffix says. Each kind has one render
// function, in a file of its own that registers it; a kind without one
// (a log monitor, a kind declared in esm.yaml, which is a Datadog query)
// is a *NoFormError.
func Render(spec annotations.Spec) ([]monitor.Definition, error) {
	r, ok := renderers[reflect.TypeOf(spec.Params)]
	if !ok {
		why := "it is a Datadog query"
		if spec.Kind == annotations.LogAnnotation {
			why = "it searches Datadog's logs, which Prometheus does not have"
		}
		return nil, &NoFormError{Kind: spec.Kind, Why: why}
	}
	return r(&spec)
}

// RenderOne returns the critical rule of spec, for callers that take one
// resource per spec (esm validate's check that every spec renders).
func RenderOne(spec annotations.Spec) (monitor.Definition, error) {
	ds, err := Render(spec)
	if err != nil {
		return monitor.Definition{}, err
	}
	return ds[0], nil
}

var renderers = map[reflect.Type]func(*annotations.Spec) ([]monitor.Definition, error){}

// register makes fn the render function of the kind whose parameters are
// a P.
func register[P annotations.Params](fn func(*annotations.Spec, P) ([]monitor.Definition, error)) {
	var zero P
	renderers[reflect.TypeOf(zero)] = func(s *annotations.Spec) ([]monitor.Definition, error) { return fn(s, s.Params.(P)) }
}

// alert is one severity of a monitor's alerting rule.
type alert struct {
	severity string
	expr     string
	summary  string
}

// thresholds returns the alerts of a comparison of value with op against
// the critical threshold and, when set, the warning one, each with its
// summary.
func thresholds(value, op string, critical float64, warning *float64, summary func(float64) string) []alert {
	out := []alert{{SeverityCrit, value + " " + op + " " + number(critical), summary(critical)}}
	if warning != nil {
		out = append(out, alert{SeverityWarning, value + " " + op + " " + number(*warning), summary(*warning)})
	}
	return out
}

// rules returns the Definitions of a monitor's alerting rules, the
// critical one first (it carries the recording rules). The alerts of a
// record's monitor are labelled event_type, those of a query's monitor
// query.
func rules(s *annotations.Spec, name, forDur string, records []monitor.RecordingRule, alerts ...alert) []monitor.Definition {
	t := &s.Target
	var out []monitor.Definition
	for i, a := range alerts {
		r := &monitor.AlertRule{
			Alert: name,
			Expr:  a.expr,
			For:   forDur,
			Labels: map[string]string{
				MonitorLabel:  s.Name,
				EnvLabel:      t.Env.EnvTag,
				SeverityLabel: a.severity,
				ChannelsLabel: ChannelsValue(t.Channels, a.severity),
			},
			Annotations: map[string]string{"summary": a.summary, FileAnnotation: t.File, RecordAnnotation: t.FullName},
		}
		if t.Query != nil {
			r.Labels[QueryLabel] = t.Query.Name
		} else {
			r.Labels[EventTypeLabel] = t.Record
		}
		if d := strings.TrimSpace(t.Doc); d != "" {
			r.Annotations["description"] = d
		}
		if m := strings.TrimSpace(s.Common.Message); m != "" {
			r.Annotations["message"] = m
		}
		d := monitor.Definition{Name: s.Name, Rule: r}
		if i == 0 {
			r.Records = records
		}
		if a.severity == SeverityWarning {
			d.Name += WarningSuffix
		}
		out = append(out, d)
	}
	return out
}

// ChannelsValue returns the esm_channels label of an alert of severity:
// the channels that always notify and those of the severity, sorted and
// without repeats, as ",a,b,"; "" for none.
func ChannelsValue(c annotations.Channels, severity string) string {
	chs := c.Of(severity)
	if len(chs) == 0 {
		return ""
	}
	return "," + strings.Join(chs, ",") + ","
}

// selector returns the label matchers of a record's counts in env:
// {event_type="CartViewed",env="prod"}.
func selector(t *annotations.Target) string {
	return "{" + EventTypeLabel + "=" + strconv.Quote(t.Record) + "," + EnvLabel + "=" + strconv.Quote(t.Env.EnvTag) + "}"
}

// recordLabels are the labels of a recording rule of a record's counts.
func recordLabels(t *annotations.Target) map[string]string {
	return map[string]string{EventTypeLabel: t.Record, EnvLabel: t.Env.EnvTag}
}

// number renders a threshold in an expression: 3, 2.5, 0.05, 1000000.
func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// spanRE matches esm's windows and spans: last_15m, next_1w, 1w, 60m, 3mo.
var spanRE = regexp.MustCompile(`^(?:last_|next_)?([1-9][0-9]*)(mo|s|m|h|d|w)$`)

var spanUnits = map[string]int64{"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}

// seconds returns the length of a window or span in seconds; a month is
// 30 days, as annotations counts it.
func seconds(span string) (int64, error) {
	m := spanRE.FindStringSubmatch(span)
	if m == nil {
		return 0, fmt.Errorf("%q is not a window esm knows", span)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", span, err)
	}
	return n * spanUnits[m[2]], nil
}

// duration renders seconds as a Prometheus duration in its largest whole
// unit: 3600 is 1h, 5400 is 90m, 604800 is 1w.
func duration(sec int64) string {
	for _, u := range []struct {
		unit string
		n    int64
	}{{"w", 7 * 86400}, {"d", 86400}, {"h", 3600}, {"m", 60}} {
		if sec >= u.n && sec%u.n == 0 {
			return strconv.FormatInt(sec/u.n, 10) + u.unit
		}
	}
	return strconv.FormatInt(sec, 10) + "s"
}

// promDuration converts an esm window or span to a Prometheus duration.
func promDuration(span string) (string, error) {
	sec, err := seconds(span)
	if err != nil {
		return "", err
	}
	return duration(sec), nil
}

// errs joins the errors of converting several spans.
func errs(list ...error) error { return errors.Join(list...) }
