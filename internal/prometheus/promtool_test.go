package prometheus

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// The unit tests of this file run the rules esm renders through promtool
// test rules (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/)
// over synthetic series: each kind's alert fires on its condition and
// stays quiet on normal traffic.

// ruleTest is one test group of a promtool test file.
type ruleTest struct {
	Name        string      `yaml:"name"`
	Interval    string      `yaml:"interval"`
	InputSeries []inSeries  `yaml:"input_series"`
	AlertTests  []alertTest `yaml:"alert_rule_test"`
}

type inSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	AlertName string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels map[string]string `yaml:"exp_labels"`
}

// counter returns the values of a counter scraped every minute for
// minutes, which grows by perMinute(m) in minute m, in promtool's
// notation (whole numbers, space-separated).
func counter(minutes int, perMinute func(m int) float64) string {
	return counterEvery(1, minutes, perMinute)
}

// counterEvery is counter scraped every step minutes.
func counterEvery(step, minutes int, perMinute func(m int) float64) string {
	var b strings.Builder
	total := 0.0
	for m := 0; m <= minutes; m++ {
		if m > 0 {
			total += perMinute(m)
		}
		if m%step != 0 {
			continue
		}
		if m > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(math.Round(total), 'f', -1, 64))
	}
	return b.String()
}

// noise returns a deterministic jitter in [-1, 1) for minute m, which no
// period repeats exactly.
func noise(m int) float64 {
	x := uint32(m)*2654435761 + 12345
	x ^= x >> 13
	x *= 0x5bd1e995
	x ^= x >> 15
	return float64(x%2000)/1000 - 1
}

// steady is a rate of about n events a minute, with 10% noise.
func steady(n float64) func(int) float64 {
	return func(m int) float64 { return n * (1 + 0.1*noise(m)) }
}

// receivedSeries is the received counter of the test target.
func receivedSeries(values string) inSeries {
	return inSeries{Series: `esm_events_received_total{event_type="AddToCartEvent",env="prod"}`, Values: values}
}

// firing is the alert of the test target's monitor with severity.
func firing(name, severity, channels string) expAlert {
	return expAlert{ExpLabels: map[string]string{
		MonitorLabel: name, EventTypeLabel: "AddToCartEvent", EnvLabel: "prod", SeverityLabel: severity, ChannelsLabel: channels,
	}}
}

// quiet expects no alert.
func quiet(at, alert string) alertTest {
	return alertTest{EvalTime: at, AlertName: alert, ExpAlerts: []expAlert{}}
}

// fires expects the alerts at.
func fires(at, alert string, want ...expAlert) alertTest {
	return alertTest{EvalTime: at, AlertName: alert, ExpAlerts: want}
}

// runPromtoolTests renders the monitor that params ask of kind, without
// annotations (promtool compares them too; these tests are about when
// and with which labels an alert fires), and runs tests over it.
func runPromtoolTests(t *testing.T, kind annotations.Kind, params string, tests ...ruleTest) {
	t.Helper()
	runPromtoolTestsEvery(t, "1m", kind, params, tests...)
}

// runPromtoolTestsEvery is runPromtoolTests with the rules evaluated
// every interval.
func runPromtoolTestsEvery(t *testing.T, interval string, kind annotations.Kind, params string, tests ...ruleTest) {
	t.Helper()
	runPromtoolTestsOf(t, interval, kind, target(), params, tests...)
}

