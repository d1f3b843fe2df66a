package idl

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/esm-dev/esm/internal/diag"
)

// errorMark is an expected error, as go/parser's tests write them: the
// comment /* ERROR "regexp" */ expects an error matching regexp at the
// first character after the comment.
var errorMark = regexp.MustCompile(`/\* ERROR "((?:[^"\\]|\\.)*)" \*/`)

type expectedError struct {
	line, col int
	rx        *regexp.Regexp
}

func expectedErrors(t *testing.T, path string, src []byte) []expectedError {
	t.Helper()
	var out []expectedError
	file := diag.NewFile(path)
	file.SetLinesForContent(src)
	for _, m := range errorMark.FindAllSubmatchIndex(src, -1) {
		off := m[1]
		for off < len(src) && (src[off] == ' ' || src[off] == '\t' || src[off] == '\n') {
			off++
		}
		pat := strings.ReplaceAll(string(src[m[2]:m[3]]), `\"`, `"`)
		rx, err := regexp.Compile(pat)
		if err != nil {
			t.Fatalf("%s: bad ERROR pattern %q: %v", path, pat, err)
		}
		pos := file.Position(off)
		out = append(out, expectedError{pos.Line, pos.Column, rx})
	}
	return out
}

// TestErrors parses every file under testdata/errors and checks that the
// parser reports exactly the errors marked in it, at the marked positions:
// several per file, so that recovery is tested too.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.avdl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no error test files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, path, src)
			if len(want) == 0 {
				t.Fatal("file has no ERROR marks")
			}
			_, err = ParseFile(path, Options{})
			var got diag.List
			if !errors.As(err, &got) {
				t.Fatalf("want a diag.List, got %v", err)
			}
			used := make([]bool, len(got))
			for _, w := range want {
				found := false
				for i, d := range got {
					if !used[i] && d.Pos.Line == w.line && d.Pos.Column == w.col && w.rx.MatchString(d.Message) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("%s:%d:%d: missing error matching %q", path, w.line, w.col, w.rx)
				}
			}
			for i, d := range got {
				if !used[i] {
					t.Errorf("unexpected error: %v", d)
				}
			}
		})
	}
}

// TestImportErrors covers problems that involve several files.
func TestImportErrors(t *testing.T) {
	dir := filepath.Join("testdata", "imports")
	tests := []struct {
		file string
		want []string // substrings of the rendered errors, in order
	}{
		{"cycle_a.avdl", []string{"cycle_b.avdl:2:14: import cycle: cycle_a.avdl imports cycle_b.avdl imports cycle_a.avdl"}},
		{"missing.avdl", []string{
			`missing.avdl:2:17: import "does/not/exist.avsc": file not found (looked in testdata/imports)`,
		}},
		{"bad_json.avsc", []string{
			"bad_json.avsc:6:18: unexpected '\"', expected ',' or '}'",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join(dir, tt.file), Options{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

// TestLexicalErrors covers errors whose position cannot carry a mark.
func TestLexicalErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated comment", "protocol P {\n  /* never closed\n}", "x.avdl:2:3: comment not terminated"},
		{"unterminated string", "protocol P { record R { string s = \"abc", "x.avdl:1:36: string literal not terminated"},
		{"invalid escape", "protocol P { record R { string s = \"a\\qb\"; } }", "x.avdl:1:38: invalid escape sequence in string literal"},
		{"invalid utf8", "protocol P { \xff }", "x.avdl:1:14: invalid UTF-8 encoding"},
		{"empty", "", ""},
		{"missing brace", "protocol P { record R { string s; }", "x.avdl:1:36: expected '}', found end of file"},
		{"garbage after protocol", "protocol P { } record", "x.avdl:1:16: expected end of file after the protocol, found keyword record"},
		{"bad json in annotation", "@x({\"a\" 1}) protocol P {}", "x.avdl:1:9: expected ':', found 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.avdl", []byte(tt.src), Options{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
