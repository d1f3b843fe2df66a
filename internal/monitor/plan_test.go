package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func desired(name, query string) Desired {
	return Desired{
		Definition: Definition{
			Name: name, Type: "query alert", Query: query, Message: "msg @slack-x",
			Tags: []string{"esm-prod", "esm_record:ns.a", "env:prod"},
			Options: Options{
				Thresholds:       Thresholds{Critical: Float(1), CriticalRecovery: Float(0)},
				ThresholdWindows: &ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"},
				IncludeTags:      true,
			},
		},
		Source: Source{Record: "ns.A", File: "schemas/a.avdl", Line: 3},
	}
}

// stored returns d as Datadog would hand it back: "metric alert", float
// thresholds spelt differently, tags in another order and case.
func stored(id int64, d Desired) Monitor {
	m := Monitor{ID: id, Definition: d.Definition}
	m.Type = "metric alert"
	m.Tags = []string{"ENV:prod", "esm_record:ns.a", "esm-prod"}
	c, r := 1.0, 0.0
	m.Options.Thresholds = Thresholds{Critical: &c, CriticalRecovery: &r}
	m.Options.NoDataTimeframe = 20 // dropped by Datadog's normalisation when notify_no_data is off
	return m
}

func TestDiffActions(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	b := desired("Traffic Anomaly with B", "q-b")
	c := desired("Traffic Anomaly with C", "q-c")
	gone := stored(7, desired("Traffic Anomaly with Gone", "q-g"))
	changed := stored(2, b)
	changed.Query = "old-q-b"
	unmanaged := Monitor{ID: 9, Definition: Definition{Name: "Traffic Anomaly with C", Tags: []string{"team:x"}}}

	p := Diff("prod", []Desired{a, b, c}, []Monitor{stored(1, a), changed, gone, unmanaged}, Scope{})
	require.Len(t, p.Changes, 4)
	got := map[string]Change{}
	for _, ch := range p.Changes {
		got[ch.Name] = ch
	}
	assert.Equal(t, Unchanged, got["Traffic Anomaly with A"].Action)
	assert.Empty(t, got["Traffic Anomaly with A"].Diff)
	assert.Equal(t, Update, got["Traffic Anomaly with B"].Action)
	assert.Equal(t, []FieldDiff{{Field: "query", Old: "old-q-b", New: "q-b"}}, got["Traffic Anomaly with B"].Diff)
	assert.Equal(t, int64(2), got["Traffic Anomaly with B"].ID)
	assert.Equal(t, Create, got["Traffic Anomaly with C"].Action, "the unmanaged monitor of that name is ignored")
	assert.Zero(t, got["Traffic Anomaly with C"].ID)
	assert.Equal(t, Delete, got["Traffic Anomaly with Gone"].Action)
	assert.Equal(t, Summary{Create: 1, Update: 1, Delete: 1, Unchanged: 1}, p.Summary())
	assert.True(t, p.HasChanges())
}

func TestDiffDuplicates(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	p := Diff("prod", []Desired{a}, []Monitor{stored(30, a), stored(10, a), stored(20, a)}, Scope{})
	assert.Equal(t, Summary{Delete: 2, Unchanged: 1, Healing: 2}, p.Summary())
	for _, ch := range p.Changes {
		if ch.Action == Unchanged {
			assert.Equal(t, int64(10), ch.ID, "the oldest is kept")
		} else {
			assert.Equal(t, "duplicate of monitor 10, healing", ch.Reason)
			assert.True(t, ch.Heal)
		}
	}
	require.Len(t, p.Notes, 2)
	assert.Contains(t, p.Notes[0], "duplicates monitor 10: keeping the older one, deleting this one (healing: not counted by the mass-delete guard)")

	// When no annotation asks for the name any more, every copy goes and
	// none of the deletions heals.
	p = Diff("prod", nil, []Monitor{stored(30, a), stored(10, a)}, Scope{})
	assert.Equal(t, Summary{Delete: 2}, p.Summary())
	for _, ch := range p.Changes {
		assert.False(t, ch.Heal, "monitor %d", ch.ID)
	}
}

