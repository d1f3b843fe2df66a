package prometheus

import (
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficVolume) }

// renderTrafficVolume renders @traffic_volume_monitor: the increase of
// esm_events_received_total over the window
// (https://prometheus.io/docs/prometheus/latest/querying/functions/#increase),
// "or vector(0)" so that an absent series (a type that never sent an
// event, or a collector no longer scraped) counts as zero events, compared
// with below (<) or above (>).
func renderTrafficVolume(s *annotations.Spec, p *annotations.TrafficVolumeSpec) ([]monitor.Definition, error) {
	t := &s.Target
	w, err := promDuration(p.Window)
	if err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	count := fmt.Sprintf("(sum(increase(%s%s[%s])) or vector(0))", ReceivedMetric, selector(t), w)
	op, words := "<", "fewer than"
	if p.Direction == "above" {
		op, words = ">", "more than"
	}
	side := func(n float64) string {
		if p.Direction == "below" && n == 1 {
			return "no events"
		}
		return words + " " + number(n) + " events"
	}
	summary := func(n float64) string {
		return fmt.Sprintf("Traffic volume for %s events in %s: %s in the last %s.", t.Record, t.Env.Name, side(n), w)
	}
	return rules(s, "EsmTrafficVolume", "", nil, thresholds(count, op, p.Threshold, p.Warning, summary)...), nil
}
