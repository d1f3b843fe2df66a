package prometheus

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
)

// queryTarget returns a function making the target of the query
// orders_today with the label columns labels, as reconcile makes it from
// a query file.
func queryTarget(labels ...string) func() annotations.Target {
	return func() annotations.Target {
		return annotations.Target{
			Record: "orders_today", FullName: annotations.QueryFullName("orders_today"), Doc: "The orders of the day, per country",
			File: "queries/orders.yaml", Line: 8,
			Env:      annotations.Environment{Name: "prod", Metric: "esm.events.received", RejectedMetric: "esm.events.rejected", EnvTag: "prod", QueryMetric: "esm.query.value"},
			Channels: annotations.Channels{Always: []string{"team-data"}},
			Query:    &annotations.QueryTarget{Name: "orders_today", Labels: labels},
		}
	}
}

// TestRenderQueryThresholdLabels: a query's alerts are labelled query in
// place of event_type, and the rest as every kind's; the expression
// averages the gauge by the label columns.
func TestRenderQueryThresholdLabels(t *testing.T) {
	defs, err := Render(spec(t, annotations.QueryThreshold(), queryTarget("country")(), `{"below": 1000, "warning": 2000}`))
	require.NoError(t, err)
	require.Len(t, defs, 2)
	assert.Equal(t, "Query Threshold with orders_today", defs[0].Name)
	assert.Equal(t, "Query Threshold with orders_today (warning)", defs[1].Name)
	assert.Equal(t, "EsmQueryThreshold", defs[0].Rule.Alert)
	assert.Equal(t, map[string]string{
		"esm_monitor": "Query Threshold with orders_today", "query": "orders_today", "env": "prod",
		"severity": "critical", "esm_channels": ",team-data,",
	}, defs[0].Rule.Labels)
	assert.Equal(t, "warning", defs[1].Rule.Labels["severity"])
	assert.Equal(t, `avg by (country) (avg_over_time(esm_query_value{query="orders_today"}[1h])) < 1000`, defs[0].Rule.Expr)
	assert.Equal(t, `avg by (country) (avg_over_time(esm_query_value{query="orders_today"}[1h])) < 2000`, defs[1].Rule.Expr)
	assert.Empty(t, defs[0].Rule.For)
	assert.Equal(t, map[string]string{
		"summary":     `Query threshold for orders_today in prod: the value of esm_query_value{query="orders_today"} for country="{{ $labels.country }}" is below 1000 (average over the last 1h).`,
		"description": "The orders of the day, per country", "esm_file": "queries/orders.yaml", "esm_record": "query:orders_today",
	}, defs[0].Rule.Annotations)

	defs, err = Render(spec(t, annotations.QueryThreshold(), queryTarget()(), `{"above": 5, "window": "last_15m"}`))
	require.NoError(t, err)
	require.Len(t, defs, 1)
	assert.Equal(t, `avg(avg_over_time(esm_query_value{query="orders_today"}[15m])) > 5`, defs[0].Rule.Expr)
}

