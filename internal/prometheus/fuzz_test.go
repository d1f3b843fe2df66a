package prometheus

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRules: whatever the rules file holds (it may be edited by
// hand), reading it is an error or monitors, never a panic; and what esm
// writes from them reads back as the same monitors.
func FuzzParseRules(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yml"))
	seeds2, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range append(seeds, seeds2...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data, s[len(s)-5:] == ".yaml")
		}
	}
	f.Add([]byte(foreignGroup), false)
	f.Add([]byte("groups: [{name: x, rules: [{alert: A, expr: up, labels: {esm_monitor: m}}]}]"), false)
	f.Fuzz(func(t *testing.T, data []byte, operator bool) {
		if len(data) > 1<<16 {
			return
		}
		format := FormatRules
		if operator {
			format = FormatPrometheusRule
		}
		p, err := parseRules("f.yml", format, data)
		if err != nil {
			return
		}
		var out []byte
		if operator {
			out, err = encodePrometheusRule("prod", p.metadata, p.monitors, p.foreign)
		} else {
			out, err = encodeRules(p.monitors, p.foreign)
		}
		if err != nil {
			return // a foreign node yaml cannot write back
		}
		again, err := parseRules("f.yml", format, out)
		if err != nil {
			t.Fatalf("esm cannot read what it wrote: %v\n%s", err, out)
		}
		if len(again.monitors) != len(p.monitors) {
			t.Fatalf("%d monitors written, %d read back\n%s", len(p.monitors), len(again.monitors), out)
		}
	})
}
