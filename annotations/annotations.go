package annotations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Position is a place in a schema or configuration file.
type Position struct {
	File   string
	Line   int
	Column int
}

// String renders the position as file:line:col.
func (p Position) String() string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	case p.File != "":
		return p.File
	}
	return "-"
}

// Error is a problem with an annotation or a parameter layer, at its
// position.
type Error struct {
	Pos Position
	Msg string
	// Related are the other positions a problem involves, such as where a
	// conflicting parameter was set in another layer; Msg names them too.
	Related []Position
}

// Error renders "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

func errorf(pos Position, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Layer is one set of parameters for a kind, as JSON, with where it comes
// from. Later layers override earlier ones field by field.
type Layer struct {
	// Source names the layer for messages: "built-in defaults", "esm.yaml",
	// "environment prod", "@traffic_anomaly_monitor on protocol Cart", ...
	Source string
	Params json.RawMessage
	// Pos is where the layer is written: the annotation, or the esm.yaml
	// key that holds the parameters.
	Pos Position
	// ParamPos, when the decoder knows them, are the positions of the
	// parameters' values, by parameter name, and of the items of array
	// values, by name and index ("tags.1"); a problem with a parameter is
	// reported there, else at Pos.
	ParamPos map[string]Position
}

// PosOf returns the position of a parameter's value ("tags") or of an
// item of it ("tags.1"), falling back to the parameter's and then to the
// layer's.
func (l Layer) PosOf(param string) Position {
	if p, ok := l.ParamPos[param]; ok {
		return p
	}
	if name, _, ok := strings.Cut(param, "."); ok {
		if p, ok := l.ParamPos[name]; ok {
			return p
		}
	}
	return l.Pos
}

// paramName returns the parameter of a PosOf path: "tags" for "tags.1".
func paramName(path string) string {
	name, _, _ := strings.Cut(path, ".")
	return name
}

// Target is what a monitor is for: a record in an environment.
type Target struct {
	// Record is the record's simple name, as declared; the collector tags
	// its counts with this value.
	Record string
	// FullName is the record's namespace-qualified name.
	FullName string
	// Doc is the record's doc comment.
	Doc string
	// File and Line locate the annotation that asks for the monitor.
	File string
	Line int
	// Env holds the environment's settings.
	Env Environment
	// Channels are the notification channels (@alert_channel).
	Channels Channels
}

// Environment holds the per-environment settings monitors are built with.
type Environment struct {
	// Name is the environment, e.g. "prod".
	Name string
	// Metric is the counter the collector emits, e.g. esm.events.received.
	Metric string
	// RejectedMetric is the counter of the events the collector rejects,
	// e.g. esm.events.rejected.
	RejectedMetric string
	// EnvTag is the value of the env tag in queries, e.g. "prod".
	EnvTag string
	// Tags are extra tags for every monitor of the environment.
	Tags []string
	// MessageFooter is appended to every monitor message.
	MessageFooter string
}

// Kind is a kind of monitor, asked for by one annotation.
type Kind interface {
	// Annotation is the annotation's name, e.g. "traffic_anomaly_monitor".
	Annotation() string
	// Defaults are the built-in parameters, as JSON.
	Defaults() json.RawMessage
	// Check decodes one layer on its own and reports what is wrong with it:
	// unknown parameters, wrong types, values out of range.
	Check(l Layer) error
	// Spec merges the layers over the defaults, checks the result and
	// returns what the annotation asks for target.
	Spec(target Target, layers []Layer) (Spec, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Kind{}
)

// Register makes a kind available under its annotation name. It panics
// if the name is taken, as registering twice is a programming error.
func Register(k Kind) {
	registryMu.Lock()
	defer registryMu.Unlock()
	name := k.Annotation()
	if _, dup := registry[name]; dup {
		panic("annotations: kind registered twice: " + name)
	}
	registry[name] = k
}

// Lookup returns the kind registered for an annotation name.
func Lookup(name string) (Kind, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	k, ok := registry[name]
	return k, ok
}

// Kinds returns every registered kind, sorted by annotation name.
func Kinds() []Kind {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Annotation() < out[j].Annotation() })
	return out
}

