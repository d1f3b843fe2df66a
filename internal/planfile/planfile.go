// Package planfile reads and writes saved plans: the file "esm plan --out
// FILE" writes and "esm apply FILE" applies, as Terraform's saved plans.
// A saved plan holds, besides what the plan's JSON shows, what applying
// it exactly needs: the desired definition of every create and update,
// and the current owned fields each update and delete was computed
// against, so that the apply can refuse when a monitor changed since.
//
// # Format
//
// One indented JSON object (format_version 1):
//
//	{
//	  "format_version": 1,
//	  "esm_version": "v1.2.3",
//	  "created_at": "2026-12-02T15:31:33Z",
//	  "env": "prod",
//	  "tag": "esm-prod",
//	  "backend": {"kind": "local", "description": "the local state store ...", "state_file": "/abs/.esm/state/prod.json"},
//	  "scope": "Scope: the whole schema tree; every monitor tagged esm-prod is planned.",
//	  "changes": [
//	    {"action": "create", "name": "Traffic Anomaly with Ping", "id": null,
//	     "record": "com.example.Ping", "file": "schemas/shop.avdl", "line": 5, "column": 3,
//	     "desired": {"name": "Traffic Anomaly with Ping", "type": "query alert", "query": "...", ...}},
//	    {"action": "delete", "name": "Traffic Anomaly with Pong", "id": 7, ...,
//	     "current": {"name": "Traffic Anomaly with Pong", ...}}
//	  ],
//	  "notes": ["..."],
//	  "summary": {"create": 1, "update": 0, "delete": 1, "unchanged": 0}
//	}
//
// "backend" is {"kind": "datadog", "endpoint": SITE-OR-URL} or {"kind":
// "local", "state_file": PATH}, with a "description" for people.
// "desired" (create, update) and "current" (update, delete) hold the
// monitor's owned fields (monitor.Owned) keyed by their dotted names, in
// the table's order, typed as in the plan's JSON (tags an array of
// strings, numbers, booleans, strings); unset fields and false flags are
// left out. "drift" and "drifted_fields" mark an update of a monitor
// changed outside esm, as in the plan's JSON. Unchanged monitors are
// listed with neither desired nor current. Decode is strict: an unknown
// key, a field of the wrong type, a change without what its action
// needs, a summary that does not count the changes, or a format_version
// other than FormatVersion is an error naming the value.
package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/monitor"
)

// FormatVersion is the version of the format this package writes and
// reads. A file of a newer version is refused, never half-read.
const FormatVersion = 1

// MaxSize bounds the size of a plan file Read accepts (64 MiB: some
// 30,000 changes).
var MaxSize int64 = 64 << 20

// The kinds of backend a plan is made against.
const (
	Datadog = "datadog"
	Local   = "local"
)

// Backend says which store a plan was computed against, so that the
// apply can refuse another one.
type Backend struct {
	// Kind is Datadog or Local.
	Kind string
	// Description names the store for people.
	Description string
	// Endpoint is Datadog's site or base URL (without credentials).
	Endpoint string
	// StateFile is the local state file, as an absolute path.
	StateFile string
}

// Same reports whether b and o are the same store.
func (b Backend) Same(o Backend) bool {
	return b.Kind == o.Kind && b.Endpoint == o.Endpoint && b.StateFile == o.StateFile
}

// File is a saved plan.
type File struct {
	// ESMVersion is the version of the esm that made the plan.
	ESMVersion string
	// CreatedAt is when the plan was made.
	CreatedAt time.Time
	Backend   Backend
	// Scope is the plan's scope line, as its text begins.
	Scope string
	// Plan holds the changes: Desired for create and update, Current for
	// update and delete.
	Plan *monitor.Plan
}

