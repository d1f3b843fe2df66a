package annotations

import (
	"encoding/json"
	"errors"
	"math"
)

// TrafficVolumeAnnotation asks for a threshold on the count of a record's
// events in a window: @traffic_volume_monitor({"below": 10, "window": "last_2h"}).
const TrafficVolumeAnnotation = "traffic_volume_monitor"

// TrafficVolumeParams are the parameters of @traffic_volume_monitor, as a
// layer writes them. Every one is optional; an unset one takes the value
// of the layer below. Below and Above are the two sides of one threshold:
// a layer sets at most one, and a layer that sets one replaces the other
// (and a warning) of the layers below it.
type TrafficVolumeParams struct {
	// Below alerts when the window holds fewer events.
	Below *float64 `json:"below"`
	// Above alerts when the window holds more events.
	Above *float64 `json:"above"`
	// Warning is a less severe threshold on the same side.
	Warning *float64 `json:"warning"`
	// Window is the evaluation window, e.g. last_1h.
	Window *string `json:"window"`
	CommonParams
}

// TrafficVolumeSpec is what @traffic_volume_monitor asks for, resolved:
// the count of the record's events in Window compared with Threshold,
// on the side Direction names.
type TrafficVolumeSpec struct {
	// Direction is "below" (fewer than Threshold events alert) or "above"
	// (more than Threshold events alert).
	Direction string
	// Threshold is the critical count.
	Threshold float64
	// Warning is the warning count, on the same side and less severe; nil
	// for none.
	Warning *float64
	// Window is the evaluation window, e.g. last_1h.
	Window string
}

// Annotation names the kind.
func (*TrafficVolumeSpec) Annotation() string { return TrafficVolumeAnnotation }

type trafficVolume struct{}

func init() { Register(trafficVolume{}) }

// TrafficVolume returns the @traffic_volume_monitor kind.
func TrafficVolume() Kind { return trafficVolume{} }

func (trafficVolume) Annotation() string { return TrafficVolumeAnnotation }

// Defaults are the built-in parameters of a traffic volume monitor: no
// event in the last hour alerts. Counts are sparse, so a full window is
// not required.
func (trafficVolume) Defaults() json.RawMessage {
	return json.RawMessage(`{"below": 1, "window": "last_1h", "require_full_window": false, ` + commonDefaults + `}`)
}

// The windows Datadog accepts for the evaluation of a metric monitor:
// from one minute to one month
// (https://docs.datadoghq.com/monitors/configuration/#set-alert-conditions),
// the month counted as 30 days as for the anomaly monitor's query window.
var minMetricWindow = bound{60, "1 minute"}

// maxCount bounds the thresholds of a count, so that every one is written
// in the query as a plain whole number (Go's shortest form of a larger
// one has an exponent).
const maxCount = 1e15

// Check validates one layer on its own.
func (k trafficVolume) Check(l Layer) error {
	p, err := decodeLayer[TrafficVolumeParams](k.Annotation(), l)
	return errors.Join(err, bothSides(&p, l), k.checkValues(&p, l.PosOf, l.Source))
}

// bothSides reports a layer that sets both below and above, at above's
// value.
func bothSides(p *TrafficVolumeParams, l Layer) error {
	if p.Below == nil || p.Above == nil {
		return nil
	}
	return errorf(l.PosOf("above"), "%s: above and below cannot both be set: a traffic volume monitor alerts on one side of its threshold (below is set at %s)", l.Source, l.PosOf("below"))
}

// checkValues checks each set value; at names the position of the layer
// that set a parameter.
func (trafficVolume) checkValues(p *TrafficVolumeParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	count := func(param string, v *float64, min float64) {
		switch {
		case v == nil:
		case *v != math.Trunc(*v):
			ck.bad(param, "%s is a count of events: it must be a whole number, not %v", param, *v)
		case *v < min || *v > maxCount:
			ck.bad(param, "%s must be between %v and %v events, not %v", param, min, maxCount, *v)
		}
	}
	// "Fewer than 0 events" never alerts; "more than 0" does.
	count("below", p.Below, 1)
	count("above", p.Above, 0)
	count("warning", p.Warning, 0)
	ck.window("window", p.Window, minMetricWindow, maxQueryWindow, "a metric monitor")
	p.CommonParams.check(ck)
	return ck.err()
}

// Spec merges the layers into the traffic volume monitor asked for target.
func (k trafficVolume) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[TrafficVolumeParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	// Below and above are one threshold: the side of the last layer that
	// sets one wins, and a warning written under it was for the other side.
	dir, dirAt, warnAt := "below", 0, -1
	var sideErrs []error
	for i, l := range append([]Layer{{Source: builtinSource, Params: k.Defaults()}}, layers...) {
		lp, _ := decodeLayer[TrafficVolumeParams](k.Annotation(), l) // mergeLayers reported what does not decode
		if err := bothSides(&lp, l); err != nil {
			sideErrs = append(sideErrs, err)
			continue
		}
		side := ""
		if lp.Below != nil {
			side = "below"
		} else if lp.Above != nil {
			side = "above"
		}
		if side != "" && side != dir {
			dir, dirAt = side, i
		}
		if lp.Warning != nil {
			warnAt = i
		}
	}
	if err := errors.Join(sideErrs...); err != nil {
		return Spec{}, err
	}
	if dir == "below" {
		p.Above = nil
	} else {
		p.Below = nil
	}
	if warnAt < dirAt {
		p.Warning = nil
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	s := &TrafficVolumeSpec{Direction: dir, Window: *p.Window, Warning: p.Warning}
	// Datadog rejects a warning threshold that is not less severe than the
	// critical one (https://docs.datadoghq.com/monitors/types/metric/#set-alert-conditions):
	// for "below", a warning above the critical count; for "above", one
	// under it.
	if dir == "below" {
		s.Threshold = *p.Below
		if p.Warning != nil && !(*p.Warning > s.Threshold) {
			return Spec{}, m.conflict("warning", "below", "warning %v must be greater than below %v: it warns before the count falls below the critical threshold", *p.Warning, s.Threshold)
		}
	} else {
		s.Threshold = *p.Above
		if p.Warning != nil && !(*p.Warning < s.Threshold) {
			return Spec{}, m.conflict("warning", "above", "warning %v must be less than above %v: it warns before the count rises above the critical threshold", *p.Warning, s.Threshold)
		}
	}
	windowSec, _ := windowSeconds(s.Window)
	common, err := p.CommonParams.resolve(m, 2*windowSec/60)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Kind: k.Annotation(), Name: "Traffic Volume with " + t.Record, Target: t, Common: common, Params: s}, nil
}
