package annotations

import (
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// TrafficForecastAnnotation asks for a forecast monitor on the count of a
// record's events: @traffic_forecast_monitor({"below": 100}).
const TrafficForecastAnnotation = "traffic_forecast_monitor"

// TrafficForecastParams are the parameters of @traffic_forecast_monitor,
// as a layer writes them. Every one is optional; an unset one takes the
// value of the layer below. Above and Below are one parameter in two
// directions: a layer that sets one replaces the other of the layers
// below it.
type TrafficForecastParams struct {
	// Algorithm is linear or seasonal.
	Algorithm *string `json:"algorithm"`
	// Deviations is the width of the forecast's bounds, at least 1.
	Deviations *float64 `json:"deviations"`
	// Horizon is how far ahead the forecast looks, e.g. next_1w.
	Horizon *string `json:"horizon"`
	// Interval is the rollup interval, e.g. 60m.
	Interval *string `json:"interval"`
	// History is how much past data the linear algorithm uses, e.g. 1w.
	History *string `json:"history"`
	// Model is default, simple or reactive (linear only).
	Model *string `json:"model"`
	// Seasonality is hourly, daily or weekly (seasonal only).
	Seasonality *string `json:"seasonality"`
	// Above alerts when the forecast's upper bound reaches it.
	Above *float64 `json:"above"`
	// Below alerts when the forecast's lower bound falls to it.
	Below *float64 `json:"below"`
	// Warning is a less severe threshold in the same direction.
	Warning *float64 `json:"warning"`
	CommonParams
}

// TrafficForecastSpec is what @traffic_forecast_monitor asks for,
// resolved: alert when the bounds of the count's forecast (Algorithm,
// Deviations wide) reach Threshold in Direction within Horizon.
type TrafficForecastSpec struct {
	Algorithm  string // linear or seasonal
	Deviations float64
	Horizon    string // next_1w
	Interval   string // 60m
	// History is the past data the linear algorithm uses, e.g. 1w; ""
	// leaves it to Datadog (one week). Always "" with seasonal.
	History string
	// Model is default, simple or reactive; "" leaves it to Datadog
	// (default). Always "" with seasonal.
	Model string
	// Seasonality is hourly, daily or weekly with seasonal; "" with linear.
	Seasonality string
	// Direction is "above" (the forecast reaches Threshold or more) or
	// "below" (it falls to Threshold or less).
	Direction string
	Threshold float64
	// Warning is the warning threshold; nil for none.
	Warning *float64
}

// Annotation names the kind.
func (*TrafficForecastSpec) Annotation() string { return TrafficForecastAnnotation }

type trafficForecast struct{}

func init() { Register(trafficForecast{}) }

// TrafficForecast returns the @traffic_forecast_monitor kind.
func TrafficForecast() Kind { return trafficForecast{} }

func (trafficForecast) Annotation() string { return TrafficForecastAnnotation }

// Defaults are the built-in parameters of a forecast monitor. There is no
// threshold: the annotation (or a layer below it) must say what count is
// a problem. The seasonality applies only to the seasonal algorithm;
// history and model are left to Datadog (one week, default).
func (trafficForecast) Defaults() json.RawMessage {
	return json.RawMessage(`{"algorithm": "linear", "deviations": 1, "horizon": "next_1w", "interval": "60m",
 "seasonality": "weekly", "require_full_window": false, ` + commonDefaults + `}`)
}

// What Datadog's forecast monitors accept, from "Forecasts Monitor"
// (https://docs.datadoghq.com/monitors/types/forecasts/) and the
// forecast() function (https://docs.datadoghq.com/dashboards/functions/algorithms/#forecast):
//
//   - the query is <max|min>(<horizon>):forecast(<metric query>,
//     '<algorithm>', <deviations>, interval='<interval>'[, history=...]
//     [, model=...][, seasonality=...]) <>=|<=> <threshold>: max with >=
//     alerts when the forecast goes above the threshold, min with <= when
//     it goes below;
//   - the algorithm is linear or seasonal; deviations is "a number greater
//     than or equal to one";
//   - the horizon is "the next 24 hours, 1 week, 1 month, etc. or custom to
//     set a value between 12 hours and 3 months" (next_<n><h|d|w|mo>,
//     a month counted as 30 days);
//   - history ("1w", "3d") and model (default, simple, reactive) are
//     "only used with the linear algorithm", seasonality (hourly, daily,
//     weekly) "only with the seasonal algorithm"; Datadog sets history to
//     one week when it is left out;
//   - the interval is the rollup interval ('60m' in every example).
//
// esm adds what follows from these: the interval is shorter than the
// horizon, than the linear algorithm's history and than the season (the
// seasonal algorithm compares points a season apart: an interval of a
// season or more leaves one point per season).
var (
	minHorizon = bound{12 * 3600, "12 hours"}
	maxHorizon = bound{90 * 86400, "3 months"}
)

var seasonSeconds = map[string]int64{"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}

// Check validates one layer on its own.
func (k trafficForecast) Check(l Layer) error {
	p, err := decodeLayer[TrafficForecastParams](k.Annotation(), l)
	errs := []error{err, k.checkValues(&p, l.PosOf, l.Source)}
	if p.Above != nil && p.Below != nil {
		errs = append(errs, bothThresholds(l))
	}
	return errors.Join(errs...)
}

// bothThresholds reports a layer that sets both above and below.
func bothThresholds(l Layer) error {
	msg := "above and below are both set; a monitor alerts in one direction: keep one"
	if l.Source != "" {
		msg = l.Source + ": " + msg
	}
	return &Error{Pos: l.PosOf("below"), Msg: msg}
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (trafficForecast) checkValues(p *TrafficForecastParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	ck.oneOf("algorithm", p.Algorithm, "linear", "seasonal")
	if p.Deviations != nil && !(*p.Deviations >= 1) {
		ck.bad("deviations", "deviations must be at least 1 (Datadog's forecast bounds), not %v", *p.Deviations)
	}
	if p.Horizon != nil {
		sec, ok := horizonSeconds(*p.Horizon)
		switch {
		case !ok:
			ck.bad("horizon", "horizon must look like next_12h, next_1d, next_1w or next_1mo, not %q", *p.Horizon)
		case sec < minHorizon.sec:
			ck.bad("horizon", "horizon %s is shorter than Datadog accepts for a forecast monitor (at least %s)", *p.Horizon, minHorizon.text)
		case sec > maxHorizon.sec:
			ck.bad("horizon", "horizon %s is longer than Datadog accepts for a forecast monitor (at most %s)", *p.Horizon, maxHorizon.text)
		}
	}
	if p.Interval != nil {
		if _, ok := spanSeconds(*p.Interval, "m", "h"); !ok {
			ck.bad("interval", "interval must be a number of minutes or hours such as 20m or 1h, not %q", *p.Interval)
		}
	}
	if p.History != nil {
		if _, ok := spanSeconds(*p.History, "m", "h", "d", "w"); !ok {
			ck.bad("history", "history must be a number of minutes, hours, days or weeks such as 6h, 3d or 1w, not %q", *p.History)
		}
	}
	ck.oneOf("model", p.Model, "default", "simple", "reactive")
	ck.oneOf("seasonality", p.Seasonality, "hourly", "daily", "weekly")
	for _, t := range []struct {
		param string
		v     *float64
	}{{"above", p.Above}, {"below", p.Below}, {"warning", p.Warning}} {
		if t.v != nil && !(*t.v >= 0) {
			ck.bad(t.param, "%s must be a count, 0 or more, not %v", t.param, *t.v)
		}
	}
	p.CommonParams.check(ck)
	return ck.err()
}

// forecastDirection returns the forecast monitor's direction, "above" or
// "below", as the last of layers that sets one of them says, or "" when
// none does. It reports a layer that sets both.
func forecastDirection(kind string, layers []Layer) (dir string, err error) {
	for _, l := range layers {
		// A layer that does not decode is reported by mergeLayers.
		p, _ := decodeLayer[TrafficForecastParams](kind, l)
		switch {
		case p.Above != nil && p.Below != nil:
			return "", bothThresholds(l)
		case p.Above != nil:
			dir = "above"
		case p.Below != nil:
			dir = "below"
		}
	}
	return dir, nil
}

// Spec merges the layers into the forecast monitor asked for target.
func (k trafficForecast) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[TrafficForecastParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	dir, err := forecastDirection(k.Annotation(), layers)
	if err != nil {
		return Spec{}, err
	}
	// The direction a higher layer chose replaces a lower layer's other.
	switch dir {
	case "above":
		p.Below = nil
	case "below":
		p.Above = nil
	default:
		var at Position
		if len(layers) > 0 {
			at = layers[len(layers)-1].Pos
		}
		return Spec{}, errorf(at, "@%s needs a threshold: above (alert when the forecast count reaches it) or below (when it falls to it), e.g. {\"below\": 100}", k.Annotation())
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	if err := k.combinations(p, m); err != nil {
		return Spec{}, err
	}
	horizon, _ := horizonSeconds(*p.Horizon)
	common, err := p.CommonParams.resolve(m, 2*horizon/60)
	if err != nil {
		return Spec{}, err
	}
	s := &TrafficForecastSpec{
		Algorithm: *p.Algorithm, Deviations: *p.Deviations, Horizon: *p.Horizon, Interval: *p.Interval,
		Direction: dir, Warning: p.Warning,
	}
	if dir == "above" {
		s.Threshold = *p.Above
	} else {
		s.Threshold = *p.Below
	}
	if s.Algorithm == "linear" {
		setIf(&s.History, p.History)
		setIf(&s.Model, p.Model)
	} else {
		s.Seasonality = *p.Seasonality
	}
	return Spec{Kind: k.Annotation(), Name: "Traffic Forecast with " + t.Record, Target: t, Common: common, Params: s}, nil
}

// combinations reports the merged parameters that do not go together, at
// the value at fault; it drops the default seasonality of the linear
// algorithm.
func (trafficForecast) combinations(p *TrafficForecastParams, m *merged) error {
	interval, _ := spanSeconds(*p.Interval, "m", "h")
	horizon, _ := horizonSeconds(*p.Horizon)
	if *p.Algorithm == "linear" {
		if m.byUser("seasonality") {
			return m.unused("seasonality", "algorithm", "seasonality %q is only used with the seasonal algorithm; use algorithm seasonal, or drop seasonality", *p.Seasonality)
		}
		p.Seasonality = nil
		if p.History != nil {
			if history, _ := spanSeconds(*p.History, "m", "h", "d", "w"); interval >= history {
				return m.conflict("interval", "history", "interval %s is not shorter than history %s: the forecast needs several points of history", *p.Interval, *p.History)
			}
		}
	} else {
		if p.Model != nil {
			return m.unused("model", "algorithm", "model %q is only used with the linear algorithm; drop model for seasonal", *p.Model)
		}
		if p.History != nil {
			return m.unused("history", "algorithm", "history is only used with the linear algorithm; the seasonal algorithm uses two to six seasons of history: drop history")
		}
		if season := seasonSeconds[*p.Seasonality]; interval >= season {
			return m.conflict("interval", "seasonality", "interval %s is not shorter than the %s season: the seasonal algorithm needs several points a season", *p.Interval, *p.Seasonality)
		}
	}
	if interval >= horizon {
		return m.conflict("interval", "horizon", "interval %s is not shorter than horizon %s", *p.Interval, *p.Horizon)
	}
	if p.Warning != nil {
		if p.Above != nil && !(*p.Warning < *p.Above) {
			return m.conflict("warning", "above", "warning %v must be lower than above %v: the forecast reaches the warning threshold first", *p.Warning, *p.Above)
		}
		if p.Below != nil && !(*p.Warning > *p.Below) {
			return m.conflict("warning", "below", "warning %v must be higher than below %v: the forecast falls to the warning threshold first", *p.Warning, *p.Below)
		}
	}
	return nil
}

var spanRE = regexp.MustCompile(`^([1-9][0-9]{0,6})(mo|m|h|d|w)$`)

// spanUnits are the seconds of the units of a span; a month is 30 days.
var spanUnits = map[string]int64{"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}

// spanSeconds parses a span such as 5m, 1h or 2d, whose unit is one of
// units, into seconds.
func spanSeconds(s string, units ...string) (int64, bool) {
	g := spanRE.FindStringSubmatch(s)
	if g == nil {
		return 0, false
	}
	for _, u := range units {
		if g[2] == u {
			n, _ := strconv.ParseInt(g[1], 10, 64)
			return n * spanUnits[u], true
		}
	}
	return 0, false
}

// horizonSeconds parses next_<n><h|d|w|mo>.
func horizonSeconds(h string) (int64, bool) {
	span, ok := strings.CutPrefix(h, "next_")
	if !ok {
		return 0, false
	}
	return spanSeconds(span, "h", "d", "w", "mo")
}
