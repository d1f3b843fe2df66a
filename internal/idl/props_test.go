package idl

import (
	"strings"
	"testing"
)

// TestRepeatedAnnotationLastWins checks that the same annotation twice on
// one declaration is not an error: the last value wins, in the place of
// the first, as the reference's IdlReader keeps properties, and the
// property remembers the annotation it overrode.
func TestRepeatedAnnotationLastWins(t *testing.T) {
	src := "protocol P {\n" +
		"  @owner(\"a\") @team(\"t\") @owner(\"b\")\n" +
		"  record R { @x(1) @x(2) @x(3) string s; }\n" +
		"}\n"
	res, err := LoadFile("p.avdl", Options{ReadFile: func(string) ([]byte, error) { return []byte(src), nil }})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Lookup("R")
	if r == nil {
		t.Fatal("record R not found")
	}
	if got := len(r.Props); got != 2 {
		t.Fatalf("R has %d properties, want 2 (owner, team): %+v", got, r.Props)
	}
	owner := r.Props[0]
	if owner.Name != "owner" || owner.Value.Interface() != "b" {
		t.Errorf("first property = @%s(%v), want @owner(\"b\")", owner.Name, owner.Value.Interface())
	}
	if p := owner.Range.Pos(); p.Line != 2 || p.Column != 26 {
		t.Errorf("@owner range starts at %d:%d, want 2:26 (the last one)", p.Line, p.Column)
	}
	if p := owner.Overrides.Pos(); p.Line != 2 || p.Column != 3 {
		t.Errorf("@owner overrides %d:%d, want 2:3 (the first one)", p.Line, p.Column)
	}
	if r.Props[1].Overrides.Pos().Line != 0 {
		t.Errorf("@team overrides %v, want nothing", r.Props[1].Overrides.Pos())
	}
	js, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	out := string(js)
	if strings.Count(out, `"x"`) != 1 || !strings.Contains(out, `"x" : 3`) && !strings.Contains(out, `"x": 3`) {
		t.Errorf("the field's @x is not written once with the last value 3:\n%s", out)
	}
	if strings.Index(out, `"owner"`) > strings.Index(out, `"team"`) {
		t.Errorf("owner is not written in the place of the first @owner:\n%s", out)
	}
}
