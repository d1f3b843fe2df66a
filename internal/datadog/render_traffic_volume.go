package datadog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficVolume) }

// renderTrafficVolume renders @traffic_volume_monitor: a metric monitor
// with a threshold on the sum of the record's count over the window
// (https://docs.datadoghq.com/monitors/types/metric/), "<" for below and
// ">" for above.
func renderTrafficVolume(s *annotations.Spec, p *annotations.TrafficVolumeSpec) (monitor.Definition, error) {
	t := &s.Target
	op, side := "<", "fewer than "+number(p.Threshold)+" events"
	if p.Direction == "above" {
		op, side = ">", "more than "+number(p.Threshold)+" events"
	} else if p.Threshold == 1 {
		side = "no events"
	}
	query := fmt.Sprintf("sum(%s):sum:%s{%s}.as_count() %s %s", p.Window, t.Env.Metric, scope(t), op, number(p.Threshold))

	m := base(s, "query alert", query)
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(p.Threshold), Warning: copyFloat(p.Warning)}
	summary := fmt.Sprintf("Traffic volume for %s events in %s: %s of %s{%s} in the last %s.",
		t.Record, t.Env.Name, side, t.Env.Metric, annotations.TagFilter("event_type", t.Record), windowText(p.Window))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// windowUnits name the units of a window for messages.
var windowUnits = map[byte]string{'m': "minute", 'h': "hour", 'd': "day", 'w': "week"}

// windowText renders a window for a message: "1 hour" for last_1h,
// "15 minutes" for last_15m.
func windowText(w string) string {
	spec := strings.TrimPrefix(w, "last_")
	if len(spec) < 2 {
		return w
	}
	n, unit := spec[:len(spec)-1], windowUnits[spec[len(spec)-1]]
	if _, err := strconv.Atoi(n); err != nil || unit == "" {
		return w
	}
	if n != "1" {
		unit += "s"
	}
	return n + " " + unit
}

// copyFloat returns a copy of *f, or nil: a monitor does not share a
// spec's values.
func copyFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	return monitor.Float(*f)
}
