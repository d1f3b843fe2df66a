package prometheus

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderQueryThreshold) }

// renderQueryThreshold renders a query file's threshold monitor: the mean
// of the query's gauge over the window
// (https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time),
// averaged by the query's label columns as the Datadog monitor's "avg by
// {<labels>}" is, compared with below (<) or above (>). Each row alerts
// on its own, labelled with its label columns; the labels of the scrape
// (instance, job, pod) are averaged away, so that esm restarted under
// another address does not alert twice for one row. A query without
// series does not alert: the gauge keeps its last good value when a run
// fails, so no series means that esm does not run the query, which
// EsmQueryFailing and the scrape's own alerts cover.
func renderQueryThreshold(s *annotations.Spec, p *annotations.QueryThresholdSpec) ([]monitor.Definition, error) {
	t := &s.Target
	w, err := promDuration(p.Window)
	if err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	value := byLabels(t, fmt.Sprintf("avg_over_time(%s%s[%s])", QueryValueMetric, querySelector(t), w))
	op, side := "<", "below"
	if p.Direction == "above" {
		op, side = ">", "above"
	}
	summary := func(n float64) string {
		return fmt.Sprintf("Query threshold for %s in %s: the value of %s%s%s is %s %s (average over the last %s).",
			queryName(t), t.Env.Name, QueryValueMetric, querySelector(t), perRow(t), side, number(n), w)
	}
	return rules(s, "EsmQueryThreshold", "", nil, thresholds(value, op, p.Threshold, p.Warning, summary)...), nil
}

// queryName is the name of the query a query monitor watches.
func queryName(t *annotations.Target) string {
	if t.Query != nil {
		return t.Query.Name
	}
	return t.Record
}

// queryLabels are the label columns of the query a query monitor
// watches: its gauge's labels besides query.
func queryLabels(t *annotations.Target) []string {
	if t.Query == nil {
		return nil
	}
	return t.Query.Labels
}

// querySelector returns the label matcher of a query's gauge:
// {query="orders"}. The gauge has no env label (esm serve exports it as
// the rows are, and Prometheus scrapes one environment's esm).
func querySelector(t *annotations.Target) string {
	return "{" + QueryLabel + "=" + strconv.Quote(queryName(t)) + "}"
}

// byLabels averages expr by the query's label columns, one series per
// row: "avg by (country) (expr)", or "avg(expr)" for a query without
// label columns.
func byLabels(t *annotations.Target, expr string) string {
	if by := queryLabels(t); len(by) > 0 {
		return "avg by (" + strings.Join(by, ", ") + ") (" + expr + ")"
	}
	return "avg(" + expr + ")"
}

// perRow says, in a summary, which row alerts: ` for country="{{
// $labels.country }}"` (a template Prometheus fills from the alert's
// labels), or nothing for a query without label columns.
func perRow(t *annotations.Target) string {
	by := queryLabels(t)
	if len(by) == 0 {
		return ""
	}
	parts := make([]string, len(by))
	for i, l := range by {
		parts[i] = fmt.Sprintf("%s=\"{{ $labels.%s }}\"", l, l)
	}
	return " for " + strings.Join(parts, ", ")
}
