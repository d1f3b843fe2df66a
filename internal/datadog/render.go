package datadog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// Render returns the Datadog monitor that spec asks for: its name, type,
// query, message, tags and options, as Datadog stores them. The identity
// tags (esm-<env>, esm_record:, esm_file:) are the caller's. Each kind has
// one render function here; a kind Datadog cannot watch is an error.
func Render(spec annotations.Spec) (monitor.Definition, error) {
	switch p := spec.Params.(type) {
	case *annotations.TrafficAnomalySpec:
		return renderTrafficAnomaly(&spec, p), nil
	}
	return monitor.Definition{}, fmt.Errorf("the Datadog backend has no monitor for @%s", spec.Kind)
}

// base returns the parts every kind's monitor shares: the name, the tags,
// the priority and the options of the common parameters.
func base(s *annotations.Spec, typ, query string) monitor.Definition {
	c := &s.Common
	return monitor.Definition{
		Name:     s.Name,
		Type:     typ,
		Query:    query,
		Tags:     s.Tags(),
		Priority: c.Priority,
		Options: monitor.Options{
			NotifyNoData:      c.NotifyNoData,
			NoDataTimeframe:   c.NoDataTimeframe,
			RenotifyInterval:  c.RenotifyInterval,
			EvaluationDelay:   c.EvaluationDelay,
			IncludeTags:       c.IncludeTags,
			RequireFullWindow: c.RequireFullWindow,
			NotifyAudit:       c.NotifyAudit,
			EscalationMessage: c.EscalationMessage,
			TimeoutH:          c.TimeoutH,
		},
	}
}

// scope returns the filter of the record's count in a query, in the form
// Datadog stores the tags: the collector's event_type:AddToCartEvent is
// stored, and only matches, as event_type:addtocartevent.
func scope(t *annotations.Target) string {
	return annotations.TagFilter("event_type", t.Record) + "," + annotations.TagFilter("env", t.Env.EnvTag)
}

// number renders a parameter in a query or a message: 3, 2.5, 0.05.
func number(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func renderTrafficAnomaly(s *annotations.Spec, p *annotations.TrafficAnomalySpec) monitor.Definition {
	t := &s.Target
	var q strings.Builder
	fmt.Fprintf(&q, "avg(%s):anomalies(sum:%s{%s}.as_count(), '%s', %s, direction='%s', alert_window='%s', interval=%d, count_default_zero='%t'",
		p.QueryWindow, t.Env.Metric, scope(t), p.Algorithm, number(p.Deviations), p.Direction, p.AlertWindow, p.Interval, p.CountDefaultZero)
	if p.Seasonality != "" {
		fmt.Fprintf(&q, ", seasonality='%s'", p.Seasonality)
	}
	q.WriteString(") >= 1")

	m := base(s, "query alert", q.String())
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)}
	m.Options.ThresholdWindows = &monitor.ThresholdWindows{TriggerWindow: p.AlertWindow, RecoveryWindow: p.AlertWindow}
	seas := ""
	if p.Seasonality != "" {
		seas = ", " + p.Seasonality + " seasonality"
	}
	summary := fmt.Sprintf("Traffic anomaly for %s events in %s: the count of %s{%s} left its expected band (%s, %s deviations, direction %s%s).",
		t.Record, t.Env.Name, t.Env.Metric, annotations.TagFilter("event_type", t.Record), p.Algorithm, number(p.Deviations), p.Direction, seas)
	m.Message = s.Message(summary, Handles(t.Channels))
	return m
}