func TestDiffScope(t *testing.T) {
	other := stored(5, desired("Traffic Anomaly with Other", "q"))
	other.Tags = []string{"esm-prod", "esm_record:ns.other"}
	inScope := stored(6, desired("Traffic Anomaly with A", "q"))
	p := Diff("prod", nil, []Monitor{other, inScope}, Scope{Records: map[string]bool{"ns.a": true}})
	require.Len(t, p.Changes, 1)
	assert.Equal(t, Delete, p.Changes[0].Action)
	assert.Equal(t, int64(6), p.Changes[0].ID)
}

// Identity is the name and the environment tag: in a change set, a
// monitor without esm's record tag whose name a record of the change set
// gives is in scope, updated when the record asks for it (gaining the
// record tag) and deleted when the record stops asking.
func TestDiffScopeByName(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q")
	untagged := func(id int64, name string) Monitor {
		return Monitor{ID: id, Definition: Definition{Name: name, Type: "query alert", Query: "q", Tags: []string{"esm-prod"}}}
	}
	scope := Scope{Records: map[string]bool{"ns.a": true}, Names: map[string]bool{"Traffic Anomaly with A": true}}
	tests := []struct {
		name    string
		desired []Desired
		current []Monitor
		want    []Change // Action, ID and Name only
	}{
		{
			name:    "asked for: updated, not duplicated",
			desired: []Desired{a},
			current: []Monitor{untagged(4, a.Name), untagged(5, "Traffic Anomaly with Other")},
			want:    []Change{{Action: Update, ID: 4, Name: a.Name}},
		},
		{
			name:    "no longer asked for: deleted",
			current: []Monitor{untagged(4, a.Name), untagged(5, "Traffic Anomaly with Other")},
			want:    []Change{{Action: Delete, ID: 4, Name: a.Name}},
		},
		{
			name:    "a record tag of the scope still counts",
			current: []Monitor{stored(6, desired("Traffic Anomaly with Renamed", "q"))},
			want:    []Change{{Action: Delete, ID: 6, Name: "Traffic Anomaly with Renamed"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff("prod", tt.desired, tt.current, scope)
			var got []Change
			for _, c := range p.Changes {
				got = append(got, Change{Action: c.Action, ID: c.ID, Name: c.Name})
			}
			assert.Equal(t, tt.want, got)
		})
	}
	p := Diff("prod", []Desired{a}, []Monitor{untagged(4, a.Name)}, scope)
	require.Len(t, p.Changes, 1)
	assert.Contains(t, p.Changes[0].Diff, FieldDiff{Field: "tags", Old: "esm-prod", New: "env:prod, esm-prod, esm_record:ns.a"}, "it gains esm's tags")
}

func TestFieldsNormalisation(t *testing.T) {
	d := desired("n", "q")
	d.Options.NotifyNoData = true
	d.Options.NoDataTimeframe = 20
	s := stored(1, d)
	assert.Equal(t, Fields(&d.Definition), Fields(&s.Definition))
	s.Options.NoDataTimeframe = 30
	assert.NotEqual(t, Fields(&d.Definition), Fields(&s.Definition), "the timeframe counts when no-data notifications are on")
	assert.Len(t, FieldNames, len(Fields(&d.Definition)))
}

type countingWriter struct {
	creates, deletes atomic.Int32
	fail             string
}

func (w *countingWriter) Create(_ context.Context, m *Monitor) (int64, error) {
	if m.Name == w.fail {
		return 0, errors.New("boom")
	}
	return int64(w.creates.Add(1)), nil
}
func (w *countingWriter) Update(context.Context, int64, *Monitor) error { return nil }
func (w *countingWriter) Delete(context.Context, int64) error {
	w.deletes.Add(1)
	return nil
}

func TestApply(t *testing.T) {
	var ds []Desired
	for _, n := range []string{"a", "b", "c"} {
		ds = append(ds, desired(n, "q"))
	}
	p := Diff("prod", ds, nil, Scope{})
	w := &countingWriter{fail: "b"}
	res, err := Apply(context.Background(), w, p, ApplyOptions{Concurrency: 2})
	require.NoError(t, err)
	require.Len(t, res, 3)
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
			assert.EqualError(t, r.Err, "boom")
		}
	}
	assert.Equal(t, 1, failed, "one failure hides no other")
	assert.Equal(t, int32(2), w.creates.Load())
}

