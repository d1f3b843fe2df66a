package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/esm-dev/esm/internal/monitor"
)

// The JSON form of a plan; the package documentation describes it.
type (
	planJSON struct {
		Env     string          `json:"env"`
		Tag     string          `json:"tag"`
		Changes []changeJSON    `json:"changes"`
		Notes   []string        `json:"notes,omitempty"`
		Summary monitor.Summary `json:"summary"`
	}
	changeJSON struct {
		Action monitor.Action `json:"action"`
		Name   string         `json:"name"`
		ID     *int64         `json:"id"`
		Record string         `json:"record"`
		File   string         `json:"file"`
		Line   int            `json:"line,omitempty"`
		Column int            `json:"column,omitempty"`
		Reason string         `json:"reason,omitempty"`
		// Healing is set on the deletion of a newer duplicate of a kept
		// monitor (monitor.Change.Heal).
		Healing bool `json:"healing,omitempty"`
		// Drift is set on an update of a monitor changed outside esm,
		// DriftedFields names the fields (monitor.Change.Drift).
		Drift         bool     `json:"drift,omitempty"`
		DriftedFields []string `json:"drifted_fields,omitempty"`
		Diff          diffJSON `json:"diff"`
	}
	// diffJSON marshals as an object whose keys keep the order of
	// monitor.FieldNames.
	diffJSON  []monitor.FieldDiff
	sidesJSON struct {
		Before any `json:"before"`
		After  any `json:"after"`
	}
)

// JSON writes the plan as one indented JSON object followed by a newline.
func JSON(w io.Writer, p *monitor.Plan) error {
	return writeJSON(w, planOf(p), "plan")
}

// planOf returns the JSON form of p.
func planOf(p *monitor.Plan) planJSON {
	out := planJSON{Env: p.Env, Tag: p.Tag, Changes: make([]changeJSON, 0, len(p.Changes)), Notes: p.Notes, Summary: p.Summary()}
	for _, c := range p.Changes {
		cj := changeJSON{
			Action: c.Action, Name: c.Name, Record: c.Record, File: c.File,
			Line: c.Line, Column: c.Column, Reason: c.Reason, Healing: c.Heal,
			Drift: c.Drift, DriftedFields: c.DriftedFields, Diff: c.Diff,
		}
		if c.Action != monitor.Create {
			id := c.ID
			cj.ID = &id
		}
		out.Changes = append(out.Changes, cj)
	}
	return out
}

// writeJSON writes v indented, without HTML escapes, followed by a
// newline; what names it in errors.
func writeJSON(w io.Writer, v any, what string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // queries hold ">=", messages "<" and "&"
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

type (
	applyJSON struct {
		Plan    planJSON     `json:"plan"`
		Applied bool         `json:"applied"`
		Error   string       `json:"error,omitempty"`
		Results []resultJSON `json:"results"`
		Summary resultCounts `json:"summary"`
	}
	resultJSON struct {
		Action monitor.Action `json:"action"`
		Name   string         `json:"name"`
		// ID is the monitor's ID after the change (the new one for a
		// create); null when a create failed.
		ID     *int64 `json:"id"`
		Result string `json:"result"` // created, updated, deleted or failed
		Error  string `json:"error,omitempty"`
		Note   string `json:"note,omitempty"`
	}
	resultCounts struct {
		Created int `json:"created"`
		Updated int `json:"updated"`
		Deleted int `json:"deleted"`
		Failed  int `json:"failed"`
	}
)

// ApplyJSON writes what "esm apply --output json" did as one indented
// JSON object:
//
//	{
//	  "plan": {...},          // the plan, as JSON writes it
//	  "applied": true,        // false when nothing was applied (no changes, or refused)
//	  "error": "...",         // why the run stopped, when it did (the guard's refusal)
//	  "results": [            // one per change applied, in the plan's order
//	    {"action": "create", "name": "Traffic Anomaly with Ping", "id": 7, "result": "created"},
//	    {"action": "update", "name": "...", "id": 3, "result": "failed", "error": "datadog: 400 Bad Request: ..."}
//	  ],
//	  "summary": {"created": 1, "updated": 0, "deleted": 0, "failed": 1}
//	}
//
// "note" explains an outcome that is not the plain change (a create that
// found the monitor a concurrent run made).
func ApplyJSON(w io.Writer, p *monitor.Plan, applied bool, results []monitor.Result, stopped error) error {
	out := applyJSON{Plan: planOf(p), Applied: applied, Results: []resultJSON{}}
	if stopped != nil {
		out.Error = oneLine(stopped.Error())
	}
	for _, r := range results {
		c := r.Change
		if c == nil || c.Action == monitor.Unchanged {
			continue
		}
		rj := resultJSON{Action: c.Action, Name: c.Name, Note: oneLine(r.Note)}
		if id := r.ID; id != 0 || c.Action != monitor.Create {
			if id == 0 {
				id = c.ID
			}
			rj.ID = &id
		}
		switch {
		case r.Err != nil:
			rj.Result, rj.Error = "failed", oneLine(trimOperation(r.Err.Error(), string(c.Action), c))
			out.Summary.Failed++
		case c.Action == monitor.Create:
			rj.Result = "created"
			out.Summary.Created++
		case c.Action == monitor.Update:
			rj.Result = "updated"
			out.Summary.Updated++
		default:
			rj.Result = "deleted"
			out.Summary.Deleted++
		}
		out.Results = append(out.Results, rj)
	}
	return writeJSON(w, out, "apply results")
}

// MarshalJSON writes the diff as an object keyed by field name, in the
// order of the fields.
func (d diffJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := marshalTo(&b, f.Field); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := marshalTo(&b, sidesJSON{Before: typedValue(f.Field, f.Old), After: typedValue(f.Field, f.New)}); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalTo appends the JSON of v to b without escaping HTML characters,
// which the encoder that calls MarshalJSON would not undo.
func marshalTo(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode ends with a newline
	return nil
}

// typedValue returns a field's value as the JSON type of its kind, nil
// when the value is absent.
func typedValue(field, v string) any {
	if v == "" {
		return nil
	}
	switch fieldKind(field) {
	case listKind:
		return listItems(v)
	case numberKind:
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return json.Number(v)
		}
	case boolKind:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}
