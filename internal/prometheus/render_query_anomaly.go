package prometheus

import (
	"errors"
	"fmt"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderQueryAnomaly) }

// errRowsDefaultZero is count_default_zero on a query with label
// columns: a missing row has no labels for its zero.
var errRowsDefaultZero = errors.New("count_default_zero: the Prometheus rule cannot count a missing row as zero, since a query with label columns does not say which rows to expect; set count_default_zero: false")

// renderQueryAnomaly renders a query file's anomaly monitor: the band of
// @traffic_anomaly_monitor (anomalyBand) around the query's gauge instead
// of an event rate. The recorded value is the gauge's mean over interval
// (at least 5m, as the event rate's range), averaged by the query's label
// columns: one band, and one alert, per row; "or vector(0)" with
// count_default_zero, which needs a query without label columns.
func renderQueryAnomaly(s *annotations.Spec, p *annotations.QueryAnomalySpec) ([]monitor.Definition, error) {
	t := &s.Target
	a := &p.TrafficAnomalySpec
	if a.CountDefaultZero && len(queryLabels(t)) > 0 {
		return nil, errRowsDefaultZero
	}
	iw := duration(max(a.Interval, minRateWindow))
	valueExpr := byLabels(t, fmt.Sprintf("avg_over_time(%s%s[%s])", QueryValueMetric, querySelector(t), iw))
	if a.CountDefaultZero {
		valueExpr += " or vector(0)"
	}
	labels := map[string]string{QueryLabel: queryName(t), EnvLabel: t.Env.EnvTag}
	sel := fmt.Sprintf("{%s=%q,%s=%q}", QueryLabel, queryName(t), EnvLabel, t.Env.EnvTag)
	b, err := anomalyBand(a, "value", "query:esm_query_value:avg"+iw, valueExpr, sel, labels)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("Query anomaly for %s in %s: the value of %s%s%s has been more than %s standard deviations %s its baseline (%s) for %s.",
		queryName(t), t.Env.Name, QueryValueMetric, querySelector(t), perRow(t), number(a.Deviations), b.side, b.how, b.alertFor)
	return rules(s, "EsmQueryAnomaly", b.alertFor, b.records, alert{SeverityCrit, b.expr, summary}), nil
}