func TestMassDeleteGuard(t *testing.T) {
	var cur []Monitor
	for i := int64(1); i <= 11; i++ {
		cur = append(cur, stored(i, desired("m"+string(rune('a'+i)), "q")))
	}
	p := Diff("prod", nil, cur, Scope{})
	w := &countingWriter{}
	_, err := Apply(context.Background(), w, p, ApplyOptions{})
	require.ErrorIs(t, err, ErrMassDelete)
	assert.Zero(t, w.deletes.Load(), "nothing applied")
	_, err = Apply(context.Background(), w, p, ApplyOptions{AllowMassDelete: true})
	require.NoError(t, err)
	assert.Equal(t, int32(11), w.deletes.Load())
	_, err = Apply(context.Background(), w, p, ApplyOptions{MaxDeletes: 20})
	require.NoError(t, err)
}

// Deleting newer duplicates of kept monitors heals the store: the guard
// does not count it, whatever max_deletes says.
func TestMassDeleteGuardIgnoresHealing(t *testing.T) {
	a := desired("Traffic Anomaly with A", "q-a")
	b := desired("Traffic Anomaly with B", "q-b")
	gone := desired("Traffic Anomaly with Gone", "q-g")
	tests := []struct {
		name    string
		desired []Desired
		current []Monitor
		refused string // "" when the guard lets the plan through
	}{
		{
			name:    "only duplicates of kept monitors",
			desired: []Desired{a, b},
			current: []Monitor{stored(1, a), stored(2, b), stored(3, a), stored(4, b), stored(5, a)},
		},
		{
			name:    "duplicates of a monitor no annotation asks for count",
			desired: []Desired{a},
			current: []Monitor{stored(1, a), stored(2, gone), stored(3, gone)},
			refused: "2 deletions, more than the limit of 1",
		},
		{
			name:    "healing does not hide real deletions",
			desired: []Desired{a},
			current: []Monitor{stored(1, a), stored(2, a), stored(3, gone), stored(4, b)},
			refused: "2 deletions, more than the limit of 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff("prod", tt.desired, tt.current, Scope{})
			w := &countingWriter{}
			_, err := Apply(context.Background(), w, p, ApplyOptions{MaxDeletes: 1})
			if tt.refused != "" {
				require.ErrorIs(t, err, ErrMassDelete)
				assert.Contains(t, err.Error(), tt.refused)
				assert.Zero(t, w.deletes.Load())
				return
			}
			require.NoError(t, CheckGuard(p, ApplyOptions{MaxDeletes: 1}))
			require.NoError(t, err)
			assert.Equal(t, int32(p.Summary().Delete), w.deletes.Load())
			assert.Equal(t, p.Summary().Delete, p.Summary().Healing)
		})
	}
}

// fakeLocker is a lock another run may hold.
type fakeLocker struct {
	mu   sync.Mutex
	held bool
	free chan struct{} // closed when the other run lets go
}

func (l *fakeLocker) Lock(ctx context.Context) (func(), error) {
	l.mu.Lock()
	held, free := l.held, l.free
	l.mu.Unlock()
	if held {
		select {
		case <-free:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() {}, nil
}

func (l *fakeLocker) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		l.held = false
		close(l.free)
	}
}

func TestLockSaysWhenItWaits(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprintf("held %v", held), func(t *testing.T) {
			l := &fakeLocker{held: held, free: make(chan struct{})}
			waited := 0
			unlock, err := Lock(context.Background(), l, func() {
				waited++
				l.release() // the other run finishes
			})
			require.NoError(t, err)
			require.NotNil(t, unlock)
			want := 0
			if held {
				want = 1
			}
			assert.Equal(t, want, waited)
		})
	}
	l := &fakeLocker{held: true, free: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Lock(ctx, l, cancel)
	require.ErrorIs(t, err, context.Canceled, "a run given up while waiting")
}
