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
	rw := duration(max(p.Interval, minRateWindow))
	rateExpr := fmt.Sprintf("sum(rate(%s%s[%s]))", ReceivedMetric, selector(t), rw)
	if p.CountDefaultZero {
		rateExpr += " or vector(0)"
	}
	b, err := anomalyBand(p, "rate", "event_type:esm_events_received:rate"+rw, rateExpr, selector(t), recordLabels(t))
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("Traffic anomaly for %s events in %s: the event rate has been more than %s standard deviations %s its baseline (%s) for %s.",
		t.Record, t.Env.Name, number(p.Deviations), b.side, b.how, b.alertFor)
	return rules(s, "EsmTrafficAnomaly", b.alertFor, b.records, alert{SeverityCrit, b.expr, summary}), nil
}

// band is an anomaly monitor's band around a baseline of a recorded
// value, as anomalyBand makes it.
type band struct {
	// records are the recording rules of the value, its baseline and its
	// standard deviation.
	records []monitor.RecordingRule
	// expr is the alert's expression: the value out of the band.
	expr string
	// side says which side(s) of the band alert: "above", "below" or
	// "above or below".
	side string
	// how says, for a summary, what the baseline is.
	how string
	// alertFor is alert_window as a Prometheus duration: the alert's for:.
	alertFor string
}

// anomalyBand returns the band of p around the value valueExpr recorded
// as value, with labels, the noun ("rate") saying what it is in the
// summary; sel selects the recorded series of this monitor
// (its labels). The baseline is, with a seasonality (agile, robust), last
// period's value at the same time (offset 1h, 1d or 1w) corrected by the
// period-over-period trend, the mean over query_window now minus the same
// mean a period ago; with basic, the mean over query_window. The width
// is deviations times the standard deviation over query_window. The
// means and the deviation are taken over the query window that ends
// alert_window ago (offset), so that an anomaly does not widen its own
// band before it has lasted alert_window. The alert expression keeps the
// labels the recorded series have: one alert per series.
func anomalyBand(p *annotations.TrafficAnomalySpec, noun, value, valueExpr, sel string, labels map[string]string) (band, error) {
	alertFor, err1 := promDuration(p.AlertWindow)
	qw, err2 := promDuration(p.QueryWindow)
	if err := errs(err1, err2); err != nil {
		return band{}, err
	}
	baseline, stddev := value+":baseline", value+":stddev"
	aw, _ := seconds(p.AlertWindow)
	var baseExpr, how string
	if period, ok := seasons[p.Seasonality]; ok {
		baseExpr = fmt.Sprintf("%[1]s%[2]s offset %[3]s + (avg_over_time(%[1]s%[2]s[%[4]s] offset %[5]s) - avg_over_time(%[1]s%[2]s[%[4]s] offset %[6]s))",
			value, sel, duration(period), qw, alertFor, duration(period+aw))
		how = fmt.Sprintf("last %s's %s at this time, corrected by the trend over %s", map[string]string{"hourly": "hour", "daily": "day", "weekly": "week"}[p.Seasonality], noun, qw)
	} else {
		baseExpr = fmt.Sprintf("avg_over_time(%s%s[%s] offset %s)", value, sel, qw, alertFor)
		how = "the mean " + noun + " over " + qw
	}
	b := band{alertFor: alertFor, how: how, records: []monitor.RecordingRule{
		{Record: value, Expr: valueExpr, Labels: labels},
		{Record: baseline, Expr: baseExpr, Labels: labels},
		{Record: stddev, Expr: fmt.Sprintf("stddev_over_time(%s%s[%s] offset %s)", value, sel, qw, alertFor), Labels: labels},
	}}
	v, base, sd, d := value+sel, baseline+sel, stddev+sel, number(p.Deviations)
	switch p.Direction {
	case "above":
		b.expr, b.side = fmt.Sprintf("%s - %s > %s * %s", v, base, d, sd), "above"
	case "below":
		b.expr, b.side = fmt.Sprintf("%s - %s > %s * %s", base, v, d, sd), "below"
	default:
		b.expr, b.side = fmt.Sprintf("abs(%s - %s) > %s * %s", v, base, d, sd), "above or below"
	}
	return b, nil
}
