package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/esm-dev/esm/internal/monitor"
)

// TextOptions change how Text renders a plan.
type TextOptions struct {
	// Color adds ANSI colours, for a terminal.
	Color bool
}

// NoChanges is the line Text ends with when a plan changes nothing.
const NoChanges = "No changes. Monitors match the schemas."

// ANSI escapes used when TextOptions.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// contextLines is how many unchanged lines of a multi-line value an update
// shows around each change; longer unchanged runs are folded.
const contextLines = 3

// Text writes the plan for people, in the manner of "terraform plan": a
// block per created ("+"), updated ("~") or deleted ("-") monitor, each
// naming the record and file:line it comes from; an update shows only the
// fields that change, as "old -> new", and multi-line values such as the
// message as a line diff. An update of a monitor changed outside esm
// since esm wrote it (monitor.Change.Drift) says so first: "~ update
// (changed outside esm: query, options.thresholds.critical)". Unchanged
// monitors are only counted. The notes and a summary line ("Plan: 1 to
// create, 0 to update, 0 to delete, 5 unchanged." or NoChanges; "1 to
// update (1 changed outside esm)" with drift) follow.
func Text(w io.Writer, p *monitor.Plan, opts TextOptions) error {
	t := &textWriter{color: opts.Color}
	t.plan(p)
	if _, err := io.WriteString(w, t.b.String()); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// textWriter accumulates the text of a plan.
type textWriter struct {
	b     strings.Builder
	color bool
}

// paint wraps s in an ANSI style when colours are on.
func (t *textWriter) paint(style, s string) string {
	if !t.color || s == "" {
		return s
	}
	return style + s + ansiReset
}

// marker returns the coloured one-character mark of an edit or action.
func (t *textWriter) marker(op byte) string {
	switch op {
	case '+':
		return t.paint(ansiGreen, "+")
	case '-':
		return t.paint(ansiRed, "-")
	case '~':
		return t.paint(ansiYellow, "~")
	}
	return " "
}

// line writes one line, without trailing blanks (an empty line of a
// message would otherwise end in its indentation).
func (t *textWriter) line(format string, args ...any) {
	t.b.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), " "))
	t.b.WriteByte('\n')
}

func (t *textWriter) plan(p *monitor.Plan) {
	s := p.Summary()
	if s.Create+s.Update+s.Delete > 0 {
		t.line("esm will perform the following actions on the monitors tagged %s (environment %s):", p.Tag, p.Env)
		for i := range p.Changes {
			t.change(&p.Changes[i])
		}
	}
	if len(p.Notes) > 0 {
		t.line("")
		t.line("%s", t.paint(ansiBold, "Notes:"))
		for _, n := range p.Notes {
			t.line("  - %s", n)
		}
	}
	if t.b.Len() > 0 {
		t.line("")
	}
	if s.Create+s.Update+s.Delete == 0 {
		t.line("%s", t.paint(ansiBold, NoChanges))
		return
	}
	t.line("%s %d to create, %d to update%s, %d to delete%s, %d unchanged.",
		t.paint(ansiBold, "Plan:"), s.Create, s.Update, drifted(s), s.Delete, healing(s), s.Unchanged)
}

// change writes the block of one change; nothing for an unchanged monitor.
func (t *textWriter) change(c *monitor.Change) {
	var head string
	var mark byte
	switch c.Action {
	case monitor.Create:
		head, mark = fmt.Sprintf("monitor %q will be created", c.Name), '+'
	case monitor.Update:
		head, mark = fmt.Sprintf("monitor %d %q will be updated in place", c.ID, c.Name), '~'
	case monitor.Delete:
		reason := c.Reason
		if reason == "" {
			reason = "no annotation asks for it any more"
		}
		head, mark = fmt.Sprintf("monitor %d %q will be deleted: %s", c.ID, c.Name, reason), '-'
	default:
		return
	}
	t.line("")
	t.line("  %s", t.paint(ansiBold, "# "+head))
	if src := source(c); src != "" {
		t.line("  %s", t.paint(ansiBold, "# from "+src))
	}
	if c.Drift {
		t.line("  %s %s", t.marker('~'), driftLine(c))
	}
	if c.Action == monitor.Delete {
		t.line("  %s monitor %q", t.marker(mark), c.Name)
		return
	}
	t.line("  %s monitor %q {", t.marker(mark), c.Name)
	for _, d := range c.Diff {
		t.field(d)
	}
	t.line("    }")
}

