package datadog

import (
	"fmt"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficAnomaly) }

// renderTrafficAnomaly renders @traffic_anomaly_monitor: Datadog's
// anomalies() on the record's count
// (https://docs.datadoghq.com/monitors/types/anomaly/).
func renderTrafficAnomaly(s *annotations.Spec, p *annotations.TrafficAnomalySpec) (monitor.Definition, error) {
	t := &s.Target
	m := anomalyMonitor(s, p, fmt.Sprintf("sum:%s{%s}.as_count()", t.Env.Metric, scope(t)))
	summary := fmt.Sprintf("Traffic anomaly for %s events in %s: the count of %s{%s} left its expected band (%s).",
		t.Record, t.Env.Name, t.Env.Metric, annotations.TagFilter("event_type", t.Record), anomalyBand(p))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// anomalyMonitor returns the monitor of Datadog's anomalies() on series
// with p's parameters, but its message.
func anomalyMonitor(s *annotations.Spec, p *annotations.TrafficAnomalySpec, series string) monitor.Definition {
	var q strings.Builder
	fmt.Fprintf(&q, "avg(%s):anomalies(%s, '%s', %s, direction='%s', alert_window='%s', interval=%d, count_default_zero='%t'",
		p.QueryWindow, series, p.Algorithm, number(p.Deviations), p.Direction, p.AlertWindow, p.Interval, p.CountDefaultZero)
	if p.Seasonality != "" {
		fmt.Fprintf(&q, ", seasonality='%s'", p.Seasonality)
	}
	q.WriteString(") >= 1")

	m := base(s, "query alert", q.String())
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)}
	m.Options.ThresholdWindows = &monitor.ThresholdWindows{TriggerWindow: p.AlertWindow, RecoveryWindow: p.AlertWindow}
	return m
}

// anomalyBand describes the expected band for a message: "agile, 3
// deviations, direction both, weekly seasonality".
func anomalyBand(p *annotations.TrafficAnomalySpec) string {
	seas := ""
	if p.Seasonality != "" {
		seas = ", " + p.Seasonality + " seasonality"
	}
	return fmt.Sprintf("%s, %s deviations, direction %s%s", p.Algorithm, number(p.Deviations), p.Direction, seas)
}
