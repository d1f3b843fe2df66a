package monitor

import (
	"sort"
	"strconv"
	"strings"
)

// Action is what a plan does to one monitor.
type Action string

// The actions of a plan.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
)

// FieldDiff is one owned field that differs. Old is empty for a create,
// New for a delete.
type FieldDiff struct {
	Field string
	Old   string
	New   string
}

// Change is the plan for one monitor.
type Change struct {
	Action Action
	Name   string
	// ID is the store's ID of the current monitor; 0 for a create.
	ID     int64
	Record string
	File   string
	Line   int
	Column int
	// Diff lists the owned fields that differ, in a fixed order.
	Diff []FieldDiff
	// Desired is set for create, update and unchanged.
	Desired *Desired
	// Current is set for update, delete and unchanged.
	Current *Monitor
	// Reason explains a change that is not obvious, such as the deletion of
	// a duplicate.
	Reason string
	// Heal marks the deletion of a newer duplicate of a monitor the plan
	// keeps (one with the same name and environment tag, left by runs
	// that created it concurrently): it repairs the store rather than
	// removing a monitor an annotation asked for, so the mass-delete guard
	// does not count it.
	Heal bool
	// Drift marks an update of a monitor that was changed outside esm
	// (edited in Datadog's UI, say) since esm last wrote it: its
	// fingerprint (Monitor.Fingerprint) no longer matches its fields.
	// DriftedFields names those fields, owned-field names in table order
	// (query, options.thresholds.critical). Applying the plan reverts
	// them; Diff still lists every field that differs from the schemas.
	// A monitor without a fingerprint gets no verdict.
	Drift         bool
	DriftedFields []string
}

// Summary counts the changes of a plan by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
	// Healing counts the deletions (included in Delete) that heal a
	// duplicate of a kept monitor; see Change.Heal.
	Healing int `json:"healing,omitempty"`
	// Drift counts the updates (included in Update) of monitors changed
	// outside esm; see Change.Drift.
	Drift int `json:"drift,omitempty"`
}

// Plan is the difference between the desired and the current monitors of
// one environment.
type Plan struct {
	Env     string
	Tag     string
	Changes []Change
	// Notes explain decisions the reader should know about, such as
	// duplicates planned for deletion.
	Notes []string
}

// Summary counts the plan's changes.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
			if c.Drift {
				s.Drift++
			}
		case Delete:
			s.Delete++
			if c.Heal {
				s.Healing++
			}
		default:
			s.Unchanged++
		}
	}
	return s
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	s := p.Summary()
	return s.Create+s.Update+s.Delete > 0
}

// Scope limits which current monitors a plan may touch.
type Scope struct {
	// Records, when not nil, holds the lowercase full names of the records
	// the plan is about (a change set: the records defined in the changed
	// files before or after the change). Current monitors of other records
	// are left alone. Nil means the whole tree.
	Records map[string]bool
	// Names holds the names of the monitors that the records of the
	// change set ask for, before or after the change. With Records, a
	// current monitor is in scope when its record tag names one of
	// Records or its name is one of Names: identity is the name and the
	// environment tag, so a monitor without esm's record tag (made by an
	// older tool, or whose tag was edited away) is still the one a record
	// asks for, and is updated rather than duplicated.
	Names map[string]bool
	// Files, when not nil, limits the plan to the monitors whose schema
	// file lies under one of these files or directories, in the form the
	// file tag holds them (FileTagValue): the PATHs of "esm plan PATH...".
	// A current monitor without a file tag is in scope only with
	// Untagged.
	Files []string
	// Untagged puts current monitors without a file tag in scope when
	// Files is set.
	Untagged bool
	// Targets, when not nil, narrows the plan to these records (--target):
	// full names or simple names, in the form the record tag holds them
	// (RecordTagValue).
	Targets []string
}

// inScope reports whether a current monitor belongs to the scope.
func (s Scope) inScope(m *Monitor) bool {
	rec, hasRec := TagValue(m.Tags, RecordTagPrefix)
	if s.Records != nil && !s.Names[m.Name] && !(hasRec && s.Records[strings.ToLower(rec)]) {
		return false
	}
	if s.Files != nil {
		file, ok := TagValue(m.Tags, FileTagPrefix)
		if !ok && !s.Untagged || ok && !s.hasFile(file) {
			return false
		}
	}
	return s.Targets == nil || hasRec && s.hasTarget(rec)
}

// Wants reports whether a desired monitor belongs to the scope: whether
// its schema file lies under Files and its record is one of Targets, when
// they are set. (Records and Names limit the current monitors only.)
func (s Scope) Wants(d *Desired) bool {
	if s.Files != nil && !s.hasFile(FileTagValue(d.Source.File)) {
		return false
	}
	return s.Targets == nil || s.hasTarget(RecordTagValue(d.Source.Record))
}

func (s Scope) hasFile(file string) bool {
	file = strings.ToLower(file)
	for _, f := range s.Files {
		if file == f || strings.HasPrefix(file, strings.TrimSuffix(f, "/")+"/") {
			return true
		}
	}
	return false
}

