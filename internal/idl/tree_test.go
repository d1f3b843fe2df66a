package idl

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadTree(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.avdl":         `protocol A { import schema "b.avsc"; record R { B b; } }`,
		"b.avsc":         `{"type": "record", "name": "B", "fields": [{"name": "x", "type": "int"}]}`,
		"lone.avsc":      `{"type": "enum", "name": "E", "symbols": ["X"]}`,
		"sub/bad.avdl":   `protocol Bad { record }`,
		".hidden/h.avdl": `not even IDL`,
		"notes.txt":      `ignored`,
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := FindSchemaFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 4 {
		t.Fatalf("found %v, want the 4 schema files outside .hidden", found)
	}
	var order []string
	Visit(found, Options{}, LoadFile, func(path string, _ *Result, _ error) {
		rel, _ := filepath.Rel(dir, path)
		order = append(order, filepath.ToSlash(rel))
	})
	want := []string{"a.avdl", "sub/bad.avdl", "lone.avsc"} // b.avsc was read by a.avdl's import
	if len(order) != len(want) {
		t.Fatalf("loaded %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("loaded %v, want %v", order, want)
		}
	}

	tree, err := LoadTree([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range tree.Types {
		names = append(names, s.FullName())
	}
	if len(names) != 3 || names[0] != "B" || names[1] != "R" || names[2] != "E" {
		t.Fatalf("types %v, want [B R E]", names)
	}
	if !tree.Diags.HasErrors() || tree.Diags.Errors()[0].Pos.Filename != filepath.Join(dir, "sub", "bad.avdl") {
		t.Fatalf("diagnostics %v, want an error in sub/bad.avdl", tree.Diags)
	}
	if _, err := LoadTree([]string{filepath.Join(dir, "missing")}, Options{}); err == nil {
		t.Fatal("a missing path must be an error")
	}
}
