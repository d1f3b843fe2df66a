package datadog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/monitor"
)

// benchRecords is the number of annotated records of the speed
// goal.
const benchRecords = 2000

func benchDesired() []monitor.Desired {
	out := make([]monitor.Desired, benchRecords)
	for i := range out {
		m := anomaly(fmt.Sprintf("Event%04d", i))
		out[i] = monitor.Desired{Definition: m.Definition, Source: monitor.Source{Record: "shop.Event" + fmt.Sprint(i)}}
	}
	return out
}

// BenchmarkNoopPlan lists 2,000 monitors that match the schemas, plans and
// applies the empty plan: only the list calls reach Datadog (2,000 / page
// size, plus the short last page).
//
// go test -run '^$' -bench . -benchtime=1x -count=3 ./internal/datadog/
// on 2 loaded vCPUs: 3 list-calls/op, 0 other-calls/op, 0.25-0.7 s/op.
func BenchmarkNoopPlan(b *testing.B) {
	ctx := context.Background()
	s := ddtest.NewServer(b)
	st := newStore(b, s)
	desired := benchDesired()
	for i := range desired {
		if _, err := st.Create(ctx, &monitor.Monitor{Definition: desired[i].Definition}); err != nil {
			b.Fatal(err)
		}
	}
	s.ResetRequests()
	b.ResetTimer()
	for b.Loop() {
		cur, err := st.List(ctx, monitor.EnvTag("prod"))
		if err != nil {
			b.Fatal(err)
		}
		p := monitor.Diff("prod", desired, cur, monitor.Scope{})
		if p.HasChanges() {
			b.Fatalf("no-op plan has changes: %+v", p.Summary())
		}
		if _, err := monitor.Apply(ctx, st, p, monitor.ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(s.CountRequests("GET", "/api/v1/monitor"))/n, "list-calls/op")
	b.ReportMetric(float64(len(s.Requests())-s.CountRequests("GET", "/api/v1/monitor"))/n, "other-calls/op")
}

// BenchmarkApplyCreates applies 2,000 creates against a Datadog that
// answers in 50 ms, ApplyConcurrency (16) at a time, as esm apply does;
// each create lists its name and tag before and after the POST: at best
// 2,000 / 16 * 3 * 50 ms = 18.75 s. Figures are in BENCHMARKS.md.
func BenchmarkApplyCreates(b *testing.B) {
	ctx := context.Background()
	desired := benchDesired()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s := ddtest.NewServer(b, ddtest.WithLatency(50*time.Millisecond))
		st := newStore(b, s)
		p := monitor.Diff("prod", desired, nil, monitor.Scope{})
		b.StartTimer()

		start := time.Now()
		results, err := monitor.Apply(ctx, st, p, monitor.ApplyOptions{})
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		b.StopTimer()
		if got := len(s.Monitors()); got != benchRecords {
			b.Fatalf("%d monitors, want %d", got, benchRecords)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "seconds/op")
}
