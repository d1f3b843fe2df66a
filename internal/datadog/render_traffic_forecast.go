package datadog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficForecast) }

// renderTrafficForecast renders @traffic_forecast_monitor: Datadog's
// forecast() on the record's count, max(<horizon>) ... >= <above> or
// min(<horizon>) ... <= <below>
// (https://docs.datadoghq.com/monitors/types/forecasts/#api). Forecast
// monitors take thresholds but no threshold windows (those are the
// anomaly monitor's).
func renderTrafficForecast(s *annotations.Spec, p *annotations.TrafficForecastSpec) (monitor.Definition, error) {
	t := &s.Target
	agg, cmp, verb := "max", ">=", "reaches"
	if p.Direction == "below" {
		agg, cmp, verb = "min", "<=", "falls to"
	}
	var q strings.Builder
	fmt.Fprintf(&q, "%s(%s):forecast(sum:%s{%s}.as_count(), '%s', %s, interval='%s'",
		agg, p.Horizon, t.Env.Metric, scope(t), p.Algorithm, number(p.Deviations), p.Interval)
	for _, o := range []struct{ name, value string }{{"history", p.History}, {"model", p.Model}, {"seasonality", p.Seasonality}} {
		if o.value != "" {
			fmt.Fprintf(&q, ", %s='%s'", o.name, o.value)
		}
	}
	fmt.Fprintf(&q, ") %s %s", cmp, thresholdText(p.Threshold))

	m := base(s, "query alert", q.String())
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(p.Threshold), Warning: p.Warning}
	how := p.Algorithm
	if p.Seasonality != "" {
		how += ", " + p.Seasonality + " seasonality"
	}
	summary := fmt.Sprintf("Traffic forecast for %s events in %s: the forecast of the count of %s{%s} %s %s within the %s (%s, %s deviations).",
		t.Record, t.Env.Name, t.Env.Metric, annotations.TagFilter("event_type", t.Record), verb, thresholdText(p.Threshold),
		strings.Replace(p.Horizon, "next_", "next ", 1), how, number(p.Deviations))
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// thresholdText renders the threshold that ends a query in plain decimal
// notation, as Datadog's query grammar has it (1000000, not 1e+06).
func thresholdText(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
