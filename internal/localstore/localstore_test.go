package localstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/monitor"
)

// statePath returns a state file path in a fresh directory that does not
// exist yet, as on a fresh machine.
func statePath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), ".esm", "state", "prod.json")
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	require.NoError(t, err)
	return s
}

// anomaly returns a monitor shaped like the ones annotations produce.
func anomaly(name string, tags ...string) *monitor.Monitor {
	return &monitor.Monitor{Definition: monitor.Definition{
		Name:    name,
		Type:    "query alert",
		Query:   "avg(last_4h):anomalies(sum:esm.events.received{event_type:" + name + ",env:prod}.as_count(), 'agile', 2) >= 1",
		Message: "Traffic of " + name + " is unusual.\n@slack-team-cart",
		Tags:    tags,
		Options: monitor.Options{
			Thresholds:       monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)},
			ThresholdWindows: &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"},
		},
	}}
}

func TestOpenMissingFileIsEmpty(t *testing.T) {
	path := statePath(t)
	s := open(t, path)
	got, err := s.List(context.Background(), "esm-prod")
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.NoDirExists(t, filepath.Dir(path), "reading creates nothing")
	assert.Equal(t, path, s.Path())
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	s := open(t, path)

	in := anomaly("Traffic Anomaly with AddToCartEvent", "esm-prod", "esm_record:com.example.shop.addtocartevent")
	in.Priority = 2
	id, err := s.Create(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, int64(1), id)

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	dirInfo, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), dirInfo.Mode().Perm())

	for _, store := range []*Store{s, open(t, path)} {
		got, err := store.List(ctx, "esm-prod")
		require.NoError(t, err)
		require.Len(t, got, 1)
		want := *in
		want.ID = id
		assert.Equal(t, want, got[0])
	}

	// The file is pretty-printed, versioned and keeps ">=" readable.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "{\n  \"version\": 1,\n  \"next_id\": 2,\n  \"monitors\": [\n")
	assert.Contains(t, string(data), ") >= 1")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
}

// Every field of monitor.Definition survives the file: a field added to
// the model and forgotten here would fail this test.
func TestRoundTripEveryField(t *testing.T) {
	var m monitor.Monitor
	fillNonZero(t, reflect.ValueOf(&m.Definition).Elem())
	m.Fingerprint = monitor.Fingerprint(&m.Definition)
	st := &state{NextID: 2, Monitors: []monitor.Monitor{m}}
	st.Monitors[0].ID = 1
	data, err := encode(st)
	require.NoError(t, err)
	back, err := decode(data)
	require.NoError(t, err)
	assert.Equal(t, st, back)
}

// The state file keeps the fingerprint as Datadog does, as the tag
// esm_fingerprint:..., last in "tags"; the rest of the file is the same
// bytes as without it.
func TestFingerprintInStateFile(t *testing.T) {
	m := *anomaly("Traffic Anomaly with Ping", "esm-prod", "team:x")
	m.ID = 1
	without, err := encode(&state{NextID: 2, Monitors: []monitor.Monitor{m}})
	require.NoError(t, err)
	m.Fingerprint = monitor.Fingerprint(&m.Definition)
	with, err := encode(&state{NextID: 2, Monitors: []monitor.Monitor{m}})
	require.NoError(t, err)
	tag := monitor.FingerprintTag(m.Fingerprint)
	assert.Equal(t, string(without), strings.Replace(string(with), ",\n        \""+tag+"\"", "", 1))
	assert.Contains(t, string(with), "\"team:x\",\n        \""+tag+"\"\n      ]")

	back, err := decode(with)
	require.NoError(t, err)
	require.Len(t, back.Monitors, 1)
	assert.Equal(t, m, back.Monitors[0])
	assert.Equal(t, []string{"esm-prod", "team:x"}, back.Monitors[0].Tags)
}