// IsMonitorAnnotation reports whether name is a registered monitor kind or
// alert_channel: the names esm reads.
func IsMonitorAnnotation(name string) bool {
	if name == ChannelAnnotation {
		return true
	}
	_, ok := Lookup(name)
	return ok
}

func decodeLayer[P any](kind string, l Layer) (P, error) {
	var p P
	raw := bytes.TrimSpace(l.Params)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return p, nil
	}
	if raw[0] != '{' {
		return p, errorf(l.Pos, "@%s takes an object of parameters, like @%s({\"deviations\": 3}); %s gives %s", kind, kind, l.Source, abbreviate(raw))
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		param, msg := paramError(kind, err, reflect.TypeOf(p))
		// The other parameters are decoded; the one at fault is left
		// unset, not half-set (a pointer to zero).
		clearParam(&p, param)
		return p, errorf(l.PosOf(param), "%s: %s", l.Source, msg)
	}
	return p, nil
}

// clearParam sets the field of *p whose json name is param to its zero
// value.
func clearParam(p any, param string) {
	v := reflect.ValueOf(p).Elem()
	for _, f := range paramFields(v.Type()) {
		if f.name == param {
			v.FieldByIndex(f.index).SetZero()
		}
	}
}

// paramField is a parameter of a kind's parameter struct: a field with a
// json name, in the struct or in a struct it embeds (CommonParams).
type paramField struct {
	name  string
	index []int
}

// paramFields lists the parameters of the struct type t.
func paramFields(t reflect.Type) []paramField {
	var out []paramField
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		if tag := strings.Split(f.Tag.Get("json"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, paramField{name: tag, index: f.Index})
		}
	}
	return out
}

// paramError turns a JSON decoding error into a message naming the
// parameter, and returns that parameter ("" when unknown).
func paramError(kind string, err error, t reflect.Type) (param, msg string) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// A parameter of an embedded struct is "CommonParams.timeout_h".
		te.Field = te.Field[strings.LastIndexByte(te.Field, '.')+1:]
		if num, ok := strings.CutPrefix(te.Value, "number "); ok && outOfRange(num, te.Type) {
			return te.Field, fmt.Sprintf("%s: %s is out of range", te.Field, num)
		}
		return te.Field, fmt.Sprintf("parameter %q of @%s must be %s, not %s", te.Field, kind, typeWord(te.Type), te.Value)
	}
	msg = err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		name := strings.Trim(msg[i+len("unknown field "):], `"`)
		known := paramNames(t)
		if best, ok := Suggest(name, known); ok {
			return name, fmt.Sprintf("unknown parameter %q for @%s: did you mean %q?", name, kind, best)
		}
		return name, fmt.Sprintf("unknown parameter %q for @%s; known parameters: %s", name, kind, strings.Join(known, ", "))
	}
	return "", fmt.Sprintf("invalid parameters for @%s: %v", kind, err)
}

// outOfRange reports whether the JSON number num failed to decode into t
// because it is too large for it (1e400 for a float64, 1e20 for an int64),
// rather than because it has the wrong form (1.5 for an integer).
func outOfRange(num string, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	f, err := strconv.ParseFloat(num, 64)
	switch t.Kind() {
	case reflect.Float64, reflect.Float32:
		return true // any JSON number fits a float unless it overflows
	case reflect.Int, reflect.Int64, reflect.Int32:
		return err != nil || f == math.Trunc(f) && (f >= math.MaxInt64 || f < math.MinInt64)
	}
	return false
}

func typeWord(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeWord(t.Elem()), "a "), "an ") + "s"
	}
	return t.String()
}

// paramNames lists the json names of P's fields.
func paramNames(t reflect.Type) []string {
	var names []string
	for _, f := range paramFields(t) {
		names = append(names, f.name)
	}
	sort.Strings(names)
	return names
}

// mergeSet copies the non-nil pointer and slice fields of src into dst.
func mergeSet(dst, src any) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for _, p := range paramFields(sv.Type()) {
		f := sv.FieldByIndex(p.index)
		if (f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice) && !f.IsNil() {
			dv.FieldByIndex(p.index).Set(f)
		}
	}
}

func abbreviate(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
