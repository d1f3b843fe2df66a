package prometheus

import (
	"fmt"
	"strconv"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderBadData) }

// renderBadData renders @bad_data_monitor: the share of the record's
// events the collector rejected in the window, the increase of
// esm_events_rejected_total over that of the received and the rejected
// ones together, compared with above. The rejected counter has no env
// label (its labels are event_type and reason): it is selected by
// event_type alone. No rejection leaves the expression empty, which does
// not alert; no accepted event counts as zero.
func renderBadData(s *annotations.Spec, p *annotations.BadDataSpec) ([]monitor.Definition, error) {
	t := &s.Target
	w, err := promDuration(p.Window)
	if err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	rejected := fmt.Sprintf("sum(increase(%s{%s=%s}[%s]))", RejectedMetric, EventTypeLabel, strconv.Quote(t.Record), w)
	received := fmt.Sprintf("(sum(increase(%s%s[%s])) or vector(0))", ReceivedMetric, selector(t), w)
	share := fmt.Sprintf("%s / (%s + %s)", rejected, received, rejected)
	summary := func(n float64) string {
		return fmt.Sprintf("Bad data for %s events in %s: more than %s%% of them were rejected by the collector in the last %s.",
			t.Record, t.Env.Name, percent(n), w)
	}
	return rules(s, "EsmBadData", "", nil, thresholds(share, ">", p.Above, p.Warning, summary)...), nil
}

// percent renders a share as a percentage: 5 for 0.05, 12.5 for 0.125.
func percent(share float64) string {
	return number(float64(int64(share*1e6+0.5)) / 1e4)
}
