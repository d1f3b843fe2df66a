package planfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/monitor"
)

// definition returns a monitor definition with every kind of owned field
// set, and characters JSON must not escape as HTML.
func definition(name, query string) monitor.Definition {
	return monitor.Definition{
		Name: name, Type: "query alert", Query: query, Message: "over 5 <b>&</b> more\n@slack-team",
		Tags:     []string{"esm-prod", "esm_record:com.example.ping", "env:prod"},
		Priority: 2,
		Options: monitor.Options{
			Thresholds:       monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0), Warning: monitor.Float(0.5)},
			ThresholdWindows: &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"},
			NotifyNoData:     true, NoDataTimeframe: 30, RenotifyInterval: 60, EvaluationDelay: 300,
			IncludeTags: true, EscalationMessage: "still >= 1", TimeoutH: 24,
		},
	}
}

// samplePlan is a plan with one change of every action, as monitor.Diff
// computes it.
func samplePlan() *monitor.Plan {
	desired := []monitor.Desired{
		{Definition: definition("Create me", "avg(last_5m):sum:a{*} >= 1"), Source: monitor.Source{Record: "com.example.A", File: "schemas/a.avdl", Line: 3, Column: 3}},
		{Definition: definition("Update me", "avg(last_5m):sum:b{*} >= 2"), Source: monitor.Source{Record: "com.example.B", File: "schemas/a.avdl", Line: 9, Column: 3}},
		{Definition: definition("Keep me", "avg(last_5m):sum:c{*} >= 1"), Source: monitor.Source{Record: "com.example.C", File: "schemas/a.avdl", Line: 15, Column: 3}},
	}
	// "Update me" was written by esm with another query: its query was
	// edited outside esm since (drift).
	written := definition("Update me", "avg(last_5m):sum:b{*} >= 3")
	current := []monitor.Monitor{
		{ID: 4, Definition: definition("Update me", "avg(last_5m):sum:b{*} >= 1"), Fingerprint: monitor.Fingerprint(&written)},
		{ID: 5, Definition: definition("Keep me", "avg(last_5m):sum:c{*} >= 1")},
		{ID: 6, Definition: definition("Delete me", "avg(last_5m):sum:d{*} >= 1")},
		{ID: 7, Definition: definition("Keep me", "avg(last_5m):sum:c{*} >= 1")},
	}
	p := monitor.Diff("prod", desired, current, monitor.Scope{})
	p.Notes = append(p.Notes, "a note")
	return p
}

func sampleFile() *File {
	return &File{
		ESMVersion: "v1.2.3",
		CreatedAt:  time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC),
		Backend:    Backend{Kind: Local, Description: "the local state store", StateFile: "/repo/.esm/state/prod.json"},
		Scope:      "Scope: the whole schema tree; every monitor tagged esm-prod is planned.",
		Plan:       samplePlan(),
	}
}

// What Encode writes, Decode reads back as the same plan: the same
// changes, with their desired and current definitions and diffs.
func TestRoundTrip(t *testing.T) {
	f := sampleFile()
	s := f.Plan.Summary()
	require.Equal(t, monitor.Summary{Create: 1, Update: 1, Delete: 2, Unchanged: 1, Healing: 1, Drift: 1}, s, "the sample has every action")
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, f))
	assert.Contains(t, buf.String(), `"message": "over 5 <b>&</b> more\n@slack-team"`, "no HTML escapes")
	back, err := Decode(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, f.ESMVersion, back.ESMVersion)
	assert.True(t, f.CreatedAt.Equal(back.CreatedAt))
	assert.Equal(t, f.Backend, back.Backend)
	assert.Equal(t, f.Scope, back.Scope)
	require.Len(t, back.Plan.Changes, len(f.Plan.Changes))
	assert.Equal(t, f.Plan.Notes, back.Plan.Notes)
	for i, want := range f.Plan.Changes {
		got := back.Plan.Changes[i]
		assert.Equal(t, want.Action, got.Action)
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.Heal, got.Heal)
		assert.Equal(t, want.Reason, got.Reason)
		assert.Equal(t, want.Diff, got.Diff, "%s: the diff is recomputed", want.Name)
		assert.Equal(t, want.Drift, got.Drift)
		assert.Equal(t, want.DriftedFields, got.DriftedFields)
		switch want.Action {
		case monitor.Create, monitor.Update:
			require.NotNil(t, got.Desired)
			assert.Equal(t, monitor.Fields(&want.Desired.Definition), monitor.Fields(&got.Desired.Definition))
			assert.Equal(t, want.Line, got.Desired.Source.Line)
		default:
			assert.Nil(t, got.Desired)
		}
		switch want.Action {
		case monitor.Update, monitor.Delete:
			require.NotNil(t, got.Current)
			assert.Equal(t, want.ID, got.Current.ID)
			assert.Equal(t, monitor.Fields(&want.Current.Definition), monitor.Fields(&got.Current.Definition))
		default:
			assert.Nil(t, got.Current)
		}
	}
	var again bytes.Buffer
	require.NoError(t, Encode(&again, back))
	assert.Equal(t, buf.String(), again.String(), "encoding is stable")
}

