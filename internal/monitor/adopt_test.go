package monitor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handMade returns a monitor made outside esm, with the given tags.
func handMade(id int64, name string, tags ...string) Monitor {
	return Monitor{ID: id, Definition: Definition{Name: name, Type: "query alert", Query: "q-hand", Tags: tags}}
}

func TestUnmanaged(t *testing.T) {
	tests := []struct {
		name string
		tags []string
		want bool
	}{
		{"no tags", nil, true},
		{"user tags", []string{"team:cart", "env:prod", "managed_by:terraform"}, true},
		{"this environment's tag", []string{"esm-prod"}, false},
		{"another environment's tag", []string{"esm-staging", "team:cart"}, false},
		{"a record tag only", []string{"esm_record:ns.a"}, false},
		{"a file tag only", []string{"esm_file:schemas/a.avdl"}, false},
		{"managed_by:esm only", []string{"managed_by:esm"}, false},
		{"managed_by:esm as typed", []string{"Managed_By:ESM"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := handMade(1, "x", tt.tags...)
			assert.Equal(t, tt.want, Unmanaged(&m))
		})
	}
}

func TestUnmanagedTwins(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	b := desired("Traffic Anomaly with B", "q-b")
	b.Source = Source{Record: "ns.B", File: "schemas/b.avdl", Line: 3}
	tests := []struct {
		name    string
		desired []Desired
		all     []Monitor
		scope   Scope
		want    map[string][]int64 // name → IDs of the twin's monitors
	}{
		{"no monitors", []Desired{a, b}, nil, Scope{}, map[string][]int64{}},
		{"one hand-made monitor per name",
			[]Desired{a, b},
			[]Monitor{handMade(4, a.Name, "team:x"), handMade(5, b.Name)},
			Scope{},
			map[string][]int64{a.Name: {4}, b.Name: {5}}},
		{"names compare exactly",
			[]Desired{a},
			[]Monitor{handMade(4, "traffic anomaly with a"), handMade(5, a.Name+" "), handMade(6, "Traffic Anomaly with AB")},
			Scope{},
			map[string][]int64{}},
		{"several: every one, lowest ID first",
			[]Desired{a},
			[]Monitor{handMade(9, a.Name), handMade(4, a.Name)},
			Scope{},
			map[string][]int64{a.Name: {4, 9}}},
		{"a monitor of the environment has the name: no twin",
			[]Desired{a},
			[]Monitor{stored(2, a), handMade(4, a.Name)},
			Scope{},
			map[string][]int64{}},
		{"monitors of esm's other environments and older tools are not twins",
			[]Desired{a},
			[]Monitor{handMade(4, a.Name, "esm-staging"), handMade(5, a.Name, "managed_by:esm"), handMade(6, a.Name, "esm_record:ns.a")},
			Scope{},
			map[string][]int64{}},
		{"the scope's files",
			[]Desired{a, b},
			[]Monitor{handMade(4, a.Name), handMade(5, b.Name)},
			Scope{Files: []string{"schemas/b.avdl"}},
			map[string][]int64{b.Name: {5}}},
		{"the scope's targets",
			[]Desired{a, b},
			[]Monitor{handMade(4, a.Name), handMade(5, b.Name)},
			Scope{Targets: []string{"a"}},
			map[string][]int64{a.Name: {4}}},
		{"a name desired twice is one twin",
			[]Desired{a, a},
			[]Monitor{handMade(4, a.Name)},
			Scope{},
			map[string][]int64{a.Name: {4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string][]int64{}
			var order []string
			for _, tw := range UnmanagedTwins("prod", tt.desired, tt.all, tt.scope) {
				order = append(order, tw.Desired.Name)
				for _, m := range tw.Monitors {
					got[tw.Desired.Name] = append(got[tw.Desired.Name], m.ID)
				}
				assert.Equal(t, len(tw.Monitors) > 1, tw.Ambiguous())
			}
			assert.Equal(t, tt.want, got)
			assert.IsIncreasing(t, append([]string{""}, order...), "sorted by name")
		})
	}
}

// Adopted keeps the monitor's definition and adds esm's identity tags
// only, so that Diff then plans an update of it, never a create.
func TestTwinAdopted(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	twins := UnmanagedTwins("prod", []Desired{a}, []Monitor{handMade(4, a.Name, "Team:X")}, Scope{})
	require.Len(t, twins, 1)
	m := twins[0].Adopted("prod")
	assert.Equal(t, int64(4), m.ID)
	assert.Equal(t, "q-hand", m.Query, "the definition is the current one")
	assert.Equal(t, []string{"esm-prod", "esm_file:schemas/a.avdl", "esm_record:ns.a", "managed_by:esm", "team:x"}, m.Tags)

	p := Diff("prod", []Desired{a}, []Monitor{m}, Scope{})
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Update, p.Changes[0].Action)
	assert.Equal(t, int64(4), p.Changes[0].ID)
}

func TestAdoptionNotes(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	b := desired("Traffic Anomaly with B", "q-b")
	c := desired("Traffic Anomaly with C", "q-c")
	all := []Monitor{
		stored(1, c), handMade(7, c.Name), // c is updated, not created: no note
		handMade(4, a.Name, "team:x"),
		handMade(5, b.Name), handMade(6, b.Name),
	}
	var current []Monitor
	for _, m := range all {
		if HasTag(m.Tags, "esm-prod") {
			current = append(current, m)
		}
	}
	p := Diff("prod", []Desired{a, b, c}, current, Scope{})
	assert.Equal(t, []string{
		"\"Traffic Anomaly with A\": an unmanaged monitor with this name exists (id 4): `esm adopt` would manage it instead of creating a second",
		"\"Traffic Anomaly with B\": 2 unmanaged monitors with this name exist (ids 5, 6): `esm adopt` adopts none of them while there is more than one; delete or rename all but one",
	}, AdoptionNotes(p, all))
	assert.Empty(t, AdoptionNotes(p, current), "no unmanaged monitors, no notes")
}
