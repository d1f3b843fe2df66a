package monitor

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// full is a definition with every owned field set.
func full() Definition {
	return Definition{
		Name: "Traffic Volume with Ping", Type: "query alert", Query: "sum(last_1h):sum:x{*}.as_count() < 1",
		Message: "no pings", Tags: []string{"b:2", "a:1"}, Priority: 2,
		Options: Options{
			Thresholds:       Thresholds{Critical: Float(1), CriticalRecovery: Float(0), Warning: Float(5), WarningRecovery: Float(6.5)},
			ThresholdWindows: &ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_30m"},
			NotifyNoData:     true, NoDataTimeframe: 30, RenotifyInterval: 60, EvaluationDelay: 120, NewGroupDelay: 300,
			IncludeTags: true, RequireFullWindow: true, NotifyAudit: true, EscalationMessage: "still", TimeoutH: 4,
		},
	}
}

// Every owned field is set and read through the table alone: a
// definition rebuilt field by field from another's values has the same
// values, and every field of the full one is set (so a field added to
// Definition but not to the table shows here as a zero value).
func TestOwnedFieldsRoundTrip(t *testing.T) {
	src := full()
	var dst Definition
	for _, f := range Owned {
		v := f.Value(&src)
		require.NotEmpty(t, v, "field %s of the full definition is unset", f.Name)
		if f.Kind == BoolField {
			assert.Equal(t, "true", v, f.Name)
		}
		require.NoError(t, f.Set(&dst, v), f.Name)
	}
	assert.Equal(t, Fields(&src), Fields(&dst))
	assert.Equal(t, []string{"a:1", "b:2"}, dst.Tags, "tags come back normalised")
	assert.Equal(t, len(FieldNames), len(Owned))
}

func TestOwnedFieldKindsParse(t *testing.T) {
	var d Definition
	for _, tt := range []struct{ field, value, want string }{
		{"priority", "x", `priority: "x" is not an integer`},
		{"options.thresholds.critical", "1,5", `options.thresholds.critical: "1,5" is not a number`},
		{"options.notify_audit", "yes", `options.notify_audit: "yes" is not true or false`},
	} {
		f, ok := FieldByName(tt.field)
		require.True(t, ok, tt.field)
		assert.EqualError(t, f.Set(&d, tt.value), tt.want)
	}
	_, ok := FieldByName("options.nope")
	assert.False(t, ok)
	f, _ := FieldByName("options.thresholds.warning")
	require.NoError(t, f.Set(&d, strconv.Itoa(3)))
	assert.Equal(t, 3.0, *d.Options.Thresholds.Warning)
}

// JSONValue and SetJSON carry every owned field through JSON (the state
// file, a saved plan) as its kind's type, and refuse another type naming
// the field.
func TestOwnedFieldsThroughJSON(t *testing.T) {
	src := full()
	var back Definition
	for _, f := range Owned {
		data, err := json.Marshal(f.JSONValue(&src))
		require.NoError(t, err, f.Name)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v))
		require.NoError(t, f.SetJSON(&back, v), f.Name)
	}
	assert.Equal(t, Fields(&src), Fields(&back))

	tags, _ := FieldByName("tags")
	assert.Equal(t, []string{"a:1", "b:2"}, tags.JSONValue(&src), "lists are arrays, normalised")
	notify, _ := FieldByName("options.notify_audit")
	assert.Nil(t, notify.JSONValue(&Definition{}), "a false flag is left out")
	priority, _ := FieldByName("priority")
	assert.Equal(t, json.Number("2"), priority.JSONValue(&src))
	assert.Nil(t, priority.JSONValue(&Definition{}), "unset is nil")

	tests := []struct {
		field string
		v     any
		want  string
	}{
		{"tags", "a:1", "tags must be an array of strings"},
		{"tags", []any{"a:1", 2.0}, "tags must be an array of strings"},
		{"priority", "2", "priority must be a number"},
		{"priority", json.Number("2.5"), `priority: "2.5" is not an integer`},
		{"options.notify_audit", "yes", "options.notify_audit must be true or false"},
		{"query", 1.0, "query must be a string"},
	}
	for _, tt := range tests {
		f, ok := FieldByName(tt.field)
		require.True(t, ok)
		assert.EqualError(t, f.SetJSON(&Definition{}, tt.v), tt.want)
	}
}