// fillNonZero sets every field reachable from v to a non-zero value.
func fillNonZero(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillNonZero(t, v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillNonZero(t, v.Elem())
	case reflect.String:
		v.SetString("x <&> y\n" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillNonZero(t, v.Index(0))
	default:
		t.Fatalf("fillNonZero: add a case for %s", v.Type())
	}
}

func TestIDsIncreaseAndSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	s := open(t, path)
	id1, err := s.Create(ctx, anomaly("a", "esm-prod"))
	require.NoError(t, err)
	id2, err := s.Create(ctx, anomaly("b", "esm-prod"))
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, id2))
	assert.Equal(t, []int64{1, 2}, []int64{id1, id2})

	// A deleted ID is not handed out again, by this store or a new one.
	id3, err := open(t, path).Create(ctx, anomaly("c", "esm-prod"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), id3)
	id4, err := s.Create(ctx, anomaly("d", "esm-prod"))
	require.NoError(t, err)
	assert.Equal(t, int64(4), id4, "the first store rereads the file the second one wrote")

	got, err := open(t, path).List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c", "d"}, names(got))
}

func names(ms []monitor.Monitor) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestUpdateAndDelete(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		do      func(s *Store, id int64) error
		wantErr error
		want    []string
	}{
		{
			name: "update replaces the monitor",
			do: func(s *Store, id int64) error {
				return s.Update(ctx, id, anomaly("renamed", "esm-prod"))
			},
			want: []string{"renamed"},
		},
		{
			name:    "update of an unknown ID is an error",
			do:      func(s *Store, id int64) error { return s.Update(ctx, id+100, anomaly("x", "esm-prod")) },
			wantErr: ErrNotFound,
			want:    []string{"a"},
		},
		{
			name: "delete removes the monitor",
			do:   func(s *Store, id int64) error { return s.Delete(ctx, id) },
		},
		{
			name: "delete of an unknown ID succeeds",
			do:   func(s *Store, id int64) error { return s.Delete(ctx, id+100) },
			want: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := statePath(t)
			s := open(t, path)
			id, err := s.Create(ctx, anomaly("a", "esm-prod"))
			require.NoError(t, err)
			err = tt.do(s, id)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), path)
			} else {
				require.NoError(t, err)
			}
			got, err := open(t, path).List(ctx, "esm-prod")
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(got))
		})
	}
}

// List filters by tag, ignoring case; the empty tag lists every monitor.
func TestListFiltersByTagIgnoringCase(t *testing.T) {
	ctx := context.Background()
	s := open(t, statePath(t))
	for _, m := range []*monitor.Monitor{
		anomaly("prod", "esm-prod", "team:cart"),
		anomaly("prod upper", "ESM-Prod"),
		anomaly("staging", "esm-staging"),
		anomaly("unmanaged"),
	} {
		_, err := s.Create(ctx, m)
		require.NoError(t, err)
	}
	tests := []struct {
		tag  string
		want []string
	}{
		{"esm-prod", []string{"prod", "prod upper"}},
		{"ESM-PROD", []string{"prod", "prod upper"}},
		{"esm-staging", []string{"staging"}},
		{"esm-dev", nil},
		{"esm", nil},
		{"", []string{"prod", "prod upper", "staging", "unmanaged"}}, // every monitor
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got, err := s.List(ctx, tt.tag)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(got))
		})
	}
}

// The store keeps its own copies: changing a monitor after Create or
// after List changes nothing stored.
func TestStoreKeepsCopies(t *testing.T) {
	ctx := context.Background()
	s := open(t, statePath(t))
	m := anomaly("a", "esm-prod")
	_, err := s.Create(ctx, m)
	require.NoError(t, err)
	m.Tags[0] = "changed"
	*m.Options.Thresholds.Critical = 9
	got, err := s.List(ctx, "esm-prod")
	require.NoError(t, err)
	require.Len(t, got, 1)
	got[0].Options.ThresholdWindows.TriggerWindow = "changed"
	again, err := s.List(ctx, "esm-prod")
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, 1.0, *again[0].Options.Thresholds.Critical)
	assert.Equal(t, "last_15m", again[0].Options.ThresholdWindows.TriggerWindow)
}