// runPromtoolTestsOf is runPromtoolTestsEvery on the monitor of tg.
func runPromtoolTestsOf(t *testing.T, interval string, kind annotations.Kind, tg annotations.Target, params string, tests ...ruleTest) {
	t.Helper()
	promtool := needTool(t, "promtool")
	defs, err := Render(spec(t, kind, tg, params))
	require.NoError(t, err)
	ms := make([]monitor.Monitor, len(defs))
	for i, d := range defs {
		r := *d.Rule
		r.Annotations = nil
		d.Rule = &r
		ms[i] = monitor.Monitor{ID: int64(i + 1), Definition: d}
	}
	rules, err := encodeRules(ms, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644))
	file := struct {
		RuleFiles          []string   `yaml:"rule_files"`
		EvaluationInterval string     `yaml:"evaluation_interval"`
		Tests              []ruleTest `yaml:"tests"`
	}{[]string{"rules.yml"}, interval, tests}
	data, err := yaml.Marshal(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yml"), data, 0o644))
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s\nrules:\n%s", out, rules)
}

const (
	volumeName  = "Traffic Volume with AddToCartEvent"
	anomalyName = "Traffic Anomaly with AddToCartEvent"
)

// TestPromtoolTrafficVolume: no event in the last hour alerts, whether
// the events stop, the type never sent one, or the collector is no longer
// scraped; steady traffic does not; a warning threshold warns alone.
func TestPromtoolTrafficVolume(t *testing.T) {
	t.Parallel()
	runPromtoolTests(t, annotations.TrafficVolume(), `{}`,
		ruleTest{Name: "steady traffic is quiet", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(180, steady(10)))},
			AlertTests:  []alertTest{quiet("65m", "EsmTrafficVolume"), quiet("3h", "EsmTrafficVolume")}},
		ruleTest{Name: "traffic stops", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(200, step(60, 10, 0)))},
			AlertTests: []alertTest{
				quiet("90m", "EsmTrafficVolume"),
				fires("125m", "EsmTrafficVolume", firing(volumeName, SeverityCrit, ",team-cart,")),
			}},
		ruleTest{Name: "a type that never sent an event", Interval: "1m",
			InputSeries: []inSeries{{Series: `esm_events_received_total{event_type="Other",env="prod"}`, Values: counter(60, steady(10))}},
			AlertTests:  []alertTest{fires("10m", "EsmTrafficVolume", firing(volumeName, SeverityCrit, ",team-cart,"))}},
		ruleTest{Name: "the collector is no longer scraped", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, steady(10)))},
			AlertTests: []alertTest{
				quiet("90m", "EsmTrafficVolume"),
				fires("125m", "EsmTrafficVolume", firing(volumeName, SeverityCrit, ",team-cart,")),
			}},
	)
	runPromtoolTests(t, annotations.TrafficVolume(), `{"below": 10, "warning": 50, "window": "last_15m"}`,
		ruleTest{Name: "a warning alone between the thresholds", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, func(int) float64 { return 2 }))},
			AlertTests: []alertTest{fires("30m", "EsmTrafficVolume",
				firing(volumeName, SeverityWarning, ",team-cart,"))}},
	)
	runPromtoolTests(t, annotations.TrafficVolume(), `{"above": 1000, "window": "last_15m"}`,
		ruleTest{Name: "a burst above", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, step(30, 10, 200)))},
			AlertTests: []alertTest{
				quiet("30m", "EsmTrafficVolume"),
				fires("45m", "EsmTrafficVolume", firing(volumeName, SeverityCrit, ",team-cart,")),
			}},
	)
}

// step is a rate of before events a minute up to minute at, and of after
// from then on.
func step(at int, before, after float64) func(int) float64 {
	return func(m int) float64 {
		if m > at {
			return after
		}
		return before
	}
}

// spike multiplies a steady rate of n by factor from minute from on.
func spike(n float64, from int, factor float64) func(int) float64 {
	s := steady(n)
	return func(m int) float64 {
		if m >= from {
			return s(m) * factor
		}
		return s(m)
	}
}

