package prometheus

import (
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTrafficAnomaly) }

// minRateWindow is the shortest range esm gives rate(): four scrapes at
// Prometheus' default scrape interval of one minute, the range Grafana
// advises for rate() ($__rate_interval,
// https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/#use-__rate_interval).
const minRateWindow = 5 * 60

// seasons are the periods of the seasonalities, in seconds.
var seasons = map[string]int64{"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}

// renderTrafficAnomaly renders @traffic_anomaly_monitor: a band of
// deviations standard deviations around a baseline of the record's event
// rate, which the rate must leave (above, below or both) for alert_window
// (the rule's for:). Three recording rules keep the alert cheap:
//
//   - the rate: sum(rate(esm_events_received_total{...}[interval])), the
//     interval at least 5m, "or vector(0)" with count_default_zero;
//   - the baseline: with a seasonality (agile, robust), last period's rate
//     at the same time (offset 1h, 1d or 1w) corrected by the
//     period-over-period trend, the mean over query_window now minus the
//     same mean a period ago, as GitLab's "Anomaly detection using
//     Prometheus" (https://about.gitlab.com/blog/2019/07/23/anomaly-detection-using-prometheus/)
//     predicts a rate from last week's; with basic, the mean over
//     query_window (avg_over_time);
//   - the standard deviation of the rate over query_window
//     (stddev_over_time), which with the baseline makes the z-score of
//     that article.
//
// The means and the deviation are taken over the query window that ends
// alert_window ago (offset), so that an anomaly does not widen its own
// band before it has lasted alert_window.
func renderTrafficAnomaly(s *annotations.Spec, p *annotations.TrafficAnomalySpec) ([]monitor.Definition, error) {
	t := &s.Target
	alertFor, err1 := promDuration(p.AlertWindow)
	qw, err2 := promDuration(p.QueryWindow)
	if err := errs(err1, err2); err != nil {
		return nil, err
	}
	rateSec := max(p.Interval, minRateWindow)
	rw := duration(rateSec)
	sel := selector(t)
	rate := "event_type:esm_events_received:rate" + rw
	baseline, stddev := rate+":baseline", rate+":stddev"

	rateExpr := fmt.Sprintf("sum(rate(%s%s[%s]))", ReceivedMetric, sel, rw)
	if p.CountDefaultZero {
		rateExpr += " or vector(0)"
	}
	// The band is learnt from the query window that ends alert_window
	// ago: an anomaly does not widen the band it must leave before it has
	// lasted long enough to fire.
	aw, _ := seconds(p.AlertWindow)
	var baseExpr, how string
	if period, ok := seasons[p.Seasonality]; ok {
		baseExpr = fmt.Sprintf("%[1]s%[2]s offset %[3]s + (avg_over_time(%[1]s%[2]s[%[4]s] offset %[5]s) - avg_over_time(%[1]s%[2]s[%[4]s] offset %[6]s))",
			rate, sel, duration(period), qw, alertFor, duration(period+aw))
		how = fmt.Sprintf("last %s's rate at this time, corrected by the trend over %s", map[string]string{"hourly": "hour", "daily": "day", "weekly": "week"}[p.Seasonality], qw)
	} else {
		baseExpr = fmt.Sprintf("avg_over_time(%s%s[%s] offset %s)", rate, sel, qw, alertFor)
		how = "the mean rate over " + qw
	}
	labels := recordLabels(t)
	records := []monitor.RecordingRule{
		{Record: rate, Expr: rateExpr, Labels: labels},
		{Record: baseline, Expr: baseExpr, Labels: labels},
		{Record: stddev, Expr: fmt.Sprintf("stddev_over_time(%s%s[%s] offset %s)", rate, sel, qw, alertFor), Labels: labels},
	}
	r, b, sd, d := rate+sel, baseline+sel, stddev+sel, number(p.Deviations)
	var expr, side string
	switch p.Direction {
	case "above":
		expr, side = fmt.Sprintf("%s - %s > %s * %s", r, b, d, sd), "above"
	case "below":
		expr, side = fmt.Sprintf("%s - %s > %s * %s", b, r, d, sd), "below"
	default:
		expr, side = fmt.Sprintf("abs(%s - %s) > %s * %s", r, b, d, sd), "above or below"
	}
	summary := fmt.Sprintf("Traffic anomaly for %s events in %s: the event rate has been more than %s standard deviations %s its baseline (%s) for %s.",
		t.Record, t.Env.Name, d, side, how, alertFor)
	return rules(s, "EsmTrafficAnomaly", alertFor, records, alert{SeverityCrit, expr, summary}), nil
}
