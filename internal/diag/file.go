package diag

import "sort"

// File maps byte offsets of one source file to lines and columns. Scanners
// record line starts as they pass them, so positions cost nothing until a
// diagnostic or a consumer asks for one.
type File struct {
	name  string
	lines []int // offsets of the first byte of each line; lines[0] == 0
}

// NewFile returns a File for name with no lines recorded beyond the first.
func NewFile(name string) *File {
	return &File{name: name, lines: []int{0}}
}

// Name returns the file name as given to NewFile.
func (f *File) Name() string {
	if f == nil {
		return ""
	}
	return f.name
}

// AddLine records that a line starts at offset. Offsets must increase;
// others are ignored.
func (f *File) AddLine(offset int) {
	if n := len(f.lines); offset > f.lines[n-1] {
		f.lines = append(f.lines, offset)
	}
}

// SetLinesForContent records every line start of src.
func (f *File) SetLinesForContent(src []byte) {
	f.lines = f.lines[:1]
	for i, c := range src {
		if c == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
}

// Position resolves a byte offset.
func (f *File) Position(offset int) Position {
	if f == nil {
		return Position{}
	}
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > offset }) - 1
	if i < 0 {
		i = 0
	}
	return Position{Filename: f.name, Offset: offset, Line: i + 1, Column: offset - f.lines[i] + 1}
}

// Range is a half-open byte range [Start, End) in a File.
type Range struct {
	File       *File
	Start, End int
}

// Pos returns the start position of the range.
func (r Range) Pos() Position { return r.File.Position(r.Start) }

// EndPos returns the end position of the range.
func (r Range) EndPos() Position { return r.File.Position(r.End) }

// String renders the start as file:line:col.
func (r Range) String() string { return r.Pos().String() }

// Grow makes room for n more lines, for a scanner that knows the count.
func (f *File) Grow(n int) {
	if cap(f.lines)-len(f.lines) < n {
		lines := make([]int, len(f.lines), len(f.lines)+n)
		copy(lines, f.lines)
		f.lines = lines
	}
}