// The JSON form of a saved plan; the package documentation describes it.
type (
	fileJSON struct {
		FormatVersion int             `json:"format_version"`
		ESMVersion    string          `json:"esm_version"`
		CreatedAt     time.Time       `json:"created_at"`
		Env           string          `json:"env"`
		Tag           string          `json:"tag"`
		Backend       backendJSON     `json:"backend"`
		Scope         string          `json:"scope"`
		Changes       []changeJSON    `json:"changes"`
		Notes         []string        `json:"notes,omitempty"`
		Summary       monitor.Summary `json:"summary"`
	}
	backendJSON struct {
		Kind        string `json:"kind"`
		Description string `json:"description"`
		Endpoint    string `json:"endpoint,omitempty"`
		StateFile   string `json:"state_file,omitempty"`
	}
	changeJSON struct {
		Action  monitor.Action `json:"action"`
		Name    string         `json:"name"`
		ID      *int64         `json:"id"`
		Record  string         `json:"record"`
		File    string         `json:"file"`
		Line    int            `json:"line,omitempty"`
		Column  int            `json:"column,omitempty"`
		Reason  string         `json:"reason,omitempty"`
		Healing bool           `json:"healing,omitempty"`
		// Drift and DriftedFields mark an update of a monitor changed
		// outside esm (monitor.Change.Drift), as in the plan's JSON.
		Drift         bool     `json:"drift,omitempty"`
		DriftedFields []string `json:"drifted_fields,omitempty"`
		// Desired and Current are fields objects; decoded in changeOf,
		// so that their errors name the change.
		Desired json.RawMessage `json:"desired,omitempty"`
		Current json.RawMessage `json:"current,omitempty"`
	}
)

// versionJSON is read first, so that a newer format is named as such
// rather than as its unknown keys.
type versionJSON struct {
	FormatVersion *int `json:"format_version"`
}

