package datadog

import (
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderQueryAnomaly) }

// renderQueryAnomaly renders a query file's anomaly monitor: Datadog's
// anomalies() on the average of the query's gauge, by its label columns
// (https://docs.datadoghq.com/monitors/types/anomaly/).
func renderQueryAnomaly(s *annotations.Spec, p *annotations.QueryAnomalySpec) (monitor.Definition, error) {
	t := &s.Target
	m := anomalyMonitor(s, &p.TrafficAnomalySpec, querySeries(t))
	summary := fmt.Sprintf("Query anomaly for %s in %s: the value of %s{%s}%s left its expected band (%s).",
		queryName(t), t.Env.Name, t.Env.QueryMetric, annotations.TagFilter("query", queryName(t)), perLabels(t), anomalyBand(&p.TrafficAnomalySpec))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}
