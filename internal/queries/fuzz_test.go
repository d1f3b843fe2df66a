package queries

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFile checks that no query file makes the parser panic, that
// every problem names the file and a line, and that every query returned
// is complete.
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
		}
	})
}
