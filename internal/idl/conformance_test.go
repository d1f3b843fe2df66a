package idl

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/esm-dev/esm/internal/diag"
)

// conformanceDir finds Apache Avro's IDL test suite in ../shared, beside
// the repository. ESM_CONFORMANCE_DIR overrides the location.
func conformanceDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ESM_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "conformance", "avro-idl")
	}
	if _, err := os.Stat(filepath.Join(dir, "cases.json")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("conformance suite not found at %s: %v", dir, err)
		}
		t.Skipf("conformance suite not found at %s (set ESM_CONFORMANCE_DIR)", dir)
	}
	return dir
}

type conformanceCase struct {
	ID            string   `json:"id"`
	Input         string   `json:"input"`
	Expected      string   `json:"expected"`
	ExpectedError string   `json:"expected_error"`
	Kind          string   `json:"kind"`
	ImportPath    []string `json:"import_path"`
	// ExpectedWarnings are the [line, column] positions of the reference's
	// out-of-place doc comment warnings.
	ExpectedWarnings [][2]int `json:"expected_warnings"`
}

func loadCases(t testing.TB) (string, []conformanceCase) {
	dir := conformanceDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []conformanceCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("cases.json lists no cases")
	}
	return dir, doc.Cases
}

func (c conformanceCase) options(dir string) Options {
	var opts Options
	for _, p := range c.ImportPath {
		opts.ImportPaths = append(opts.ImportPaths, filepath.Join(dir, p))
	}
	return opts
}

func TestConformance(t *testing.T) {
	dir, cases := loadCases(t)
	passed := 0
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			res, err := LoadFile(filepath.Join(dir, c.Input), c.options(dir))
			if c.Kind == "error" {
				if err == nil {
					t.Fatalf("parsed without error; the reference rejects it with %q", c.ExpectedError)
				}
				var list diag.List
				if !errors.As(err, &list) || len(list) == 0 || !list[0].Pos.IsValid() {
					t.Fatalf("error is not located: %v", err)
				}
				t.Logf("rejected as expected: %v", err)
				passed++
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if c.ExpectedWarnings != nil {
				var pos [][2]int
				for _, w := range res.Warnings {
					pos = append(pos, [2]int{w.Pos.Line, w.Pos.Column})
				}
				if !reflect.DeepEqual(pos, c.ExpectedWarnings) {
					t.Errorf("warnings at %v, the reference warns at %v", pos, c.ExpectedWarnings)
				}
			}
			got, err := res.JSON()
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			want, err := os.ReadFile(filepath.Join(dir, c.Expected))
			if err != nil {
				t.Fatal(err)
			}
			g, w := normalizeJSON(t, got), normalizeJSON(t, want)
			if !reflect.DeepEqual(g, w) {
				gb, _ := json.MarshalIndent(g, "", "  ")
				wb, _ := json.MarshalIndent(w, "", "  ")
				t.Fatalf("output differs from the reference\n--- got\n%s\n--- want\n%s", gb, wb)
			}
			passed++
		})
	}
	if !t.Failed() && passed != len(cases) {
		t.Fatalf("%d of %d cases passed", passed, len(cases))
	}
}

// normalizeJSON decodes JSON for the strict semantic comparison of the
// corpus README: key order ignored, numbers by value, and the equivalent
// spellings it lists made equal.
func normalizeJSON(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return normalize(v, true)
}

var primitiveNames = map[string]bool{"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true}

func normalize(v any, top bool) any {
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return string(x)
		}
		return "num:" + r.RatString()
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = normalize(it, false)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = normalize(it, false)
		}
		if len(out) == 1 {
			if s, ok := out["type"].(string); ok && primitiveNames[s] {
				return s
			}
		}
		if out["order"] == "ascending" {
			delete(out, "order")
		}
		if out["one-way"] == false {
			delete(out, "one-way")
		}
		if e, ok := out["errors"].([]any); ok && len(e) == 0 {
			delete(out, "errors")
		}
		if _, isProtocol := out["protocol"]; isProtocol && top {
			if ts, ok := out["types"].([]any); ok && len(ts) == 0 {
				delete(out, "types")
			}
			if ms, ok := out["messages"].(map[string]any); ok && len(ms) == 0 {
				delete(out, "messages")
			}
			if ns, ok := out["namespace"]; ok && ns == nil {
				delete(out, "namespace")
			}
		}
		return out
	}
	return v
}
