package monitor

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func rule(expr string, labels map[string]string) *Definition {
	return &Definition{Name: "Traffic Volume with X", Rule: &AlertRule{
		Alert: "EsmTrafficVolume", Expr: expr, Labels: labels,
		Annotations: map[string]string{"summary": "s"},
		Records:     []RecordingRule{{Record: "r:rate5m", Expr: "sum(rate(x[5m]))", Labels: map[string]string{"b": "2", "a": "1"}}},
	}}
}

func TestRuleFields(t *testing.T) {
	d := rule(" up == 0 ", map[string]string{"severity": "critical", "env": "prod", "esm_channels": ""})
	assert.Equal(t, []RuleField{
		{"alert", "EsmTrafficVolume"},
		{"expr", "up == 0"},
		{"labels.env", "prod"},
		{"labels.severity", "critical"},
		{"annotations.summary", "s"},
		{"records.r:rate5m", "sum(rate(x[5m])) {a=1, b=2}"},
	}, RuleFields(d), "sorted by name within labels and annotations, empty values left out")
	assert.Nil(t, RuleFields(&Definition{Name: "datadog"}))
}

// TestRuleDiff: the plan of a Prometheus monitor diffs the rule's fields,
// not Datadog's.
func TestRuleDiff(t *testing.T) {
	old := rule("a < 1", map[string]string{"severity": "critical", "gone": "x"})
	new := rule("a < 2", map[string]string{"severity": "critical", "env": "prod"})
	new.Rule.For = "15m"
	tests := []struct {
		name     string
		old, new *Definition
		want     []FieldDiff
	}{
		{"update", old, new, []FieldDiff{
			{Field: "expr", Old: "a < 1", New: "a < 2"},
			{Field: "for", New: "15m"},
			{Field: "labels.env", New: "prod"},
			{Field: "labels.gone", Old: "x"},
		}},
		{"unchanged", old, old, nil},
		{"create", nil, old, []FieldDiff{
			{Field: "alert", New: "EsmTrafficVolume"}, {Field: "expr", New: "a < 1"}, {Field: "labels.gone", New: "x"},
			{Field: "labels.severity", New: "critical"}, {Field: "annotations.summary", New: "s"},
			{Field: "records.r:rate5m", New: "sum(rate(x[5m])) {a=1, b=2}"},
		}},
		{"delete", old, nil, []FieldDiff{
			{Field: "alert", Old: "EsmTrafficVolume"}, {Field: "expr", Old: "a < 1"}, {Field: "labels.gone", Old: "x"},
			{Field: "labels.severity", Old: "critical"}, {Field: "annotations.summary", Old: "s"},
			{Field: "records.r:rate5m", Old: "sum(rate(x[5m])) {a=1, b=2}"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fieldDiff(tt.old, tt.new))
		})
	}
}