func TestCorruptFileIsRejectedAndKept(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"syntax", "{\n  \"version\": 1,\n  \"next_id\": 2,,\n}", "invalid character ',' looking for beginning of object key string (line 3, column 16)"},
		{"empty", "", "the file is empty"},
		{"truncated", "{\"version\": 1, \"monitors\": [", "unexpected EOF"},
		{"unknown version", `{"version": 2, "next_id": 1, "monitors": []}`, "unsupported state file version 2 (this esm reads version 1)"},
		{"no version", `{"next_id": 1, "monitors": []}`, "unsupported state file version 0"},
		{"unknown field", `{"version": 1, "next_id": 1, "monitor": []}`, `unknown field "monitor"`},
		{"wrong type", `{"version": 1, "next_id": "1", "monitors": []}`, "cannot unmarshal string"},
		{"duplicate IDs", `{"version": 1, "next_id": 3, "monitors": [{"id": 2, "name": "a"}, {"id": 2, "name": "b"}]}`, "two monitors have ID 2"},
		{"zero ID", `{"version": 1, "next_id": 3, "monitors": [{"id": 0, "name": "a"}]}`, `monitor "a" has ID 0`},
		{"trailing data", `{"version": 1, "next_id": 1, "monitors": []} {}`, "unexpected data after the state object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := statePath(t)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))

			_, err := Open(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "read state "+path+": ")
			assert.Contains(t, err.Error(), tt.wantErr)

			// A store opened before the file went bad refuses to write
			// over it too.
			require.NoError(t, os.Remove(path))
			s := open(t, path)
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			_, err = s.Create(ctx, anomaly("a", "esm-prod"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "read state "+path+": ")
			_, err = s.List(ctx, "esm-prod")
			require.Error(t, err)

			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tt.content, string(data), "the file is left byte for byte")
		})
	}
}

// A next_id at or below a stored ID does not hand that ID out again.
func TestNextIDAboveStoredIDs(t *testing.T) {
	path := statePath(t)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(`{"version": 1, "next_id": 1, "monitors": [{"id": 5, "name": "a"}]}`), 0o644))
	id, err := open(t, path).Create(context.Background(), anomaly("b"))
	require.NoError(t, err)
	assert.Equal(t, int64(6), id)
}

func TestConcurrentCreatesGetDistinctIDs(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	// Two stores on one file stand for two processes; each runs
	// goroutines as monitor.Apply does.
	stores := []*Store{open(t, path), open(t, path)}
	const perStore = 40
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	for si, s := range stores {
		for i := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := s.Create(ctx, anomaly(fmt.Sprintf("m-%d-%d", si, i), "esm-prod"))
				assert.NoError(t, err)
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	want := make([]int64, 2*perStore)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, ids, "every create got its own ID")

	got, err := open(t, path).List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Len(t, got, 2*perStore, "no create was lost")
}

