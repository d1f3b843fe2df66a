// Package diag holds source positions and diagnostics: the located,
// human-readable problems every esm parser and validator reports.
//
// A diagnostic renders as "file:line:col: message", the form editors,
// CI logs and PR comments all understand.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a diagnostic stops the run.
type Severity int

const (
	// Error is a problem that makes the input unusable.
	Error Severity = iota
	// Warning is a problem that is reported but does not fail the run.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Position is a resolved location in a source file. Line and Column start
// at 1; Column counts bytes, as go/token does. A zero Line means the
// position is unknown and only the file is named.
type Position struct {
	Filename string
	Offset   int
	Line     int
	Column   int
}

// IsValid reports whether the position names a line.
func (p Position) IsValid() bool { return p.Line > 0 }

// String renders the position as file:line:col, file:line or file.
func (p Position) String() string {
	s := p.Filename
	if p.IsValid() {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprintf("%d:%d", p.Line, p.Column)
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Diagnostic is one located problem.
type Diagnostic struct {
	Severity Severity
	Pos      Position
	End      Position
	Message  string
	// Related are other positions the problem involves, such as where a
	// conflicting value was set; the message names them too.
	Related []Position
}

// Error renders the diagnostic as "file:line:col: message"; warnings carry
// a "warning: " prefix before the message.
func (d *Diagnostic) Error() string {
	if d.Severity == Warning {
		return d.Pos.String() + ": warning: " + d.Message
	}
	return d.Pos.String() + ": " + d.Message
}

// List is a list of diagnostics. It implements error so that a parser can
// return every problem it found at once.
type List []*Diagnostic

// Add appends a diagnostic.
func (l *List) Add(sev Severity, pos, end Position, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	*l = append(*l, &Diagnostic{Severity: sev, Pos: pos, End: end, Message: msg})
}

// Len, Less and Swap implement sort.Interface: by file, line, column.
func (l List) Len() int      { return len(l) }
func (l List) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l List) Less(i, j int) bool {
	a, b := l[i].Pos, l[j].Pos
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	if a.Column != b.Column {
		return a.Column < b.Column
	}
	return l[i].Message < l[j].Message
}

// Sort orders the list by position.
func (l List) Sort() { sort.Stable(l) }

// Errors returns the diagnostics of severity Error.
func (l List) Errors() List {
	var out List
	for _, d := range l {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Warnings returns the diagnostics of severity Warning.
func (l List) Warnings() List {
	var out List
	for _, d := range l {
		if d.Severity == Warning {
			out = append(out, d)
		}
	}
	return out
}

// HasErrors reports whether any diagnostic is an error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns the list's errors as an error, or nil when there are none.
func (l List) Err() error {
	errs := l.Errors()
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Error renders one diagnostic per line.
func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Error())
	}
	return b.String()
}

// Unwrap returns the individual diagnostics, so errors.As finds a *Diagnostic.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, d := range l {
		out[i] = d
	}
	return out
}
