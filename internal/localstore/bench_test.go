package localstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/esm-dev/esm/internal/monitor"
)

// BenchmarkApply2000Creates applies 2,000 creates to an empty state file,
// as "esm apply" does on a fresh machine for 2,000 annotated records.
// Concurrent creates share file writes, so the run rewrites (and syncs)
// the file far fewer than 2,000 times: on a 2-CPU VM whose disk syncs
// slowly, about 1.3 s with ApplyConcurrency, and 40-50 s with Apply's
// default of 8.
func BenchmarkApply2000Creates(b *testing.B) {
	ctx := context.Background()
	desired := make([]monitor.Desired, 2000)
	for i := range desired {
		desired[i] = monitor.Desired{Definition: anomaly(fmt.Sprintf("Traffic Anomaly with Event%04d", i), "esm-prod").Definition}
	}
	for b.Loop() {
		b.StopTimer()
		s, err := Open(filepath.Join(b.TempDir(), "prod.json"))
		if err != nil {
			b.Fatal(err)
		}
		plan := monitor.Diff("prod", desired, nil, monitor.Scope{})
		b.StartTimer()
		results, err := monitor.Apply(ctx, s, plan, monitor.ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