// TestRenderQueryAnomaly: the band's recording rules are labelled query
// and env, and select by them; count_default_zero needs a query without
// label columns.
func TestRenderQueryAnomaly(t *testing.T) {
	defs, err := Render(spec(t, annotations.QueryAnomaly(), queryTarget("country")(), `{"algorithm": "basic"}`))
	require.NoError(t, err)
	require.Len(t, defs, 1)
	r := defs[0].Rule
	assert.Equal(t, "EsmQueryAnomaly", r.Alert)
	assert.Equal(t, "15m", r.For)
	require.Len(t, r.Records, 3)
	assert.Equal(t, "query:esm_query_value:avg5m", r.Records[0].Record)
	assert.Equal(t, `avg by (country) (avg_over_time(esm_query_value{query="orders_today"}[5m]))`, r.Records[0].Expr)
	for _, rec := range r.Records {
		assert.Equal(t, map[string]string{"query": "orders_today", "env": "prod"}, rec.Labels, rec.Record)
	}
	assert.Equal(t, `abs(query:esm_query_value:avg5m{query="orders_today",env="prod"} - query:esm_query_value:avg5m:baseline{query="orders_today",env="prod"}) > 2 * query:esm_query_value:avg5m:stddev{query="orders_today",env="prod"}`, r.Expr)
	assert.Equal(t, "orders_today", r.Labels["query"])
	assert.NotContains(t, r.Labels, "event_type")

	_, err = Render(spec(t, annotations.QueryAnomaly(), queryTarget("country")(), `{"count_default_zero": true}`))
	require.ErrorIs(t, err, errRowsDefaultZero)
	defs, err = Render(spec(t, annotations.QueryAnomaly(), queryTarget()(), `{"count_default_zero": true}`))
	require.NoError(t, err)
	assert.Equal(t, `avg(avg_over_time(esm_query_value{query="orders_today"}[5m])) or vector(0)`, defs[0].Rule.Records[0].Expr)
}

// gauge returns the values of a gauge scraped every minute for minutes,
// value(m) at minute m, in promtool's notation.
func gauge(minutes int, value func(m int) float64) string {
	var b strings.Builder
	for m := 0; m <= minutes; m++ {
		if m > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(value(m), 'f', 2, 64))
	}
	return b.String()
}

// constant is a gauge's value n, with 10% noise.
func constant(n float64) func(int) float64 {
	return func(m int) float64 { return n * (1 + 0.1*noise(m)) }
}

// queryRow is the gauge of the test query's row of country, as one esm
// at instance exports it.
func queryRow(country, instance, values string) inSeries {
	return inSeries{Series: `esm_query_value{query="orders_today",country="` + country + `",instance="` + instance + `",job="esm"}`, Values: values}
}

// queryFiring is the alert of the test query's monitor name for the row
// of country.
func queryFiring(name, severity, country string) expAlert {
	return expAlert{ExpLabels: map[string]string{
		MonitorLabel: name, QueryLabel: "orders_today", "country": country, EnvLabel: "prod", SeverityLabel: severity, ChannelsLabel: ",team-data,",
	}}
}

// TestPromtoolQueryThreshold: each row alerts on its own when its mean
// over the window crosses the threshold, and only that row; rows on the
// right side are quiet; a warning warns alone between the thresholds; a
// query without series is quiet; esm restarted at another address is one
// alert per row, not two.
func TestPromtoolQueryThreshold(t *testing.T) {
	t.Parallel()
	const name = "Query Threshold with orders_today"
	tg := queryTarget("country")()
	runPromtoolTestsOf(t, "1m", annotations.QueryThreshold(), tg, `{"below": 1000, "warning": 2000}`,
		ruleTest{Name: "rows above the thresholds are quiet", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(180, constant(5000))), queryRow("de", "a", gauge(180, constant(3000)))},
			AlertTests:  []alertTest{quiet("65m", "EsmQueryThreshold"), quiet("3h", "EsmQueryThreshold")}},
		ruleTest{Name: "one row falls below", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(180, constant(5000))), queryRow("de", "a", gauge(180, step(60, 3000, 100)))},
			AlertTests: []alertTest{
				quiet("60m", "EsmQueryThreshold"),
				fires("180m", "EsmQueryThreshold", queryFiring(name, SeverityCrit, "de"), queryFiring(name, SeverityWarning, "de")),
			}},
		ruleTest{Name: "a warning alone between the thresholds", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(120, constant(1500)))},
			AlertTests:  []alertTest{fires("90m", "EsmQueryThreshold", queryFiring(name, SeverityWarning, "fr"))}},
		ruleTest{Name: "a query without series is quiet", Interval: "1m",
			InputSeries: []inSeries{{Series: `esm_query_value{query="other",country="fr",instance="a",job="esm"}`, Values: gauge(120, constant(1))}},
			AlertTests:  []alertTest{quiet("90m", "EsmQueryThreshold")}},
		ruleTest{Name: "esm restarted at another address", Interval: "1m",
			InputSeries: []inSeries{
				queryRow("fr", "a", gauge(60, constant(100))),
				{Series: `esm_query_value{query="orders_today",country="fr",instance="b",job="esm"}`, Values: strings.Repeat("_ ", 61) + gauge(60, constant(100))},
			},
			AlertTests: []alertTest{fires("100m", "EsmQueryThreshold", queryFiring(name, SeverityCrit, "fr"), queryFiring(name, SeverityWarning, "fr"))}},
	)
	runPromtoolTestsOf(t, "1m", annotations.QueryThreshold(), tg, `{"above": 50, "window": "last_15m"}`,
		ruleTest{Name: "a row rises above", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(60, constant(10))), queryRow("de", "a", gauge(60, step(30, 10, 80)))},
			AlertTests: []alertTest{
				quiet("30m", "EsmQueryThreshold"),
				fires("50m", "EsmQueryThreshold", queryFiring("Query Threshold with orders_today", SeverityCrit, "de")),
			}},
	)
}