// The file lists monitors by ID whatever order they were written in, so
// that it diffs well.
func TestFileIsSortedByID(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(`{"version": 1, "next_id": 4, "monitors": [{"id": 3, "name": "c"}, {"id": 1, "name": "a"}]}`), 0o644))
	s := open(t, path)
	require.NoError(t, s.Update(ctx, 3, anomaly("c2")))
	require.NoError(t, s.Update(ctx, 1, anomaly("a2")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Monitors []struct {
			ID int64 `json:"id"`
		} `json:"monitors"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	require.Len(t, f.Monitors, 2)
	assert.Equal(t, []int64{1, 3}, []int64{f.Monitors[0].ID, f.Monitors[1].ID})
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := statePath(t)
	s := open(t, path)
	_, err := s.Create(ctx, anomaly("a"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.List(ctx, "esm-prod")
	require.ErrorIs(t, err, context.Canceled)
	assert.NoFileExists(t, path)
}

// Apply, the store's real caller, creates, updates and deletes through it,
// and a second plan finds nothing to do.
func TestApplyThroughStore(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	s := open(t, path)
	stale, err := s.Create(ctx, anomaly("stale", "esm-prod"))
	require.NoError(t, err)

	var desired []monitor.Desired
	for i := range 30 {
		desired = append(desired, monitor.Desired{Definition: anomaly(fmt.Sprintf("m%02d", i), "esm-prod").Definition})
	}
	current, err := s.List(ctx, "esm-prod")
	require.NoError(t, err)
	plan := monitor.Diff("prod", desired, current, monitor.Scope{})
	assert.Equal(t, monitor.Summary{Create: 30, Delete: 1}, plan.Summary())
	results, err := monitor.Apply(ctx, s, plan, monitor.ApplyOptions{})
	require.NoError(t, err)
	for _, r := range results {
		require.NoError(t, r.Err)
	}

	current, err = open(t, path).List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Len(t, current, 30)
	for _, m := range current {
		assert.NotEqual(t, stale, m.ID)
	}
	again := monitor.Diff("prod", desired, current, monitor.Scope{})
	assert.False(t, again.HasChanges())
}

// Runs that hold the lock from List to their last write take turns: each
// finds what the one before created, so none duplicates it. Stores on one
// file stand for separate processes (flock locks belong to the open file,
// so they exclude each other within a process too); the shared Store
// stands for the bot, whose runs on several repositories share one.
func TestLockSerialisesListAndWrites(t *testing.T) {
	ctx := context.Background()
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared store %v", shared), func(t *testing.T) {
			path := statePath(t)
			one := open(t, path)
			const runs = 8
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range runs {
				s := one
				if !shared {
					s = open(t, path)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					unlock, err := s.Lock(ctx)
					if !assert.NoError(t, err) {
						return
					}
					defer unlock()
					cur, err := s.List(ctx, "esm-prod")
					assert.NoError(t, err)
					for _, name := range []string{"a", "b", "c"} {
						if !slices.ContainsFunc(cur, func(m monitor.Monitor) bool { return m.Name == name }) {
							_, err := s.Create(ctx, anomaly(name, "esm-prod"))
							assert.NoError(t, err)
						}
					}
				}()
			}
			close(start)
			wg.Wait()
			got, err := open(t, path).List(ctx, "esm-prod")
			require.NoError(t, err)
			var names []string
			for _, m := range got {
				names = append(names, m.Name)
			}
			assert.Equal(t, []string{"a", "b", "c"}, names, "one monitor per name")
		})
	}
}

func TestLockWaitsForTheHolder(t *testing.T) {
	ctx := context.Background()
	path := statePath(t)
	holder := open(t, path)
	unlock, err := holder.Lock(ctx)
	require.NoError(t, err)
	assert.DirExists(t, filepath.Dir(path), "Lock creates the state directory")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for name, s := range map[string]*Store{"other store": open(t, path), "same store": holder} {
		_, err := s.Lock(canceled)
		require.ErrorIs(t, err, context.Canceled, name)
		assert.Contains(t, err.Error(), "lock state directory", name)
	}
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	_, err = open(t, path).Create(short, anomaly("x", "esm-prod"))
	require.ErrorIs(t, err, context.DeadlineExceeded, "another store's write waits for the lock")

	// The holder's own writes do not wait for the lock it holds.
	_, err = holder.Create(ctx, anomaly("mine", "esm-prod"))
	require.NoError(t, err)
	unlock()
	unlock() // a second call does nothing

	other := open(t, path)
	unlock2, err := other.Lock(ctx)
	require.NoError(t, err, "free again")
	_, err = other.Create(ctx, anomaly("theirs", "esm-prod"))
	require.NoError(t, err)
	unlock2()
	got, err := holder.List(ctx, "esm-prod")
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// Lock with a done context tries once: it takes a free lock and fails at
// once on a held one.
func TestLockWithDoneContextTriesOnce(t *testing.T) {
	path := statePath(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 { // the free lock is taken every time, not by chance
		unlock, err := open(t, path).Lock(canceled)
		require.NoError(t, err)
		unlock()
	}
}
