package annotations

import (
	"encoding/json"
	"errors"
)

// TrafficAnomalyAnnotation asks for an anomaly monitor on the count of a
// record's events: @traffic_anomaly_monitor({"deviations": 3}).
const TrafficAnomalyAnnotation = "traffic_anomaly_monitor"

// TrafficAnomalyParams are the parameters of @traffic_anomaly_monitor, as
// a layer writes them. Every one is optional; an unset one takes the
// value of the layer below.
type TrafficAnomalyParams struct {
	// Deviations is the width of the expected band, in standard deviations.
	Deviations *float64 `json:"deviations"`
	// Algorithm is basic, agile or robust.
	Algorithm *string `json:"algorithm"`
	// Direction is both, above or below.
	Direction *string `json:"direction"`
	// AlertWindow is how long the count must be anomalous, e.g. last_15m.
	AlertWindow *string `json:"alert_window"`
	// Interval is the rollup interval in seconds.
	Interval *int64 `json:"interval"`
	// Seasonality is hourly, daily or weekly (not for basic).
	Seasonality *string `json:"seasonality"`
	// QueryWindow is the evaluation window of the query, e.g. last_4h.
	QueryWindow *string `json:"query_window"`
	// CountDefaultZero counts missing points as zero.
	CountDefaultZero *bool `json:"count_default_zero"`
	CommonParams
}

// TrafficAnomalySpec is what @traffic_anomaly_monitor asks for, resolved:
// a band of Deviations standard deviations around the count's expected
// value, learnt by Algorithm with Seasonality, that the count must leave
// (Direction) for AlertWindow to alert.
type TrafficAnomalySpec struct {
	Deviations  float64
	Algorithm   string // basic, agile or robust
	Direction   string // both, above or below
	AlertWindow string // last_15m
	// Interval is the rollup interval in seconds.
	Interval int64
	// Seasonality is hourly, daily or weekly; "" with basic.
	Seasonality      string
	QueryWindow      string // last_4h
	CountDefaultZero bool
}

// Annotation names the kind.
func (*TrafficAnomalySpec) Annotation() string { return TrafficAnomalyAnnotation }

type trafficAnomaly struct{}

func init() { Register(trafficAnomaly{}) }

// TrafficAnomaly returns the @traffic_anomaly_monitor kind.
func TrafficAnomaly() Kind { return trafficAnomaly{} }

func (trafficAnomaly) Annotation() string { return TrafficAnomalyAnnotation }

// Defaults are the built-in parameters of an anomaly monitor.
func (trafficAnomaly) Defaults() json.RawMessage {
	return json.RawMessage(`{"algorithm": "agile", "deviations": 2, "direction": "both", "alert_window": "last_15m",
 "interval": 60, "count_default_zero": true, "seasonality": "weekly", "query_window": "last_4h",
 "require_full_window": false, ` + commonDefaults + `}`)
}

// The windows Datadog accepts for an anomaly monitor. The alert window
// (the trigger and recovery window) is "a value between 15 minutes and 24
// hours" (https://docs.datadoghq.com/monitors/types/anomaly/#set-alert-conditions);
// the evaluation window of a metric monitor's query is at most one month
// (https://docs.datadoghq.com/monitors/configuration/#set-alert-conditions),
// counted here as 30 days, and at least the alert window.
var (
	minAlertWindow = bound{15 * 60, "15 minutes"}
	maxAlertWindow = bound{24 * 3600, "24 hours"}
	maxQueryWindow = bound{30 * 86400, "30 days"}
)

// Check validates one layer on its own.
func (k trafficAnomaly) Check(l Layer) error {
	// A parameter that does not decode leaves the others decoded: check
	// them too, so that every problem is reported at once.
	p, err := decodeLayer[TrafficAnomalyParams](k.Annotation(), l)
	return errors.Join(err, k.checkValues(&p, l.PosOf, l.Source))
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (trafficAnomaly) checkValues(p *TrafficAnomalyParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	if p.Deviations != nil && !(*p.Deviations > 0 && *p.Deviations <= 10) {
		ck.bad("deviations", "deviations must be greater than 0 and at most 10, not %v", *p.Deviations)
	}
	ck.oneOf("algorithm", p.Algorithm, "basic", "agile", "robust")
	ck.oneOf("direction", p.Direction, "both", "above", "below")
	ck.oneOf("seasonality", p.Seasonality, "hourly", "daily", "weekly")
	ck.window("alert_window", p.AlertWindow, minAlertWindow, maxAlertWindow, "an anomaly monitor")
	ck.window("query_window", p.QueryWindow, bound{}, maxQueryWindow, "an anomaly monitor")
	if p.Interval != nil && *p.Interval <= 0 {
		ck.bad("interval", "interval must be a positive number of seconds, not %d", *p.Interval)
	}
	p.CommonParams.check(ck)
	return ck.err()
}

// Spec merges the layers into the anomaly monitor asked for target.
func (k trafficAnomaly) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[TrafficAnomalyParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	// Combinations Datadog rejects, all of them at once.
	var errs []error
	if *p.Algorithm == "basic" {
		if m.byUser("seasonality") {
			errs = append(errs, m.unused("seasonality", "algorithm", "seasonality %q cannot be used with the basic algorithm, which has none; use agile or robust, or drop seasonality", *p.Seasonality))
		}
		p.Seasonality = nil
	}
	alertSec, _ := windowSeconds(*p.AlertWindow)
	querySec, _ := windowSeconds(*p.QueryWindow)
	if *p.Interval*5 > alertSec {
		errs = append(errs, m.conflict("interval", "alert_window", "interval %d s is over a fifth of alert_window %s (%d s): Datadog needs at least 5 points in the alert window", *p.Interval, *p.AlertWindow, alertSec/5))
	}
	if querySec < alertSec {
		errs = append(errs, m.conflict("query_window", "alert_window", "query_window %s is shorter than alert_window %s", *p.QueryWindow, *p.AlertWindow))
	}
	if len(errs) > 0 {
		return Spec{}, errors.Join(errs...)
	}
	common, err := p.CommonParams.resolve(m, 2*querySec/60)
	if err != nil {
		return Spec{}, err
	}
	s := &TrafficAnomalySpec{
		Deviations: *p.Deviations, Algorithm: *p.Algorithm, Direction: *p.Direction, AlertWindow: *p.AlertWindow,
		Interval: *p.Interval, QueryWindow: *p.QueryWindow, CountDefaultZero: *p.CountDefaultZero,
	}
	if p.Seasonality != nil {
		s.Seasonality = *p.Seasonality
	}
	return Spec{Kind: k.Annotation(), Name: "Traffic Anomaly with " + t.Record, Target: t, Common: common, Params: s}, nil
}
