package queryfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esm-dev/esm/annotations"
)

// FuzzParseFile checks that no query file makes the parser panic, that
// every problem names the file and a line, that every query returned is
// complete, and that its monitors' parameters are JSON their kind checks
// without panicking.
func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("name: a\ndb: main\nquery: x\nlabels: [&a b, *a]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: a}\n"))
	f.Add([]byte("name: a\ndb: main\nquery: x\nmonitors:\n  - threshold: {below: 1e400, tags: [a, {b: .nan}]}\n  - anomaly: &x {deviations: 3}\n  - anomaly: *x\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		qs, list := ParseFile("f.yaml", src, testOpts)
		for _, d := range list {
			if d.Pos.Filename != "f.yaml" {
				t.Fatalf("diagnostic without the file: %v", d)
			}
			if d.Message == "" || strings.Contains(d.Message, "\n") {
				t.Fatalf("diagnostic message empty or on several lines: %q", d.Message)
			}
		}
		for _, q := range qs {
			if !nameRE.MatchString(q.Name) || q.DB == "" || q.SQL == "" || q.Interval <= 0 || q.Timeout <= 0 || q.MaxSeries < 1 {
				t.Fatalf("incomplete query: %+v", q)
			}
			if !slices.Contains(testOpts.Databases, q.DB) {
				t.Fatalf("unknown database accepted: %q", q.DB)
			}
			for _, m := range q.Monitors {
				if !json.Valid(m.Params.Params) {
					t.Fatalf("monitor parameters are not JSON: %q", m.Params.Params)
				}
				target := annotations.Target{Record: q.Name, Query: &annotations.QueryTarget{Name: q.Name, Labels: q.Labels}}
				_, _ = m.Kind.Spec(target, []annotations.Layer{m.Params})
			}
		}
	})
}
