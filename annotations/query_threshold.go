package annotations

import (
	"encoding/json"
	"errors"
)

// QueryThresholdKind is the kind of a query file's threshold monitor:
// monitors: [{threshold: {below: 1000}}].
const QueryThresholdKind = "query_threshold"

// QueryThresholdParams are the parameters of a query's threshold
// monitor, as a layer writes them. Below and Above are the two sides of
// one threshold, exactly one of which the layers must set: a layer sets
// at most one, and a layer that sets one replaces the other (and a
// warning) of the layers below it.
type QueryThresholdParams struct {
	// Below alerts when the query's value falls below it.
	Below *float64 `json:"below"`
	// Above alerts when the query's value rises above it.
	Above *float64 `json:"above"`
	// Warning is a less severe threshold on the same side.
	Warning *float64 `json:"warning"`
	// Window is the evaluation window, e.g. last_1h.
	Window *string `json:"window"`
	CommonParams
}

// QueryThresholdSpec is what a query's threshold monitor asks for,
// resolved: the average of the query's value over Window compared with
// Threshold, on the side Direction names.
type QueryThresholdSpec struct {
	// Direction is "below" or "above".
	Direction string
	// Threshold is the critical value.
	Threshold float64
	// Warning is the warning value, on the same side and less severe; nil
	// for none.
	Warning *float64
	// Window is the evaluation window, e.g. last_1h.
	Window string
}

// Annotation names the kind.
func (*QueryThresholdSpec) Annotation() string { return QueryThresholdKind }

type queryThreshold struct{}

// QueryThreshold returns the kind of a query's threshold monitor.
func QueryThreshold() Kind { return queryThreshold{} }

func (queryThreshold) Annotation() string { return QueryThresholdKind }

// Defaults are the built-in parameters of a query threshold: the value
// over the last hour. There is no default threshold: a query's value has
// no natural one.
func (queryThreshold) Defaults() json.RawMessage {
	return json.RawMessage(`{"window": "last_1h", "require_full_window": false, ` + commonDefaults + `}`)
}

// Check validates one layer on its own.
func (k queryThreshold) Check(l Layer) error {
	p, err := decodeLayer[QueryThresholdParams](k.Annotation(), l)
	return errors.Join(err, querySides(&p, l), k.checkValues(&p, l.PosOf, l.Source))
}

// querySides reports a layer that sets both below and above, at above's
// value.
func querySides(p *QueryThresholdParams, l Layer) error {
	if p.Below == nil || p.Above == nil {
		return nil
	}
	return errorf(l.PosOf("above"), "%s: above and below cannot both be set: a threshold alerts on one side (below is set at %s)", l.Source, l.PosOf("below"))
}

func (queryThreshold) checkValues(p *QueryThresholdParams, at func(param string) Position, source string) error {
	ck := &checker{at: at, source: source}
	ck.window("window", p.Window, minMetricWindow, maxQueryWindow, "a metric monitor")
	p.CommonParams.check(ck)
	return ck.err()
}

// Spec merges the layers into the threshold monitor asked for the query
// of target (Target.Record is the query's name).
func (k queryThreshold) Spec(t Target, layers []Layer) (Spec, error) {
	p, m, err := mergeLayers[QueryThresholdParams](k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	// The side of the last layer that sets one wins; a warning written
	// under it was for the other side, or for another threshold.
	dir, dirAt, warnAt := "", -1, -1
	var sideErrs []error
	for i, l := range layers {
		lp, _ := decodeLayer[QueryThresholdParams](k.Annotation(), l) // mergeLayers reported what does not decode
		if err := querySides(&lp, l); err != nil {
			sideErrs = append(sideErrs, err)
			continue
		}
		switch {
		case lp.Below != nil:
			dir, dirAt = "below", i
		case lp.Above != nil:
			dir, dirAt = "above", i
		}
		if lp.Warning != nil {
			warnAt = i
		}
	}
	if err := errors.Join(sideErrs...); err != nil {
		return Spec{}, err
	}
	if dir == "" {
		var at Position
		if len(layers) > 0 {
			at = layers[len(layers)-1].Pos
		}
		return Spec{}, errorf(at, "%s needs below or above: the value that alerts, such as {below: 1000}", k.Annotation())
	}
	if err := k.checkValues(p, m.at, ""); err != nil {
		return Spec{}, err
	}
	s := &QueryThresholdSpec{Direction: dir, Window: *p.Window}
	if warnAt >= dirAt {
		s.Warning = p.Warning
	}
	// Datadog rejects a warning that is not less severe than the critical
	// threshold (https://docs.datadoghq.com/monitors/types/metric/#set-alert-conditions).
	if dir == "below" {
		s.Threshold = *p.Below
		if s.Warning != nil && !(*s.Warning > s.Threshold) {
			return Spec{}, errorf(m.at("warning"), "warning %v must be greater than below %v: it warns before the value falls below the critical threshold", *s.Warning, s.Threshold)
		}
	} else {
		s.Threshold = *p.Above
		if s.Warning != nil && !(*s.Warning < s.Threshold) {
			return Spec{}, errorf(m.at("warning"), "warning %v must be less than above %v: it warns before the value rises above the critical threshold", *s.Warning, s.Threshold)
		}
	}
	windowSec, _ := windowSeconds(s.Window)
	common, err := p.CommonParams.resolve(m, 2*windowSec/60)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Kind: k.Annotation(), Name: "Query Threshold with " + t.Record, Target: t, Common: common, Params: s}, nil
}
