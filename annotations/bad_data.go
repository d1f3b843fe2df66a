package annotations

import (
	"encoding/json"
	"errors"
)

// BadDataAnnotation asks for a threshold on the share of a record's
// events the collector rejects: @bad_data_monitor({"above": 0.1}).
const BadDataAnnotation = "bad_data_monitor"

// BadDataParams are the parameters of @bad_data_monitor, as a layer writes
// them. Every one is optional; an unset one takes the value of the layer
// below.
type BadDataParams struct {
	// Above alerts when a larger share of the events is rejected, in (0, 1].
	Above *float64 `json:"above"`
	// Warning is a smaller share that warns, in (0, Above).
	Warning *float64 `json:"warning"`
	// Window is the evaluation window, e.g. last_15m.
	Window *string `json:"window"`
	CommonParams
}

// BadDataSpec is what @bad_data_monitor asks for, resolved: the share of
// the record's events rejected in Window, rejected / (received +
// rejected), compared with Above.
type BadDataSpec struct {
	// Above is the critical share, in (0, 1].
	Above float64
	// Warning is the warning share, under Above; nil for none.
	Warning *float64
	// Window is the evaluation window, e.g. last_15m.
	Window string
}

// Annotation names the kind.
func (*BadDataSpec) Annotation() string { return BadDataAnnotation }

type badData struct{}

func init() { Register(badData{}) }

// BadData returns the @bad_data_monitor kind.
func BadData() Kind { return badData{} }

func (badData) Annotation() string { return BadDataAnnotation }

// Defaults are the built-in parameters of a bad data monitor: more than
// 5% of the events rejected in the last 15 minutes alerts.
func (badData) Defaults() json.RawMessage {
	return json.RawMessage(`{"above": 0.05, "window": "last_15m", "require_full_window": false, ` + commonDefaults + `}`)
}

// minShare is the smallest share a threshold may be: one rejected event in
// ten thousand. A smaller one would be written in the query with an
// exponent (1e-05), Go's shortest form.
const minShare = 0.0001

// Check validates one layer on its own.
func (k badData) Check(l Layer) error {
	p, err := decodeLayer[BadDataParams](k.Annotation(), l)
	return errors.Join(err, k.checkValues(&p, l.PosOf, l.Source))
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (badData) checkValues(p *BadDataParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	for _, s := range []struct {
		param string
		v     *float64
	}{{"above", p.Above}, {"warning", p.Warning}} {
		if s.v != nil && !(*s.v >= minShare && *s.v <= 1) {
			ck.bad(s.param, "%s is a share of the events, from %v to 1 (0.05 is 5%%), not %v", s.param, minShare, *s.v)
		}
	}
	ck.window("window", p.Window, minMetricWindow, maxQueryWindow, "a metric monitor")
	p.CommonParams.check(ck)
	return ck.err()
}

// Spec merges the layers into the bad data monitor asked for target.
func (k badData) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[BadDataParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	// Datadog rejects a warning threshold that is not less severe than the
	// critical one (https://docs.datadoghq.com/monitors/types/metric/#set-alert-conditions).
	if p.Warning != nil && !(*p.Warning < *p.Above) {
		return Spec{}, m.conflict("warning", "above", "warning %v must be less than above %v: it warns before the share reaches the critical threshold", *p.Warning, *p.Above)
	}
	windowSec, _ := windowSeconds(*p.Window)
	common, err := p.CommonParams.resolve(m, 2*windowSec/60)
	if err != nil {
		return Spec{}, err
	}
	s := &BadDataSpec{Above: *p.Above, Warning: p.Warning, Window: *p.Window}
	return Spec{Kind: k.Annotation(), Name: "Bad Data with " + t.Record, Target: t, Common: common, Params: s}, nil
}
