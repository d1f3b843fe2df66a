package idl

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// A record declared in two files loaded on their own is one error, at the
// later declaration and naming the first, and only the first is kept; a
// file imported by two others declares its types once, and an enum may
// be repeated (it makes no monitor and no event type).
func TestLoadFilesRecordInTwoFiles(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantDiags []string // as rendered, relative to the directory
		wantTypes []string // full name and declaring file
	}{
		{
			name: "record in two files",
			files: map[string]string{
				"a.avdl": "@namespace(\"shop\")\nprotocol A {\n  record Cart { string id; }\n}\n",
				"b.avdl": "@namespace(\"shop\")\nprotocol B {\n  enum E { X }\n\n  record Cart { string id; }\n}\n",
			},
			wantDiags: []string{"b.avdl:5:10: record shop.Cart is declared in more than one file: also at a.avdl:3:10"},
			wantTypes: []string{"shop.Cart a.avdl", "shop.E b.avdl"},
		},
		{
			name: "in an .avdl file and a lone .avsc file",
			files: map[string]string{
				"a.avdl": "protocol A {\n  record Cart { string id; }\n}\n",
				"c.avsc": `{"type": "record", "name": "Cart", "fields": []}`,
			},
			wantDiags: []string{"c.avsc:1:28: record Cart is declared in more than one file: also at a.avdl:2:10"},
			wantTypes: []string{"Cart a.avdl"},
		},
		{
			name: "one file imported by two",
			files: map[string]string{
				"a.avdl":     "protocol A {\n  import idl \"lib/c.avdl\";\n}\n",
				"b.avdl":     "protocol B {\n  import idl \"lib/c.avdl\";\n}\n",
				"lib/c.avdl": "protocol C {\n  record Cart { string id; }\n}\n",
			},
			wantTypes: []string{"Cart lib/c.avdl"},
		},
		{
			name: "an enum in two files",
			files: map[string]string{
				"a.avdl": "protocol A {\n  enum E { X }\n}\n",
				"b.avdl": "protocol B {\n  enum E { X }\n}\n",
			},
			wantTypes: []string{"E a.avdl", "E b.avdl"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tree, err := LoadTree([]string{dir}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				r, err := filepath.Rel(dir, p)
				if err != nil {
					t.Fatal(err)
				}
				return filepath.ToSlash(r)
			}
			var diags []string
			for _, d := range tree.Diags {
				diags = append(diags, strings.ReplaceAll(d.Error(), dir+string(filepath.Separator), ""))
			}
			var types []string
			for _, s := range tree.Types {
				types = append(types, s.FullName()+" "+rel(s.Filename()))
			}
			if !slices.Equal(diags, tt.wantDiags) {
				t.Errorf("diagnostics:\n%q\nwant\n%q", diags, tt.wantDiags)
			}
			if !slices.Equal(types, tt.wantTypes) {
				t.Errorf("types %q, want %q", types, tt.wantTypes)
			}
		})
	}
}
