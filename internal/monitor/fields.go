package monitor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FieldKind is the type of an owned field's value.
type FieldKind int

// The kinds of owned fields.
const (
	StringField FieldKind = iota
	// ListField values are lists; Field.Value joins the items with ", ".
	ListField
	NumberField
	BoolField
)

// Field is one field of a monitor that esm owns. The table Owned drives
// everything that names or compares fields: Diff, the plan's field names
// (text, JSON and PR comment) and the local state file's encoding.
type Field struct {
	// Name is the field's name in plans and its path in the local state
	// file; nested options are dotted (options.thresholds.critical).
	Name string
	// Kind is the type of the field's value.
	Kind FieldKind
	// get returns the value normalised as Datadog stores it; "" is unset.
	get func(*Definition) string
	// set sets the field from a value of the form get returns.
	set func(*Definition, string) error
}

// Value returns the field of d normalised the way Datadog stores a
// monitor: "metric alert" is "query alert", thresholds are numbers
// whatever their spelling, tags are lowercase, sorted and joined with
// ", ", a no-data timeframe counts only when no-data notifications are
// on, and zero means unset (""). Booleans are "true" or "false".
func (f Field) Value(d *Definition) string { return f.get(d) }

// Set sets the field of d from a value of the form Value returns.
func (f Field) Set(d *Definition, v string) error {
	if err := f.set(d, v); err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return nil
}

// JSONValue returns the field of d as files hold it in JSON (the local
// state file, a saved plan): a []string for a list, a json.Number for a
// number, a bool for a flag, else a string; nil when the field is unset
// or a false flag, so that files keep only what is set.
func (f Field) JSONValue(d *Definition) any {
	v := f.get(d)
	switch {
	case v == "":
		return nil
	case f.Kind == ListField:
		return strings.Split(v, ", ")
	case f.Kind == NumberField:
		return json.Number(v)
	case f.Kind == BoolField:
		if v == "true" {
			return true
		}
		return nil
	}
	return v
}

// SetJSON sets the field of d from a value as encoding/json decodes it
// (with UseNumber) from the form JSONValue returns; nil unsets it. A value
// of another type is an error naming the field.
func (f Field) SetJSON(d *Definition, v any) error {
	if v == nil {
		return f.Set(d, "")
	}
	var s string
	var ok bool
	switch f.Kind {
	case ListField:
		items, isList := v.([]any)
		strs := make([]string, len(items))
		ok = isList
		for i := range items {
			if strs[i], ok = items[i].(string); !ok {
				break
			}
		}
		if !ok {
			return fmt.Errorf("%s must be an array of strings", f.Name)
		}
		s = strings.Join(strs, ", ")
	case NumberField:
		var n json.Number
		if n, ok = v.(json.Number); !ok {
			return fmt.Errorf("%s must be a number", f.Name)
		}
		s = n.String()
	case BoolField:
		var b bool
		if b, ok = v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", f.Name)
		}
		s = strconv.FormatBool(b)
	default:
		if s, ok = v.(string); !ok {
			return fmt.Errorf("%s must be a string", f.Name)
		}
	}
	return f.Set(d, s)
}

// Owned is the table of the fields esm owns, in the order plans list them.
var Owned = []Field{
	{Name: "name", get: func(d *Definition) string { return d.Name }, set: func(d *Definition, v string) error { d.Name = v; return nil }},
	{Name: "type", get: func(d *Definition) string {
		if d.Type == "metric alert" {
			return "query alert"
		}
		return d.Type
	}, set: func(d *Definition, v string) error { d.Type = v; return nil }},
	{Name: "query", get: func(d *Definition) string { return strings.TrimSpace(d.Query) }, set: func(d *Definition, v string) error { d.Query = v; return nil }},
	{Name: "message", get: func(d *Definition) string { return strings.TrimSpace(d.Message) }, set: func(d *Definition, v string) error { d.Message = v; return nil }},
	{Name: "tags", Kind: ListField, get: func(d *Definition) string { return strings.Join(normalTags(d.Tags), ", ") }, set: func(d *Definition, v string) error {
		d.Tags = nil
		if v != "" {
			d.Tags = strings.Split(v, ", ")
		}
		return nil
	}},
	intField("priority", func(d *Definition) *int64 { return &d.Priority }),
	floatField("options.thresholds.critical", func(d *Definition) **float64 { return &d.Options.Thresholds.Critical }),
	floatField("options.thresholds.critical_recovery", func(d *Definition) **float64 { return &d.Options.Thresholds.CriticalRecovery }),
	floatField("options.thresholds.warning", func(d *Definition) **float64 { return &d.Options.Thresholds.Warning }),
	floatField("options.thresholds.warning_recovery", func(d *Definition) **float64 { return &d.Options.Thresholds.WarningRecovery }),
	windowField("options.threshold_windows.trigger_window", func(w *ThresholdWindows) *string { return &w.TriggerWindow }),
	windowField("options.threshold_windows.recovery_window", func(w *ThresholdWindows) *string { return &w.RecoveryWindow }),
	boolField("options.notify_no_data", func(d *Definition) *bool { return &d.Options.NotifyNoData }),
	{Name: "options.no_data_timeframe", Kind: NumberField, get: func(d *Definition) string {
		if !d.Options.NotifyNoData {
			return ""
		}
		return intValue(d.Options.NoDataTimeframe)
	}, set: func(d *Definition, v string) error { return setInt(&d.Options.NoDataTimeframe, v) }},
	intField("options.renotify_interval", func(d *Definition) *int64 { return &d.Options.RenotifyInterval }),
	intField("options.evaluation_delay", func(d *Definition) *int64 { return &d.Options.EvaluationDelay }),
	intField("options.new_group_delay", func(d *Definition) *int64 { return &d.Options.NewGroupDelay }),
	boolField("options.include_tags", func(d *Definition) *bool { return &d.Options.IncludeTags }),
	boolField("options.require_full_window", func(d *Definition) *bool { return &d.Options.RequireFullWindow }),
	boolField("options.notify_audit", func(d *Definition) *bool { return &d.Options.NotifyAudit }),
	{Name: "options.escalation_message", get: func(d *Definition) string { return d.Options.EscalationMessage },
		set: func(d *Definition, v string) error { d.Options.EscalationMessage = v; return nil }},
	intField("options.timeout_h", func(d *Definition) *int64 { return &d.Options.TimeoutH }),
}

