package dirwatch

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// watch starts watching dir, runs the watcher and returns the number of
// reloads so far.
func watch(t *testing.T, dir string, debounce time.Duration) *atomic.Int32 {
	t.Helper()
	w, err := Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx, debounce, func() { n.Add(1) }, func(err error) { t.Errorf("watch: %v", err) }) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &n
}

// TestChangeBeforeRunIsNotMissed: a change after Start returns reloads,
// even when Run has not begun yet.
func TestChangeBeforeRunIsNotMissed(t *testing.T) {
	dir := t.TempDir()
	w, err := Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a")
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, 10*time.Millisecond, func() { n.Add(1) }, nil); close(done) }()
	waitFor(t, &n, 1)
	cancel()
	<-done
}

func waitFor(t *testing.T, n *atomic.Int32, want int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("reloads = %d, want %d", n.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchDebouncesABurst: ten writes in a row make one reload.
func TestWatchDebouncesABurst(t *testing.T) {
	dir := t.TempDir()
	n := watch(t, dir, 300*time.Millisecond)
	for i := range 10 {
		write(t, filepath.Join(dir, "a.yaml"), string(rune('a'+i)))
	}
	waitFor(t, n, 1)
	time.Sleep(700 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Errorf("reloads after a burst = %d, want 1", got)
	}
}

// TestWatchNewSubdirectory: a directory created after the start is
// watched too; a hidden one is not.
func TestWatchNewSubdirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := watch(t, dir, 20*time.Millisecond)
	write(t, filepath.Join(dir, ".hidden", "x.yaml"), "x")
	time.Sleep(200 * time.Millisecond)
	if got := n.Load(); got != 0 {
		t.Errorf("reloads after a write in a hidden directory = %d, want 0", got)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n, 1)
	time.Sleep(100 * time.Millisecond) // let the watcher add sub
	write(t, filepath.Join(sub, "b.yaml"), "b")
	waitFor(t, n, 2)
}

// TestWatchMissingDirectory is an error, not a silent watcher.
func TestWatchMissingDirectory(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope"), time.Millisecond, func() {}, nil)
	if err == nil {
		t.Fatal("Watch of a missing directory: no error")
	}
}