// field writes one changed field of a create or an update.
func (t *textWriter) field(d monitor.FieldDiff) {
	mark := byte('~')
	switch {
	case d.Old == "":
		mark = '+'
	case d.New == "":
		mark = '-'
	}
	prefix := fmt.Sprintf("      %s %s = ", t.marker(mark), d.Field)
	k := fieldKind(d.Field)
	switch {
	case k == listKind:
		t.lines(prefix+"[", "]", listItems(d.Old), listItems(d.New), mark == '~', func(s string) string {
			return strconv.Quote(s) + ","
		})
	case k == stringKind && (strings.Contains(d.Old, "\n") || strings.Contains(d.New, "\n")):
		t.lines(prefix+"<<-EOT", "EOT", splitLines(d.Old), splitLines(d.New), mark == '~', printable)
	case mark == '+':
		t.line("%s%s", prefix, scalar(d.Field, d.New))
	case mark == '-':
		t.line("%s%s -> null", prefix, scalar(d.Field, d.Old))
	default:
		old, new := scalar(d.Field, d.Old), scalar(d.Field, d.New)
		if len(old)+len(new) <= longValue {
			t.line("%s%s -> %s", prefix, old, new)
			break
		}
		// Long values, such as queries, one under the other, so that the
		// difference shows.
		t.line("%s%s", prefix, old)
		t.line("%s-> %s", strings.Repeat(" ", len("      ~ "+d.Field+" = ")-len("-> ")), new)
	}
}

// longValue is the combined length of the old and new value of a field
// above which an update shows them on two lines.
const longValue = 80

// lines writes a multi-line value between open and end. When marked, the
// value is a line diff with "-" and "+" marks and long unchanged runs
// folded; otherwise it is the lines of the side that exists.
func (t *textWriter) lines(open, end string, old, new []string, marked bool, show func(string) string) {
	t.line("%s", open)
	edits := diffLines(old, new)
	for i := 0; i < len(edits); i++ {
		e := edits[i]
		if !marked {
			t.line("            %s", show(e.text))
			continue
		}
		if e.op != ' ' {
			t.line("          %s %s", t.marker(e.op), show(e.text))
			continue
		}
		// An unchanged run: show contextLines lines next to each change
		// and fold the rest.
		j := i
		for j < len(edits) && edits[j].op == ' ' {
			j++
		}
		keepHead, keepTail := contextLines, contextLines
		if i == 0 {
			keepHead = 0
		}
		if j == len(edits) {
			keepTail = 0
		}
		if hidden := j - i - keepHead - keepTail; hidden > 1 {
			for _, e := range edits[i : i+keepHead] {
				t.line("            %s", show(e.text))
			}
			t.line("            # (%d unchanged lines hidden)", hidden)
			for _, e := range edits[j-keepTail : j] {
				t.line("            %s", show(e.text))
			}
		} else {
			for _, e := range edits[i:j] {
				t.line("            %s", show(e.text))
			}
		}
		i = j - 1
	}
	t.line("        %s", end)
}

// scalar renders a one-line value: quoted for a string field, as it is
// for a number or a flag.
func scalar(field, v string) string {
	if fieldKind(field) == stringKind {
		return strconv.Quote(v)
	}
	return v
}

// splitLines splits a multi-line value into lines; "" has none.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// printable replaces the control characters of a line shown as it is, so
// that a schema's text cannot drive the terminal.
func printable(s string) string {
	control := func(r rune) bool { return r != '\t' && !unicode.IsPrint(r) }
	if strings.IndexFunc(s, control) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if control(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// driftLine says which fields of an update were changed outside esm:
// "update (changed outside esm: query, options.thresholds.critical)".
func driftLine(c *monitor.Change) string {
	return "update (changed outside esm: " + strings.Join(c.DriftedFields, ", ") + ")"
}

// drifted returns " (1 changed outside esm)" when some of the plan's
// updates revert edits made outside esm, else "".
func drifted(s monitor.Summary) string {
	if s.Drift == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d changed outside esm)", s.Drift)
}

// healing returns " (2 healing duplicates)" when some of the plan's
// deletions heal duplicates of kept monitors, else "".
func healing(s monitor.Summary) string {
	switch s.Healing {
	case 0:
		return ""
	case 1:
		return " (1 healing a duplicate)"
	}
	return fmt.Sprintf(" (%d healing duplicates)", s.Healing)
}