// TestPromtoolTrafficAnomalyBasic: the mean over query_window and its
// standard deviation: noisy steady traffic is quiet; a spike and a drop
// beyond the deviations fire after alert_window; direction picks the
// side.
func TestPromtoolTrafficAnomalyBasic(t *testing.T) {
	t.Parallel()
	const minutes = 6 * 60
	at := func(m int) string { return strconv.Itoa(m) + "m" }
	runPromtoolTests(t, annotations.TrafficAnomaly(), `{"algorithm": "basic", "deviations": 3}`,
		ruleTest{Name: "noisy steady traffic is quiet", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(minutes, steady(20)))},
			AlertTests:  []alertTest{quiet(at(200), "EsmTrafficAnomaly"), quiet(at(300), "EsmTrafficAnomaly"), quiet(at(minutes), "EsmTrafficAnomaly")}},
		ruleTest{Name: "a spike", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(minutes, spike(20, 300, 5)))},
			AlertTests: []alertTest{
				quiet(at(299), "EsmTrafficAnomaly"),
				quiet(at(310), "EsmTrafficAnomaly"), // within alert_window
				fires(at(330), "EsmTrafficAnomaly", firing(anomalyName, SeverityCrit, ",team-cart,")),
			}},
		ruleTest{Name: "a drop", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(minutes, spike(20, 300, 0)))},
			AlertTests: []alertTest{
				quiet(at(299), "EsmTrafficAnomaly"),
				fires(at(330), "EsmTrafficAnomaly", firing(anomalyName, SeverityCrit, ",team-cart,")),
			}},
	)
	runPromtoolTests(t, annotations.TrafficAnomaly(), `{"algorithm": "basic", "deviations": 3, "direction": "above"}`,
		ruleTest{Name: "a drop is not above", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(minutes, spike(20, 300, 0)))},
			AlertTests:  []alertTest{quiet(at(330), "EsmTrafficAnomaly")}},
		ruleTest{Name: "a spike is", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(minutes, spike(20, 300, 5)))},
			AlertTests:  []alertTest{fires(at(330), "EsmTrafficAnomaly", firing(anomalyName, SeverityCrit, ",team-cart,"))}},
	)
}

// weekly is a weekly-seasonal rate: a daily wave, five times more traffic
// on weekdays (the first five days of each week) than at the weekend,
// with 10% noise that no week repeats.
func weekly(m int) float64 {
	day := (m / 1440) % 7
	base := 20.0
	if day >= 5 {
		base = 4
	}
	wave := 0.3 + math.Pow(math.Sin(math.Pi*float64(m%1440)/1440), 2)
	return base * wave * (1 + 0.1*noise(m))
}

// TestPromtoolTrafficAnomalyWeekly: with weekly seasonality the baseline
// is last week's rate at the same time, corrected by the trend: a
// weekly-seasonal series is quiet through its second week, the Monday
// morning after a quiet weekend included, while the basic algorithm fires
// there; a drop on a weekday fires.
func TestPromtoolTrafficAnomalyWeekly(t *testing.T) {
	t.Parallel()
	const week = 7 * 1440
	minutes := week + 3*1440
	at := func(m int) string { return strconv.Itoa(m) + "m" }
	// Scraped and evaluated every 2 minutes: ten days of rules stay quick.
	series := func(minutes int, f func(int) float64) []inSeries {
		return []inSeries{receivedSeries(counterEvery(2, minutes, f))}
	}
	checks := []alertTest{}
	// Every six hours of the second week and after, and the second
	// Monday's start (7d 00:00 .. 7d 09:00) every half hour.
	for m := week + 60; m <= minutes; m += 6 * 60 {
		checks = append(checks, quiet(at(m), "EsmTrafficAnomaly"))
	}
	for m := week; m <= week+9*60; m += 30 {
		checks = append(checks, quiet(at(m), "EsmTrafficAnomaly"))
	}
	wednesdayNoon := week + 2*1440 + 12*60
	drop := func(m int) float64 {
		if m >= wednesdayNoon {
			return weekly(m) * 0.1
		}
		return weekly(m)
	}
	runPromtoolTestsEvery(t, "2m", annotations.TrafficAnomaly(), `{"algorithm": "agile", "seasonality": "weekly", "deviations": 3}`,
		ruleTest{Name: "a weekly-seasonal series is quiet", Interval: "2m",
			InputSeries: series(minutes, weekly),
			AlertTests:  checks},
		ruleTest{Name: "a drop on a weekday fires", Interval: "2m",
			InputSeries: series(wednesdayNoon+2*60, drop),
			AlertTests: []alertTest{
				quiet(at(wednesdayNoon-2), "EsmTrafficAnomaly"),
				fires(at(wednesdayNoon+26), "EsmTrafficAnomaly", firing(anomalyName, SeverityCrit, ",team-cart,")),
			}},
	)
	runPromtoolTestsEvery(t, "2m", annotations.TrafficAnomaly(), `{"algorithm": "basic", "deviations": 3}`,
		ruleTest{Name: "without seasonality, Monday morning looks like a spike", Interval: "2m",
			InputSeries: series(week+2*60, weekly),
			AlertTests:  []alertTest{fires(at(week+26), "EsmTrafficAnomaly", firing(anomalyName, SeverityCrit, ",team-cart,"))}},
	)
}

