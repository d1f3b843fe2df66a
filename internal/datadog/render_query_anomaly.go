package datadog

import (
	"fmt"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderQueryAnomaly) }

// renderQueryAnomaly renders a query file's anomaly monitor: Datadog's
// anomalies() on the average of the query's gauge, by its label columns
// (https://docs.datadoghq.com/monitors/types/anomaly/).
func renderQueryAnomaly(s *annotations.Spec, p *annotations.QueryAnomalySpec) (monitor.Definition, error) {
	t := &s.Target
	var q strings.Builder
	fmt.Fprintf(&q, "avg(%s):anomalies(%s, '%s', %s, direction='%s', alert_window='%s', interval=%d, count_default_zero='%t'",
		p.QueryWindow, querySeries(t), p.Algorithm, number(p.Deviations), p.Direction, p.AlertWindow, p.Interval, p.CountDefaultZero)
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
	summary := fmt.Sprintf("Query anomaly for %s in %s: the value of %s{%s}%s left its expected band (%s, %s deviations, direction %s%s).",
		queryName(t), t.Env.Name, t.Env.QueryMetric, annotations.TagFilter("query", queryName(t)), perLabels(t), p.Algorithm, number(p.Deviations), p.Direction, seas)
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}