// Encode writes f as indented JSON followed by a newline.
func Encode(w io.Writer, f *File) error {
	if f.Plan == nil {
		return errors.New("encode plan file: no plan")
	}
	p := f.Plan
	out := fileJSON{
		FormatVersion: FormatVersion, ESMVersion: f.ESMVersion, CreatedAt: f.CreatedAt.UTC(),
		Env: p.Env, Tag: p.Tag, Scope: f.Scope, Notes: p.Notes, Summary: p.Summary(),
		Backend: backendJSON{Kind: f.Backend.Kind, Description: f.Backend.Description,
			Endpoint: f.Backend.Endpoint, StateFile: f.Backend.StateFile},
		Changes: make([]changeJSON, 0, len(p.Changes)),
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		cj := changeJSON{Action: c.Action, Name: c.Name, Record: c.Record, File: c.File,
			Line: c.Line, Column: c.Column, Reason: c.Reason, Healing: c.Heal,
			Drift: c.Drift, DriftedFields: c.DriftedFields}
		if c.Action != monitor.Create {
			id := c.ID
			cj.ID = &id
		}
		if (c.Action == monitor.Create || c.Action == monitor.Update) && c.Desired != nil {
			cj.Desired = encodeFields(&c.Desired.Definition)
		}
		if (c.Action == monitor.Update || c.Action == monitor.Delete) && c.Current != nil {
			cj.Current = encodeFields(&c.Current.Definition)
		}
		out.Changes = append(out.Changes, cj)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // queries hold ">=", messages "<" and "&"
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("encode plan file: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	return nil
}

// Write writes f to path atomically, with mode 0600: a temporary file in
// the same directory, synced, then renamed over path, so that a reader
// sees the old file or the whole new one. Its errors name path.
func Write(path string, f *File) error {
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return writeError(path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for _, step := range []func() error{
		func() error { return tmp.Chmod(0o600) },
		func() error { _, err := tmp.Write(buf.Bytes()); return err },
		tmp.Sync,
		tmp.Close,
	} {
		if err := step(); err != nil {
			return writeError(path, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return writeError(path, err)
	}
	renamed = true
	return nil
}

// writeError says that writing path failed, without the temporary file's
// name a *fs.PathError would give.
func writeError(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write plan file %s: %w", path, err)
}

// Error is a file that is not a saved plan esm can apply: not JSON,
// another program's JSON, a newer format, or an invalid value.
type Error struct {
	// Path is the file, when read from one.
	Path string
	// Newer is set when the file is of a newer format version.
	Newer bool
	Err   error
}

// Error names the file and what is wrong, on one line.
func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Path != "" {
		return e.Path + ": " + msg
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Read reads and decodes the plan file at path; a file that is not a plan
// esm can apply is an *Error naming it.
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	if int64(len(data)) > MaxSize {
		return nil, &Error{Path: path, Err: fmt.Errorf("not an esm plan file: larger than %d bytes", MaxSize)}
	}
	f, err := Decode(data)
	var pe *Error
	if errors.As(err, &pe) {
		pe.Path = path
	}
	return f, err
}

// Decode parses a saved plan strictly; every problem is an *Error.
func Decode(data []byte) (*File, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Err: errors.New("not an esm plan file: the file is empty")}
	}
	var v versionJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, &Error{Err: fmt.Errorf("not an esm plan file: %w", diag.JSONError(data, err))}
	}
	switch {
	case v.FormatVersion == nil:
		return nil, &Error{Err: errors.New(`not an esm plan file: no "format_version" (write one with esm plan --out FILE)`)}
	case *v.FormatVersion > FormatVersion:
		return nil, &Error{Newer: true, Err: fmt.Errorf("plan file format_version %d is newer than this esm reads (%d): apply it with the esm that made it, or make the plan again", *v.FormatVersion, FormatVersion)}
	case *v.FormatVersion != FormatVersion:
		return nil, &Error{Err: fmt.Errorf("unsupported plan file format_version %d (this esm reads %d)", *v.FormatVersion, FormatVersion)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in fileJSON
	if err := dec.Decode(&in); err != nil {
		return nil, &Error{Err: fmt.Errorf("invalid plan file: %w", diag.JSONError(data, err))}
	}
	// json.Unmarshal above refused data after the object.
	f, err := fromJSON(&in)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("invalid plan file: %w", err)}
	}
	return f, nil
}

// fromJSON checks the decoded file and returns the plan it holds.
func fromJSON(in *fileJSON) (*File, error) {
	if in.Env == "" {
		return nil, errors.New(`"env" is missing`)
	}
	if want := monitor.EnvTag(in.Env); in.Tag != want {
		return nil, fmt.Errorf(`"tag" is %q, but the tag of environment %q is %q`, in.Tag, in.Env, want)
	}
	b := Backend{Kind: in.Backend.Kind, Description: in.Backend.Description, Endpoint: in.Backend.Endpoint, StateFile: in.Backend.StateFile}
	switch {
	case b.Kind == Datadog && b.Endpoint == "":
		return nil, errors.New(`"backend.endpoint" is missing`)
	case b.Kind == Local && !filepath.IsAbs(b.StateFile):
		return nil, fmt.Errorf(`"backend.state_file" must be an absolute path, not %q`, b.StateFile)
	case b.Kind != Datadog && b.Kind != Local:
		return nil, fmt.Errorf(`"backend.kind" must be %q or %q, not %q`, Datadog, Local, b.Kind)
	}
	p := &monitor.Plan{Env: in.Env, Tag: in.Tag, Notes: in.Notes, Changes: make([]monitor.Change, len(in.Changes))}
	for i := range in.Changes {
		c, err := changeOf(&in.Changes[i])
		if err != nil {
			return nil, fmt.Errorf("changes[%d]: %w", i, err)
		}
		p.Changes[i] = c
	}
	if got := p.Summary(); got != in.Summary {
		return nil, fmt.Errorf(`"summary" %+v does not count the changes (%+v)`, in.Summary, got)
	}
	return &File{ESMVersion: in.ESMVersion, CreatedAt: in.CreatedAt, Backend: b, Scope: in.Scope, Plan: p}, nil
}

// changeOf checks one change and returns it: the ID, the desired and the
// current fields its action needs, and no others.
func changeOf(cj *changeJSON) (monitor.Change, error) {
	c := monitor.Change{Action: cj.Action, Name: cj.Name, Record: cj.Record, File: cj.File,
		Line: cj.Line, Column: cj.Column, Reason: cj.Reason, Heal: cj.Healing,
		Drift: cj.Drift, DriftedFields: cj.DriftedFields}
	if c.Name == "" {
		return c, errors.New(`"name" is missing`)
	}
	var wantDesired, wantCurrent bool
	switch c.Action {
	case monitor.Create:
		wantDesired = true
	case monitor.Update:
		wantDesired, wantCurrent = true, true
	case monitor.Delete:
		wantCurrent = true
	case monitor.Unchanged:
	default:
		return c, fmt.Errorf(`"action" must be create, update, delete or unchanged, not %q`, c.Action)
	}
	switch {
	case c.Action == monitor.Create && cj.ID != nil:
		return c, errors.New(`"id" of a create must be null`)
	case c.Action != monitor.Create && (cj.ID == nil || *cj.ID <= 0):
		return c, fmt.Errorf(`"id" must be a positive integer for %s`, c.Action)
	case cj.Healing && c.Action != monitor.Delete:
		return c, errors.New(`"healing" marks a delete only`)
	case cj.Drift && c.Action != monitor.Update:
		return c, errors.New(`"drift" marks an update only`)
	case cj.Drift != (len(cj.DriftedFields) > 0):
		return c, errors.New(`"drift" and "drifted_fields" go together`)
	}
	for _, name := range cj.DriftedFields {
		if _, ok := monitor.FieldByName(name); !ok {
			return c, fmt.Errorf(`"drifted_fields": unknown monitor field %q`, name)
		}
	}
	if cj.ID != nil {
		c.ID = *cj.ID
	}
	desired, err := sideOf("desired", cj.Desired, wantDesired, &c)
	if err != nil {
		return c, err
	}
	current, err := sideOf("current", cj.Current, wantCurrent, &c)
	if err != nil {
		return c, err
	}
	if desired != nil {
		c.Desired = &monitor.Desired{Definition: *desired,
			Source: monitor.Source{Record: c.Record, File: c.File, Line: c.Line, Column: c.Column}}
	}
	if current != nil {
		c.Current = &monitor.Monitor{ID: c.ID, Definition: *current}
	}
	if desired != nil || current != nil {
		c.Diff = monitor.FieldDiffs(current, desired)
	}
	if c.Action == monitor.Update && len(c.Diff) == 0 {
		return c, errors.New(`an update whose "desired" and "current" are the same`)
	}
	return c, nil
}

// sideOf decodes the side (desired or current) of a change when its
// action needs it, checking that it is there, names the change's monitor,
// and is absent otherwise.
func sideOf(key string, raw json.RawMessage, want bool, c *monitor.Change) (*monitor.Definition, error) {
	present := len(raw) > 0 && string(raw) != "null"
	switch {
	case want && !present:
		return nil, fmt.Errorf("%q is missing: a %s needs it", key, c.Action)
	case !want && present:
		return nil, fmt.Errorf("%q is not allowed on %s", key, c.Action)
	case !want:
		return nil, nil
	}
	d, err := decodeFields(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if d.Name != c.Name {
		return nil, fmt.Errorf("%s.name %q is not the change's name %q", key, d.Name, c.Name)
	}
	return d, nil
}

// encodeFields returns the set owned fields of d as a JSON object keyed
// by field name, in the table's order, typed by their kind.
func encodeFields(d *monitor.Definition) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, field := range monitor.Owned {
		val := field.JSONValue(d)
		if val == nil {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		appendJSON(&b, field.Name)
		b.WriteByte(':')
		appendJSON(&b, val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// appendJSON appends the JSON of v (a string, a number, a bool or a list
// of strings: what always encodes) without escaping HTML characters.
func appendJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// decodeFields reads owned fields by name; an unknown name or a value of
// the wrong type is an error naming the field.
func decodeFields(raw json.RawMessage) (*monitor.Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("must be an object of monitor fields")
	}
	d := &monitor.Definition{}
	for _, field := range monitor.Owned {
		v, ok := obj[field.Name]
		if !ok {
			continue
		}
		delete(obj, field.Name)
		if err := field.SetJSON(d, v); err != nil {
			return nil, err
		}
	}
	if len(obj) > 0 {
		return nil, fmt.Errorf("unknown monitor field %q", slices.Sorted(maps.Keys(obj))[0])
	}
	return d, nil
}