// TestPromtoolTrafficForecast: a linear decline that reaches the
// threshold within the horizon fires; steady traffic does not.
func TestPromtoolTrafficForecast(t *testing.T) {
	t.Parallel()
	const params = `{"below": 100, "history": "6h", "horizon": "next_12h", "interval": "60m"}`
	decline := func(m int) float64 { return math.Max(0, 10-float64(m)/90) }
	runPromtoolTests(t, annotations.TrafficForecast(), params,
		ruleTest{Name: "steady traffic is quiet", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(480, steady(10)))},
			AlertTests:  []alertTest{quiet("8h", "EsmTrafficForecast")}},
		ruleTest{Name: "a decline fires", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(480, decline))},
			AlertTests: []alertTest{fires("8h", "EsmTrafficForecast",
				firing("Traffic Forecast with AddToCartEvent", SeverityCrit, ",team-cart,"))}},
	)
}

// TestPromtoolBadData: rejections above the share fire; a few, or none at
// all, do not.
func TestPromtoolBadData(t *testing.T) {
	t.Parallel()
	rejected := func(values string) inSeries {
		return inSeries{Series: `esm_events_rejected_total{event_type="AddToCartEvent",reason="schema"}`, Values: values}
	}
	const name = "Bad Data with AddToCartEvent"
	runPromtoolTests(t, annotations.BadData(), `{"above": 0.05, "warning": 0.02}`,
		ruleTest{Name: "no rejection", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, steady(100)))},
			AlertTests:  []alertTest{quiet("30m", "EsmBadData")}},
		ruleTest{Name: "a few rejections", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, steady(100))), rejected(counter(60, func(int) float64 { return 1 }))},
			AlertTests:  []alertTest{quiet("30m", "EsmBadData")}},
		ruleTest{Name: "rejections above the warning share", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, steady(100))), rejected(counter(60, func(int) float64 { return 3 }))},
			AlertTests:  []alertTest{fires("30m", "EsmBadData", firing(name, SeverityWarning, ",team-cart,"))}},
		ruleTest{Name: "rejections above the share", Interval: "1m",
			InputSeries: []inSeries{receivedSeries(counter(60, steady(100))), rejected(counter(60, func(int) float64 { return 20 }))},
			AlertTests: []alertTest{fires("30m", "EsmBadData",
				firing(name, SeverityCrit, ",team-cart,"), firing(name, SeverityWarning, ",team-cart,"))}},
		ruleTest{Name: "every event rejected", Interval: "1m",
			InputSeries: []inSeries{rejected(counter(60, func(int) float64 { return 5 }))},
			AlertTests: []alertTest{fires("30m", "EsmBadData",
				firing(name, SeverityCrit, ",team-cart,"), firing(name, SeverityWarning, ",team-cart,"))}},
	)
}
