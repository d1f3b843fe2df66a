package datadog

import (
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderBadData) }

// renderBadData renders @bad_data_monitor: a metric monitor on the share
// of the record's events the collector rejected in the window, the
// rejection counter over the received and rejected ones together
// (https://docs.datadoghq.com/monitors/types/metric/).
func renderBadData(s *annotations.Spec, p *annotations.BadDataSpec) (monitor.Definition, error) {
	t := &s.Target
	sc := scope(t)
	rejected := fmt.Sprintf("sum:%s{%s}.as_count()", t.Env.RejectedMetric, sc)
	received := fmt.Sprintf("sum:%s{%s}.as_count()", t.Env.Metric, sc)
	query := fmt.Sprintf("sum(%s):%s / (%s + %s) > %s", p.Window, rejected, received, rejected, number(p.Above))

	m := base(s, "query alert", query)
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(p.Above), Warning: copyFloat(p.Warning)}
	summary := fmt.Sprintf("Bad data for %s events in %s: more than %s%% of them were rejected by the collector (%s{%s}) in the last %s.",
		t.Record, t.Env.Name, percent(p.Above), t.Env.RejectedMetric, annotations.TagFilter("event_type", t.Record), windowText(p.Window))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// percent renders a share as a percentage for a message: 5 for 0.05,
// 12.5 for 0.125, without the float noise of multiplying by 100.
func percent(share float64) string {
	return number(float64(int64(share*1e6+0.5)) / 1e4)
}
