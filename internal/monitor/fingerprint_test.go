package monitor

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
)

// The fingerprint's tag is one Datadog keeps as it is, within its length
// limit, and differs for every owned field that changes.
func TestFingerprintTag(t *testing.T) {
	d := full()
	tag := FingerprintTag(Fingerprint(&d))
	assert.LessOrEqual(t, len(tag), annotations.MaxTagLength)
	assert.Len(t, tag, 109, "README.md gives the length")
	assert.Equal(t, annotations.DatadogTag(tag), tag, "Datadog would rewrite the tag")
	assert.True(t, annotations.IsReservedTag(tag), "annotations cannot set it")
	assert.Empty(t, FingerprintTag(""))

	for _, f := range Owned {
		var changed Definition
		for _, g := range Owned {
			v := g.Value(&d)
			if g.Name == f.Name {
				v = otherValue(g)
			}
			require.NoError(t, g.Set(&changed, v))
		}
		assert.NotEqual(t, Fingerprint(&d), Fingerprint(&changed), f.Name)
	}
}

// otherValue returns a value of f's kind that no field of full() has.
func otherValue(f Field) string {
	switch f.Kind {
	case NumberField:
		return "77"
	case BoolField:
		return "false"
	case ListField:
		return "x:1, y:2"
	}
	return "something else"
}

