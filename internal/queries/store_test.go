package queries

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testStoreRoundTrip checks that s has no result of "orders" yet, saves
// one twice and reads the second back; it returns what it saved.
func testStoreRoundTrip(t *testing.T, s ResultStore) Result {
	t.Helper()
	ctx := context.Background()
	_, ok, err := s.Load(ctx, "orders")
	require.NoError(t, err, "a missing result is no result, not an error")
	assert.False(t, ok, "nothing stored yet")

	want := Result{
		Query: "orders", Fingerprint: "abc", Labels: []string{"country"},
		Rows: []Row{{Labels: []string{"fr"}, Value: 2.5}, {Labels: []string{"de"}, Value: 1}},
		Time: t0, Duration: 1500 * time.Millisecond, Error: "query orders: boom", LastSuccess: t0.Add(-time.Hour),
	}
	require.NoError(t, s.Save(ctx, want))
	want.Rows[0].Value = 3 // a second save replaces the first
	require.NoError(t, s.Save(ctx, want))
	got, ok, err := s.Load(ctx, "orders")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, want, got)
	return want
}

func TestDirStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	testStoreRoundTrip(t, NewDirStore(dir))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
	assert.Equal(t, "orders.json", entries[0].Name())
	b, err := os.ReadFile(filepath.Join(dir, "orders.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"version": 1`)
}

func TestDirStoreRejects(t *testing.T) {
	dir := t.TempDir()
	s := NewDirStore(dir)
	ctx := context.Background()
	tests := []struct {
		name, content, err string
	}{
		{"other query", `{"version":1,"query":"other","time":"2026-01-02T03:00:00Z"}`, `holds the result of query "other"`},
		{"no time", `{"version":1,"query":"x"}`, "has no run time"},
		{"labels", `{"version":1,"query":"x","time":"2026-01-02T03:00:00Z","labels":["a"],"rows":[{"labels":[],"value":1}]}`, "row 1 has 0 labels, want 1"},
		{"empty", ``, "decode: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x.json"), []byte(tt.content), 0o644))
			_, ok, err := s.Load(ctx, "x")
			assert.False(t, ok)
			var ce *CorruptResultError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, "x", ce.Query)
			assert.ErrorContains(t, err, tt.err)
		})
	}
	_, _, err := s.Load(ctx, "../escape")
	assert.EqualError(t, err, `invalid query name "../escape"`)
	assert.EqualError(t, s.Save(ctx, Result{Query: "a/b"}), `invalid query name "a/b"`)
}
