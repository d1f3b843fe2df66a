package prometheus

import (
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficForecast) }

// defaultHistory is the history of a linear forecast that leaves it
// unset: one week, as Datadog's forecast() takes it.
const defaultHistory = "1w"

// renderTrafficForecast renders @traffic_forecast_monitor with
// predict_linear
// (https://prometheus.io/docs/prometheus/latest/querying/functions/#predict_linear):
// a recording rule counts the record's events per interval (the increase
// of esm_events_received_total, "or vector(0)" so that silence counts as
// zero), and the alert fits a line through that count over history and
// compares its value horizon ahead with below (<=) or above (>=). The
// seasonal algorithm has no Prometheus counterpart: it fits the line over
// a whole season, which averages the season out. Deviations (the width of
// Datadog's bounds) has none either: predict_linear gives no bounds.
func renderTrafficForecast(s *annotations.Spec, p *annotations.TrafficForecastSpec) ([]monitor.Definition, error) {
	t := &s.Target
	history := p.History
	if period, ok := seasons[p.Seasonality]; ok && p.Algorithm == "seasonal" {
		history = duration(period)
	} else if history == "" {
		history = defaultHistory
	}
	iv, err1 := promDuration(p.Interval)
	hist, err2 := promDuration(history)
	horizon, err3 := seconds(p.Horizon)
	if err := errs(err1, err2, err3); err != nil {
		return nil, err
	}
	sel := selector(t)
	count := "event_type:esm_events_received:increase" + iv
	records := []monitor.RecordingRule{{
		Record: count,
		Expr:   fmt.Sprintf("sum(increase(%s%s[%s])) or vector(0)", ReceivedMetric, sel, iv),
		Labels: recordLabels(t),
	}}
	op, verb := ">=", "reaches"
	if p.Direction == "below" {
		op, verb = "<=", "falls to"
	}
	forecast := fmt.Sprintf("predict_linear(%s%s[%s], %d)", count, sel, hist, horizon)
	summary := func(n float64) string {
		return fmt.Sprintf("Traffic forecast for %s events in %s: the linear forecast of the events per %s, fitted over %s, %s %s within %s.",
			t.Record, t.Env.Name, iv, hist, verb, number(n), duration(horizon))
	}
	return rules(s, "EsmTrafficForecast", "", records, thresholds(forecast, op, p.Threshold, p.Warning, summary)...), nil
}
