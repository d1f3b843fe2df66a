package annotations

import (
	"encoding/json"
	"errors"
)

// QueryAnomalyKind is the kind of a query file's anomaly monitor:
// monitors: [{anomaly: {deviations: 3}}]. It takes the parameters of
// @traffic_anomaly_monitor.
const QueryAnomalyKind = "query_anomaly"

// QueryAnomalySpec is what a query's anomaly monitor asks for, resolved:
// the anomaly parameters, on the query's value.
type QueryAnomalySpec struct {
	TrafficAnomalySpec
}

// Annotation names the kind.
func (*QueryAnomalySpec) Annotation() string { return QueryAnomalyKind }

type queryAnomaly struct{}

// QueryAnomaly returns the kind of a query's anomaly monitor.
func QueryAnomaly() Kind { return queryAnomaly{} }

func (queryAnomaly) Annotation() string { return QueryAnomalyKind }

// Defaults are the built-in parameters of a query's anomaly monitor:
// those of @traffic_anomaly_monitor, but a missing point of the query's
// value is missing, not zero.
func (queryAnomaly) Defaults() json.RawMessage {
	return json.RawMessage(`{"algorithm": "agile", "deviations": 2, "direction": "both", "alert_window": "last_15m",
 "interval": 60, "count_default_zero": false, "seasonality": "weekly", "query_window": "last_4h",
 "require_full_window": false, ` + commonDefaults + `}`)
}

// Check validates one layer on its own.
func (k queryAnomaly) Check(l Layer) error {
	p, err := decodeLayer[TrafficAnomalyParams](k.Annotation(), l)
	return errors.Join(err, trafficAnomaly{}.checkValues(&p, l.PosOf, l.Source))
}

// Spec merges the layers into the anomaly monitor asked for the query of
// target (Target.Record is the query's name).
func (k queryAnomaly) Spec(t Target, layers []Layer) (Spec, error) {
	s, common, err := resolveAnomaly(k.Annotation(), k.Defaults(), layers)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Kind: k.Annotation(), Name: "Query Anomaly with " + t.Record, Target: t, Common: common, Params: &QueryAnomalySpec{*s}}, nil
}
