package diag

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPositionString(t *testing.T) {
	tests := []struct {
		pos  Position
		want string
	}{
		{Position{Filename: "a.avdl", Line: 3, Column: 7}, "a.avdl:3:7"},
		{Position{Filename: "a.avdl"}, "a.avdl"},
		{Position{Line: 1, Column: 2}, "1:2"},
		{Position{}, "-"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.pos.String())
	}
}

func TestFilePositions(t *testing.T) {
	f := NewFile("x.avdl")
	src := []byte("ab\ncd\n\nef")
	f.SetLinesForContent(src)
	for off, want := range map[int]string{0: "x.avdl:1:1", 1: "x.avdl:1:2", 3: "x.avdl:2:1", 6: "x.avdl:3:1", 8: "x.avdl:4:2"} {
		assert.Equal(t, want, f.Position(off).String(), "offset %d", off)
	}
	g := NewFile("y")
	g.Grow(2)
	g.AddLine(3)
	g.AddLine(2) // out of order: ignored
	assert.Equal(t, 2, g.Position(4).Line)
	assert.Equal(t, "", (*File)(nil).Name())
}

func TestList(t *testing.T) {
	var l List
	assert.NoError(t, l.Err())
	p := func(file string, line, col int) Position { return Position{Filename: file, Line: line, Column: col} }
	l.Add(Warning, p("b.avdl", 1, 1), Position{}, "dangling doc")
	l.Add(Error, p("b.avdl", 2, 5), Position{}, "second %s", "error")
	l.Add(Error, p("a.avdl", 9, 1), Position{}, "first")
	l.Sort()
	assert.Equal(t, "a.avdl:9:1: first\nb.avdl:1:1: warning: dangling doc\nb.avdl:2:5: second error", l.Error())
	assert.True(t, l.HasErrors())
	assert.Len(t, l.Errors(), 2)
	assert.Len(t, l.Warnings(), 1)
	err := l.Err()
	require.Error(t, err)
	assert.Equal(t, "a.avdl:9:1: first\nb.avdl:2:5: second error", err.Error())
	var d *Diagnostic
	require.True(t, errors.As(err, &d))
	assert.Equal(t, "first", d.Message)
}