func TestDrifted(t *testing.T) {
	written := full()
	fp := Fingerprint(&written)
	edit := func(f func(d *Definition)) *Definition {
		d := full()
		f(&d)
		return &d
	}
	tests := []struct {
		name    string
		fp      string
		current *Definition
		want    []string
		ok      bool
	}{
		{name: "as written", fp: fp, current: &written, ok: true},
		{name: "as Datadog stores it", fp: fp, ok: true, current: edit(func(d *Definition) {
			d.Type = "metric alert"
			d.Tags = []string{"B:2", "a:1", "a:1"}
			d.Message += "\n"
		})},
		{name: "edited in the UI", fp: fp, want: []string{"query", "options.thresholds.critical"}, ok: true, current: edit(func(d *Definition) {
			d.Query = "sum(last_1h):sum:x{*}.as_count() < 5"
			d.Options.Thresholds.Critical = Float(5)
		})},
		{name: "a tag added", fp: fp, want: []string{"tags"}, ok: true, current: edit(func(d *Definition) {
			d.Tags = append(d.Tags, "owner:me")
		})},
		{name: "an option removed", fp: fp, want: []string{"options.renotify_interval"}, ok: true, current: edit(func(d *Definition) {
			d.Options.RenotifyInterval = 0
		})},
		{name: "no fingerprint", fp: "", current: &written},
		{name: "another field table", fp: "aaaa" + fp[4:], current: &written},
		{name: "cut short", fp: fp[:len(fp)-1], current: &written},
		{name: "no separator", fp: strings.Replace(fp, ".", "", 1), current: &written},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Drifted(tt.fp, tt.current)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitFingerprintTag(t *testing.T) {
	tags := WithFingerprintTag([]string{"esm-prod", "team:x"}, "abcd.efgh")
	assert.Equal(t, []string{"esm-prod", "team:x", "esm_fingerprint:abcd.efgh"}, tags)
	rest, fp := SplitFingerprintTag(tags)
	assert.Equal(t, []string{"esm-prod", "team:x"}, rest)
	assert.Equal(t, "abcd.efgh", fp)

	rest, fp = SplitFingerprintTag([]string{"ESM_Fingerprint:ABCD.X", "esm-prod"})
	assert.Equal(t, []string{"esm-prod"}, rest, "compared as Datadog compares tags")
	assert.Equal(t, "abcd.x", fp)

	rest, fp = SplitFingerprintTag(nil)
	assert.Nil(t, rest)
	assert.Empty(t, fp)
	assert.Equal(t, []string{"a"}, WithFingerprintTag([]string{"a"}, ""))
}

// Diff tells a schema change from an edit outside esm by the fingerprint
// of what esm last wrote, and names the fields edited outside esm.
func TestDiffDrift(t *testing.T) {
	d := desired("Traffic Anomaly with A", "q-a")
	// written is the monitor as esm's last apply left it in the store.
	written := func() Monitor {
		m := stored(4, d)
		m.Fingerprint = Fingerprint(&d.Definition)
		return m
	}
	schemaChanged := d
	schemaChanged.Query = "q-new"
	tests := []struct {
		name     string
		desired  Desired
		current  func() Monitor
		action   Action
		diff     []string // the fields of the diff
		drifted  []string
		withNote bool
	}{
		{name: "unchanged", desired: d, current: written, action: Unchanged},
		{name: "schema changed", desired: schemaChanged, current: written, action: Update, diff: []string{"query"}},
		{
			name: "edited outside esm", desired: d, action: Update,
			current: func() Monitor {
				m := written()
				m.Query, m.Options.Thresholds.Critical = "q-ui", Float(3)
				return m
			},
			diff: []string{"query", "options.thresholds.critical"}, drifted: []string{"query", "options.thresholds.critical"}, withNote: true,
		},
		{
			name: "both: the schema changed and the UI edited another field", desired: schemaChanged, action: Update,
			current: func() Monitor {
				m := written()
				m.Options.Thresholds.Critical = Float(3)
				return m
			},
			diff: []string{"query", "options.thresholds.critical"}, drifted: []string{"options.thresholds.critical"}, withNote: true,
		},
		{
			name: "no fingerprint: no verdict", desired: d, action: Update,
			current: func() Monitor {
				m := stored(4, d)
				m.Query = "q-ui"
				return m
			},
			diff: []string{"query"},
		},
		{
			name: "edited back to what the schemas ask for: nothing to do", desired: schemaChanged, action: Unchanged,
			current: func() Monitor {
				m := written()
				m.Query = "q-new"
				return m
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff("prod", []Desired{tt.desired}, []Monitor{tt.current()}, Scope{})
			require.Len(t, p.Changes, 1)
			c := p.Changes[0]
			assert.Equal(t, tt.action, c.Action)
			var fields []string
			for _, f := range c.Diff {
				fields = append(fields, f.Field)
			}
			assert.Equal(t, tt.diff, fields, "the diff is against the schemas, drift or not")
			assert.Equal(t, tt.drifted, c.DriftedFields)
			assert.Equal(t, len(tt.drifted) > 0, c.Drift)
			want := 0
			if c.Drift {
				want = 1
			}
			assert.Equal(t, want, p.Summary().Drift)
			if tt.withNote {
				require.Len(t, p.Notes, 1)
				assert.Equal(t, `monitor 4 "Traffic Anomaly with A" was changed outside esm (`+strings.Join(tt.drifted, ", ")+
					"): applying this plan reverts those edits; to keep them, put them in the schemas or esm.yaml", p.Notes[0])
			} else {
				assert.Empty(t, p.Notes)
			}
		})
	}
}

// An upgrade of esm that adds fingerprints plans no change for monitors
// that have none, however many there are.
func TestDiffNoFingerprintNoChange(t *testing.T) {
	var ds []Desired
	var cur []Monitor
	for i, n := range []string{"a", "b", "c"} {
		ds = append(ds, desired(n, "q"))
		cur = append(cur, stored(int64(i+1), ds[i]))
	}
	p := Diff("prod", ds, cur, Scope{})
	assert.False(t, p.HasChanges())
	assert.Equal(t, Summary{Unchanged: 3}, p.Summary())
}

// recordingWriter keeps what each write was given.
type recordingWriter struct {
	mu      sync.Mutex
	written map[string]Monitor
}

func (w *recordingWriter) record(m *Monitor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written[m.Name] = *m
}

func (w *recordingWriter) Create(_ context.Context, m *Monitor) (int64, error) {
	w.record(m)
	return 1, nil
}

func (w *recordingWriter) Update(_ context.Context, _ int64, m *Monitor) error {
	w.record(m)
	return nil
}

func (w *recordingWriter) Delete(context.Context, int64) error { return nil }

// Every create and update writes the fingerprint of what it writes; an
// unchanged monitor is not written to add one.
func TestApplyWritesFingerprint(t *testing.T) {
	a, b, c := desired("a", "q-a"), desired("b", "q-b"), desired("c", "q-c")
	oldB := stored(2, b)
	oldB.Query = "q-old"
	p := Diff("prod", []Desired{a, b, c}, []Monitor{oldB, stored(3, c)}, Scope{})
	w := &recordingWriter{written: map[string]Monitor{}}
	_, err := Apply(context.Background(), w, p, ApplyOptions{})
	require.NoError(t, err)
	require.Len(t, w.written, 2, "the create and the update")
	for _, d := range []Desired{a, b} {
		got := w.written[d.Name]
		assert.Equal(t, Fingerprint(&d.Definition), got.Fingerprint, d.Name)
		drifted, ok := Drifted(got.Fingerprint, &got.Definition)
		assert.True(t, ok)
		assert.Empty(t, drifted, "what was written matches its fingerprint")
	}
}

// FuzzDrifted: the fingerprint is read from a tag anyone may edit in
// Datadog. Whatever it holds, Drifted does not panic, gives a verdict only
// on a fingerprint of this field table, and names only owned fields, in
// table order; a tag read back through SplitFingerprintTag is the same.
func FuzzDrifted(f *testing.F) {
	d := full()
	fp := Fingerprint(&d)
	for _, s := range []string{fp, "", ".", fp[:5], fp + "x", strings.ToUpper(fp), strings.Replace(fp, ".", "", 1), "k7f6." + strings.Repeat("a", 88)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields, ok := Drifted(s, &d)
		if !ok {
			if fields != nil {
				t.Fatalf("Drifted(%q): fields %v without a verdict", s, fields)
			}
			return
		}
		if !strings.HasPrefix(s, fieldTable+".") {
			t.Fatalf("Drifted(%q): a verdict on another table's fingerprint", s)
		}
		last := -1
		for _, name := range fields {
			i := slices.Index(FieldNames, name)
			if i <= last {
				t.Fatalf("Drifted(%q) = %v: not owned fields in table order", s, fields)
			}
			last = i
		}
		if _, back := SplitFingerprintTag([]string{FingerprintTag(s)}); back != strings.ToLower(s) {
			t.Fatalf("SplitFingerprintTag(FingerprintTag(%q)) = %q", s, back)
		}
	})
}