// FieldNames are the names of the Owned fields, in order.
var FieldNames = func() []string {
	names := make([]string, len(Owned))
	for i, f := range Owned {
		names[i] = f.Name
	}
	return names
}()

// FieldByName returns the owned field called name.
func FieldByName(name string) (Field, bool) {
	for _, f := range Owned {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Fields returns the values of the Owned fields of d, in order (see
// Field.Value).
func Fields(d *Definition) []string {
	out := make([]string, len(Owned))
	for i, f := range Owned {
		out[i] = f.get(d)
	}
	return out
}

func intField(name string, p func(*Definition) *int64) Field {
	return Field{Name: name, Kind: NumberField,
		get: func(d *Definition) string { return intValue(*p(d)) },
		set: func(d *Definition, v string) error { return setInt(p(d), v) }}
}

func floatField(name string, p func(*Definition) **float64) Field {
	return Field{Name: name, Kind: NumberField,
		get: func(d *Definition) string {
			if f := *p(d); f != nil {
				return strconv.FormatFloat(*f, 'g', -1, 64)
			}
			return ""
		},
		set: func(d *Definition, v string) error {
			if v == "" {
				*p(d) = nil
				return nil
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			*p(d) = &f
			return nil
		}}
}

func boolField(name string, p func(*Definition) *bool) Field {
	return Field{Name: name, Kind: BoolField,
		get: func(d *Definition) string { return strconv.FormatBool(*p(d)) },
		set: func(d *Definition, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil && v != "" {
				return fmt.Errorf("%q is not true or false", v)
			}
			*p(d) = b
			return nil
		}}
}

// windowField is a field of the threshold windows, which are unset as a
// whole when both are empty.
func windowField(name string, p func(*ThresholdWindows) *string) Field {
	return Field{Name: name,
		get: func(d *Definition) string {
			if w := d.Options.ThresholdWindows; w != nil {
				return *p(w)
			}
			return ""
		},
		set: func(d *Definition, v string) error {
			if v == "" {
				return nil
			}
			if d.Options.ThresholdWindows == nil {
				d.Options.ThresholdWindows = &ThresholdWindows{}
			}
			*p(d.Options.ThresholdWindows) = v
			return nil
		}}
}

func intValue(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func setInt(p *int64, v string) error {
	if v == "" {
		*p = 0
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an integer", v)
	}
	*p = n
	return nil
}

// normalTags returns tags lowercase, sorted and without repeats.
func normalTags(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = strings.ToLower(t)
	}
	sort.Strings(out)
	n := 0
	for i, v := range out {
		if i == 0 || v != out[i-1] {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// RuleField is one owned field of a Prometheus alerting rule and its
// value.
type RuleField struct {
	Name, Value string
}

// RuleFields returns the owned fields of a Prometheus monitor, in the
// order plans list them: alert, expr, for, labels.<name> and
// annotations.<name> by name, then records.<record>, the expression of
// each recording rule the alert reads (a change of a baseline shows there
// even when the alert's expression stays the same). Values are trimmed;
// an unset field is left out. A Definition without a Rule has none.
func RuleFields(d *Definition) []RuleField {
	r := d.Rule
	if r == nil {
		return nil
	}
	var out []RuleField
	add := func(name, v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, RuleField{name, v})
		}
	}
	add("alert", r.Alert)
	add("expr", r.Expr)
	add("for", r.For)
	for _, m := range []struct {
		prefix string
		kv     map[string]string
	}{{"labels.", r.Labels}, {"annotations.", r.Annotations}} {
		keys := make([]string, 0, len(m.kv))
		for k := range m.kv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(m.prefix+k, m.kv[k])
		}
	}
	for _, rec := range r.Records {
		add("records."+rec.Record, recordText(rec))
	}
	return out
}

// recordText renders a recording rule's expression and labels as one
// value: "expr" or "expr {a=b, c=d}".
func recordText(r RecordingRule) string {
	if len(r.Labels) == 0 {
		return strings.TrimSpace(r.Expr)
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, len(keys))
	for i, k := range keys {
		kv[i] = k + "=" + r.Labels[k]
	}
	return strings.TrimSpace(r.Expr) + " {" + strings.Join(kv, ", ") + "}"
}