func (s Scope) hasTarget(record string) bool {
	record = strings.ToLower(record)
	for _, t := range s.Targets {
		if record == t || strings.HasSuffix(record, "."+t) {
			return true
		}
	}
	return false
}

// Diff computes the plan that turns current into desired for env. current
// must hold the monitors listed with the environment's tag; any without
// that tag are ignored, whatever their name. Monitors are matched by name.
// Diff does no I/O.
func Diff(env string, desired []Desired, current []Monitor, scope Scope) *Plan {
	tag := EnvTag(env)
	p := &Plan{Env: env, Tag: tag}

	byName := make(map[string][]*Monitor, len(current))
	var names []string
	for i := range current {
		m := &current[i]
		if !HasTag(m.Tags, tag) || !scope.inScope(m) {
			continue
		}
		if _, ok := byName[m.Name]; !ok {
			names = append(names, m.Name)
		}
		byName[m.Name] = append(byName[m.Name], m)
	}
	if scope.Files != nil || scope.Targets != nil {
		var kept []Desired
		for i := range desired {
			if scope.Wants(&desired[i]) {
				kept = append(kept, desired[i])
			}
		}
		desired = kept
	}
	wanted := make(map[string]bool, len(desired))
	for i := range desired {
		wanted[desired[i].Name] = true
	}
	// Duplicates: keep the oldest (lowest ID), delete the others. When an
	// annotation still asks for the name, the deletion heals the store.
	for _, name := range names {
		ms := byName[name]
		if len(ms) < 2 {
			continue
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
		keep := strconv.FormatInt(ms[0].ID, 10)
		for _, dup := range ms[1:] {
			c := deleteChange(dup)
			c.Reason = "duplicate of monitor " + keep
			note := "monitor " + strconv.FormatInt(dup.ID, 10) + " \"" + name + "\" duplicates monitor " + keep + ": keeping the older one, deleting this one"
			if wanted[name] {
				c.Heal = true
				c.Reason += ", healing"
				note += " (healing: not counted by the mass-delete guard)"
			}
			p.Changes = append(p.Changes, c)
			p.Notes = append(p.Notes, note)
		}
		byName[name] = ms[:1]
	}

	seen := make(map[string]bool, len(desired))
	for i := range desired {
		d := &desired[i]
		if seen[d.Name] {
			continue // the caller reports duplicate names as errors
		}
		seen[d.Name] = true
		c := Change{Name: d.Name, Record: d.Source.Record, File: d.Source.File, Line: d.Source.Line, Column: d.Source.Column, Desired: d}
		cur := byName[d.Name]
		if len(cur) == 0 {
			c.Action = Create
			c.Diff = fieldDiff(nil, &d.Definition)
		} else {
			c.Current = cur[0]
			c.ID = cur[0].ID
			c.Diff = fieldDiff(&cur[0].Definition, &d.Definition)
			if len(c.Diff) == 0 {
				c.Action = Unchanged
			} else {
				c.Action = Update
				c.DriftedFields, _ = Drifted(cur[0].Fingerprint, &cur[0].Definition)
				c.Drift = len(c.DriftedFields) > 0
			}
		}
		if c.Drift {
			p.Notes = append(p.Notes, driftNote(&c))
		}
		p.Changes = append(p.Changes, c)
	}
	for _, name := range names {
		if seen[name] {
			continue
		}
		for _, m := range byName[name] {
			p.Changes = append(p.Changes, deleteChange(m))
		}
	}
	sort.SliceStable(p.Changes, func(i, j int) bool {
		a, b := p.Changes[i], p.Changes[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return p
}

// driftNote says that an update reverts edits made outside esm, and how
// to keep them.
func driftNote(c *Change) string {
	return "monitor " + strconv.FormatInt(c.ID, 10) + " \"" + c.Name + "\" was changed outside esm (" + strings.Join(c.DriftedFields, ", ") +
		"): applying this plan reverts those edits; to keep them, put them in the schemas or esm.yaml"
}

func deleteChange(m *Monitor) Change {
	rec, _ := TagValue(m.Tags, RecordTagPrefix)
	file, _ := TagValue(m.Tags, FileTagPrefix)
	return Change{Action: Delete, Name: m.Name, ID: m.ID, Record: rec, File: file, Current: m, Diff: fieldDiff(&m.Definition, nil)}
}

// fieldDiff compares the owned fields of two monitors after normalising
// them as Datadog stores them; nil stands for "no monitor".
func fieldDiff(old, new *Definition) []FieldDiff {
	var o, n []string
	if old != nil {
		o = Fields(old)
	}
	if new != nil {
		n = Fields(new)
	}
	var out []FieldDiff
	for i, name := range FieldNames {
		var ov, nv string
		if o != nil {
			ov = o[i]
		}
		if n != nil {
			nv = n[i]
		}
		if ov != nv {
			out = append(out, FieldDiff{Field: name, Old: ov, New: nv})
		}
	}
	return out
}