// Every problem of a file is an *Error naming the value at fault.
func TestDecodeErrors(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, sampleFile()))
	good := buf.String()
	edit := func(old, new string) string {
		t.Helper()
		require.Contains(t, good, old)
		return strings.Replace(good, old, new, 1)
	}
	tests := []struct {
		name, data, want string
		newer            bool
	}{
		{name: "empty", data: " \n", want: "not an esm plan file: the file is empty"},
		{name: "not JSON", data: "plan: yes", want: "not an esm plan file: invalid character 'p' looking for beginning of value (line 1, column 1)"},
		{name: "an array", data: "[]", want: "not an esm plan file: json: cannot unmarshal array"},
		{name: "no version", data: `{"env": "prod"}`, want: `not an esm plan file: no "format_version"`},
		{name: "a newer version", data: `{"format_version": 2, "whatever": []}`, want: "plan file format_version 2 is newer than this esm reads (1)", newer: true},
		{name: "version 0", data: `{"format_version": 0}`, want: "unsupported plan file format_version 0 (this esm reads 1)"},
		{name: "an unknown key", data: edit(`"scope":`, `"extra": 1, "scope":`), want: `invalid plan file: json: unknown field "extra"`},
		{name: "data after the plan", data: good + "{}", want: "not an esm plan file: invalid character '{' after top-level value (line "},
		{name: "a wrong type", data: edit(`"line": 3`, `"line": "3"`), want: "invalid plan file: json: cannot unmarshal string into Go struct field changeJSON.changes.line of type int (line "},
		{name: "no env", data: edit(`"env": "prod"`, `"env": ""`), want: `"env" is missing`},
		{name: "another tag", data: edit(`"tag": "esm-prod"`, `"tag": "esm-staging"`), want: `"tag" is "esm-staging", but the tag of environment "prod" is "esm-prod"`},
		{name: "an unknown backend", data: edit(`"kind": "local"`, `"kind": "s3"`), want: `"backend.kind" must be "datadog" or "local", not "s3"`},
		{name: "a relative state file", data: edit(`"/repo/.esm/state/prod.json"`, `".esm/state/prod.json"`), want: `"backend.state_file" must be an absolute path`},
		{name: "Datadog without endpoint", data: edit(`"kind": "local"`, `"kind": "datadog"`), want: `"backend.endpoint" is missing`},
		{name: "an unknown action", data: edit(`"action": "create"`, `"action": "replace"`), want: `changes[0]: "action" must be create, update, delete or unchanged, not "replace"`},
		{name: "a create with an id", data: edit(`"id": null`, `"id": 3`), want: `changes[0]: "id" of a create must be null`},
		{name: "a delete without id", data: edit(`"id": 6`, `"id": null`), want: `changes[1]: "id" must be a positive integer for delete`},
		{name: "a create without desired", data: edit(`"desired": {
        "name": "Create me",`, `"other": {
        "name": "Create me",`), want: `unknown field "other"`},
		{name: "an unknown monitor field", data: edit(`"priority": 2,`, `"priority": 2, "restricted_roles": [],`), want: `changes[0]: desired: unknown monitor field "restricted_roles"`},
		{name: "a monitor field of the wrong type", data: edit(`"priority": 2,`, `"priority": "high",`), want: "changes[0]: desired: priority must be a number"},
		{name: "an invalid number", data: edit(`"priority": 2,`, `"priority": 2.5,`), want: `changes[0]: desired: priority: "2.5" is not an integer`},
		{name: "tags not strings", data: edit(`"env:prod",`, `7,`), want: "changes[0]: desired: tags must be an array of strings"},
		{name: "desired of another monitor", data: edit(`"name": "Create me",
        "type"`, `"name": "Someone else",
        "type"`), want: `changes[0]: desired.name "Someone else" is not the change's name "Create me"`},
		{name: "an edited summary", data: edit(`"create": 1`, `"create": 0`), want: `"summary" {Create:0 Update:1 Delete:2 Unchanged:1 Healing:1 Drift:1} does not count the changes`},
		{name: "healing on a create", data: edit(`"id": null,`, `"id": null, "healing": true,`), want: `changes[0]: "healing" marks a delete only`},
		{name: "drift on a create", data: edit(`"id": null,`, `"id": null, "drift": true, "drifted_fields": ["query"],`), want: `changes[0]: "drift" marks an update only`},
		{name: "drift without fields", data: edit(`"drifted_fields": [
        "query"
      ],`, ``), want: `"drift" and "drifted_fields" go together`},
		{name: "an unknown drifted field", data: edit(`"drifted_fields": [
        "query"`, `"drifted_fields": [
        "restricted_roles"`), want: `"drifted_fields": unknown monitor field "restricted_roles"`},
		{name: "an update that changes nothing", data: strings.Replace(good, `sum:b{*} >= 2`, `sum:b{*} >= 1`, 1), want: `an update whose "desired" and "current" are the same`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(tt.data))
			require.Error(t, err)
			assert.Nil(t, f)
			var pe *Error
			require.True(t, errors.As(err, &pe), "an *Error: %T", err)
			assert.Equal(t, tt.newer, pe.Newer)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// Write replaces the file atomically with mode 0600, whatever the mode
// of the file it replaces, and leaves no temporary file; Read names the
// file in its errors and refuses a file larger than MaxSize.
func TestWriteAndRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, Write(path, sampleFile()))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")
	f, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, 5, len(f.Plan.Changes))

	missing := filepath.Join(dir, "missing", "plan.json")
	assert.EqualError(t, Write(missing, sampleFile()), "write plan file "+missing+": no such file or directory")
	assert.ErrorContains(t, Write(dir, sampleFile()), "write plan file "+dir+": ", "a directory is not replaced")

	saved := MaxSize
	t.Cleanup(func() { MaxSize = saved })
	MaxSize = 100
	_, err = Read(path)
	var pe *Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, path+": not an esm plan file: larger than 100 bytes", err.Error())

	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
	_, err = Read(path)
	assert.EqualError(t, err, path+`: not an esm plan file: no "format_version" (write one with esm plan --out FILE)`)
}

// A plan file comes from a CI artifact or a colleague: Decode never
// panics, and what it accepts encodes back to a file it reads the same.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, sampleFile()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format_version": 1}`))
	f.Add([]byte(`{"format_version": 1, "env": "prod", "tag": "esm-prod", "backend": {"kind": "datadog", "endpoint": "x"}, "changes": [{"action": "delete", "name": "a", "id": 1, "current": {"name": "a", "tags": null}}], "summary": {"delete": 1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := Decode(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("not an *Error: %T %v", err, err)
			}
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, pf); err != nil {
			t.Fatal(err)
		}
		back, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded plan does not decode: %v\n%s", err, out.Bytes())
		}
		var again bytes.Buffer
		if err := Encode(&again, back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out.Bytes(), again.Bytes())
		}
	})
}
