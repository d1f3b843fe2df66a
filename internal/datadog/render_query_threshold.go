package datadog

import (
	"fmt"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderQueryThreshold) }

// renderQueryThreshold renders a query file's threshold monitor: a metric
// monitor on the average of the query's gauge over the window, one
// series per combination of the label columns
// (https://docs.datadoghq.com/monitors/types/metric/), "<" for below and
// ">" for above.
func renderQueryThreshold(s *annotations.Spec, p *annotations.QueryThresholdSpec) (monitor.Definition, error) {
	t := &s.Target
	op, side := "<", "below"
	if p.Direction == "above" {
		op, side = ">", "above"
	}
	query := fmt.Sprintf("avg(%s):%s %s %s", p.Window, querySeries(t), op, number(p.Threshold))

	m := base(s, "query alert", query)
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(p.Threshold), Warning: copyFloat(p.Warning)}
	summary := fmt.Sprintf("Query threshold for %s in %s: the value of %s{%s}%s is %s %s (average over the last %s).",
		queryName(t), t.Env.Name, t.Env.QueryMetric, annotations.TagFilter("query", queryName(t)), perLabels(t), side, number(p.Threshold), windowText(p.Window))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// queryName is the name of the query a query monitor watches.
func queryName(t *annotations.Target) string {
	if t.Query != nil {
		return t.Query.Name
	}
	return t.Record
}

// querySeries returns the series of a query monitor: the average of the
// environment's query gauge for the query, by its label columns, in the
// form Datadog stores the tags: avg:esm.query.value{query:orders,env:prod} by {country}.
func querySeries(t *annotations.Target) string {
	q := fmt.Sprintf("avg:%s{%s,%s}", t.Env.QueryMetric, annotations.TagFilter("query", queryName(t)), annotations.TagFilter("env", t.Env.EnvTag))
	if by := queryLabels(t); len(by) > 0 {
		q += " by {" + strings.Join(by, ",") + "}"
	}
	return q
}

// queryLabels returns the label columns of a query as Datadog stores the
// tag keys (lowercase).
func queryLabels(t *annotations.Target) []string {
	if t.Query == nil {
		return nil
	}
	out := make([]string, len(t.Query.Labels))
	for i, l := range t.Query.Labels {
		out[i] = annotations.DatadogTag(l)
	}
	return out
}

// perLabels says, for a message, which series a query monitor watches:
// " for each country" or nothing.
func perLabels(t *annotations.Target) string {
	by := queryLabels(t)
	if len(by) == 0 {
		return ""
	}
	return " for each " + strings.Join(by, ", ")
}
