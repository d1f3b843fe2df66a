package idl

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/esm-dev/esm/internal/diag"
)

// noFiles makes every import fail, so that fuzzing touches no disk.
func noFiles(string) ([]byte, error) { return nil, fs.ErrNotExist }

func addSeeds(f *testing.F, pattern string) {
	for _, dir := range []string{"testdata/errors", "testdata/imports", filepath.Join("..", "..", "schemas")} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	dir := os.Getenv("ESM_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "conformance", "avro-idl")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", pattern))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// checkResult asserts what must hold for any input: errors are located
// diagnostics, and a successful parse writes valid JSON.
func checkResult(t *testing.T, res *Result, err error) {
	if err != nil {
		var list diag.List
		if !errors.As(err, &list) {
			t.Fatalf("error is not a diag.List: %v", err)
		}
		for _, d := range list {
			if d.Pos.Filename == "" || d.Message == "" {
				t.Fatalf("diagnostic without file or message: %#v", d)
			}
		}
		return
	}
	b, jerr := res.JSON()
	if jerr != nil {
		t.Fatalf("JSON of a valid parse: %v", jerr)
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	for _, s := range res.Types {
		if !json.Valid(AppendSchemaJSON(nil, s, JSONOptions{})) {
			t.Fatalf("invalid schema JSON for %s", s.FullName())
		}
	}
}

// FuzzParse feeds arbitrary bytes to the IDL parser: it must never panic
// or hang, and must either report located errors or produce valid JSON.
func FuzzParse(f *testing.F) {
	addSeeds(f, "*.avdl")
	f.Add([]byte("protocol P { record R { union { null, R } next = null; } }"))
	f.Add([]byte("namespace a.b; schema map<array<int>>;"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := Parse("fuzz.avdl", src, Options{ReadFile: noFiles})
		checkResult(t, res, err)
	})
}

// FuzzSchemaJSON feeds arbitrary bytes to the .avsc reader.
func FuzzSchemaJSON(f *testing.F) {
	addSeeds(f, "*.avsc")
	addSeeds(f, "*.avpr")
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, name := range []string{"fuzz.avsc", "fuzz.avpr"} {
			res, err := LoadFile(name, Options{ReadFile: func(string) ([]byte, error) { return src, nil }})
			if err != nil {
				var list diag.List
				if !errors.As(err, &list) {
					t.Fatalf("error is not a diag.List: %v", err)
				}
				continue
			}
			checkResult(t, res, nil)
		}
	})
}
