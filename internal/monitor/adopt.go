package monitor

import (
	"sort"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
)

// Unmanaged reports whether m carries none of esm's own tags: no
// identity tag esm-<env> of any environment, no esm_ source or kind tag
// and no managed_by:esm (annotations.IsReservedTag), and no fingerprint. Such a monitor was
// made by hand or by another tool, and esm may adopt it; a monitor of
// another esm environment, or one an older esm made, is not unmanaged.
func Unmanaged(m *Monitor) bool {
	if m.Fingerprint != "" {
		return false // esm wrote it
	}
	for _, t := range m.Tags {
		if annotations.IsReservedTag(t) {
			return false
		}
	}
	return true
}

// Twin is a desired monitor and the unmanaged monitors that already have
// its exact name: esm adopts Monitors[0] when it is the only one, and
// none of them when there are several (Ambiguous).
type Twin struct {
	Desired *Desired
	// Monitors are the unmanaged monitors named like Desired, lowest ID
	// first.
	Monitors []Monitor
}

// Ambiguous reports whether several unmanaged monitors have the name, so
// that esm cannot tell which one to adopt.
func (t *Twin) Ambiguous() bool { return len(t.Monitors) > 1 }

// IDs returns the IDs of the twin's monitors as "12" or "12, 15".
func (t *Twin) IDs() string {
	s := make([]string, len(t.Monitors))
	for i := range t.Monitors {
		s[i] = strconv.FormatInt(t.Monitors[i].ID, 10)
	}
	return strings.Join(s, ", ")
}

// Adopted returns the twin's only monitor as esm manages it: its current
// definition, unchanged but for esm's identity tags (env's tag esm-<env>,
// the source tags of the record and file, and managed_by:esm), so that
// the next plan matches it by name and tag and shows an ordinary update
// of the fields that differ.
func (t *Twin) Adopted(env string) Monitor {
	m := t.Monitors[0]
	tags := append(append([]string{}, m.Tags...), EnvTag(env), annotations.ManagedByTag)
	m.Tags = annotations.NormalizeTags(append(tags, SourceTags(t.Desired.Source)...))
	return m
}

// UnmanagedTwins returns, sorted by name, the desired monitors in scope
// (Scope.Wants) that some unmanaged monitors of all (Unmanaged) already
// have the exact name of, with those monitors. A name that a monitor of
// env already has (one with env's identity tag, in scope or not) is left
// out: the plan updates that one, and adopting a second would make a
// duplicate. all must hold every monitor of the store, whatever its tags.
// UnmanagedTwins does no I/O.
func UnmanagedTwins(env string, desired []Desired, all []Monitor, scope Scope) []Twin {
	tag := EnvTag(env)
	managed := map[string]bool{}
	unmanaged := map[string][]Monitor{}
	for i := range all {
		m := &all[i]
		switch {
		case HasTag(m.Tags, tag):
			managed[m.Name] = true
		case Unmanaged(m):
			unmanaged[m.Name] = append(unmanaged[m.Name], *m)
		}
	}
	var out []Twin
	seen := map[string]bool{}
	for i := range desired {
		d := &desired[i]
		ms := unmanaged[d.Name]
		if seen[d.Name] || managed[d.Name] || len(ms) == 0 || !scope.Wants(d) {
			continue
		}
		seen[d.Name] = true
		ms = append([]Monitor{}, ms...)
		sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
		out = append(out, Twin{Desired: d, Monitors: ms})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Desired.Name < out[j].Desired.Name })
	return out
}

// AdoptionNotes returns a note for each monitor p creates whose name
// unmanaged monitors of all already have (UnmanagedTwins): applying the
// plan as it is would make a second monitor of that name, and esm adopt
// would manage the existing one instead. all must hold every monitor of
// the store. AdoptionNotes does no I/O.
func AdoptionNotes(p *Plan, all []Monitor) []string {
	var creates []Desired
	for _, c := range p.Changes {
		if c.Action == Create && c.Desired != nil {
			creates = append(creates, *c.Desired)
		}
	}
	var notes []string
	for _, t := range UnmanagedTwins(p.Env, creates, all, Scope{}) {
		note := "\"" + t.Desired.Name + "\": an unmanaged monitor with this name exists (id " + t.IDs() + "): `esm adopt` would manage it instead of creating a second"
		if t.Ambiguous() {
			note = "\"" + t.Desired.Name + "\": " + strconv.Itoa(len(t.Monitors)) + " unmanaged monitors with this name exist (ids " + t.IDs() + "): `esm adopt` adopts none of them while there is more than one; delete or rename all but one"
		}
		notes = append(notes, note)
	}
	return notes
}