// TestPromtoolQueryAnomaly: a noisy steady value is quiet; a jump of one
// row beyond the deviations fires for that row after alert_window, and
// the other rows stay quiet; direction picks the side.
func TestPromtoolQueryAnomaly(t *testing.T) {
	t.Parallel()
	const name, minutes = "Query Anomaly with orders_today", 6 * 60
	at := func(m int) string { return strconv.Itoa(m) + "m" }
	jump := func(from int, factor float64) func(int) float64 {
		c := constant(200)
		return func(m int) float64 {
			if m >= from {
				return c(m) * factor
			}
			return c(m)
		}
	}
	tg := queryTarget("country")()
	runPromtoolTestsOf(t, "1m", annotations.QueryAnomaly(), tg, `{"algorithm": "basic", "deviations": 3}`,
		ruleTest{Name: "noisy steady values are quiet", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(minutes, constant(200))), queryRow("de", "a", gauge(minutes, constant(50)))},
			AlertTests:  []alertTest{quiet(at(200), "EsmQueryAnomaly"), quiet(at(300), "EsmQueryAnomaly"), quiet(at(minutes), "EsmQueryAnomaly")}},
		ruleTest{Name: "a jump of one row", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(minutes, jump(300, 3))), queryRow("de", "a", gauge(minutes, constant(50)))},
			AlertTests: []alertTest{
				quiet(at(299), "EsmQueryAnomaly"),
				quiet(at(310), "EsmQueryAnomaly"), // within alert_window
				fires(at(330), "EsmQueryAnomaly", queryFiring(name, SeverityCrit, "fr")),
			}},
		ruleTest{Name: "a drop of one row", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(minutes, jump(300, 0.2))), queryRow("de", "a", gauge(minutes, constant(50)))},
			AlertTests: []alertTest{
				quiet(at(299), "EsmQueryAnomaly"),
				fires(at(330), "EsmQueryAnomaly", queryFiring(name, SeverityCrit, "fr")),
			}},
	)
	runPromtoolTestsOf(t, "1m", annotations.QueryAnomaly(), tg, `{"algorithm": "basic", "deviations": 3, "direction": "above"}`,
		ruleTest{Name: "a drop is not above", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(minutes, jump(300, 0.2)))},
			AlertTests:  []alertTest{quiet(at(330), "EsmQueryAnomaly")}},
		ruleTest{Name: "a jump is", Interval: "1m",
			InputSeries: []inSeries{queryRow("fr", "a", gauge(minutes, jump(300, 3)))},
			AlertTests:  []alertTest{fires(at(330), "EsmQueryAnomaly", queryFiring(name, SeverityCrit, "fr"))}},
	)
}
