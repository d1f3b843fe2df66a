package report

import (
	"embed"
	"fmt"
	"html"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/monitor"
)

// MaxCommentLength is GitHub's limit on the body of an issue comment.
const MaxCommentLength = 65536

// maxDiffBytes bounds the diff of one monitor in a comment; longer diffs
// are cut with a line that says how many lines are not shown.
const maxDiffBytes = 16 << 10

// maxTextBytes bounds a message (a failure, a schema error) in a comment.
const maxTextBytes = 2000

//go:embed templates/*.tmpl
var templateFS embed.FS

var commentTemplates = template.Must(template.New("comment").Funcs(template.FuncMap{
	"marker":  Marker,
	"short":   shortSHA,
	"plural":  plural,
	"applied": appliedSummary,
	"healing": healing,
	"drifted": drifted,
	"changed": changedFiles,
	"codes": func(names []string) string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = "<code>" + html.EscapeString(n) + "</code>"
		}
		return strings.Join(out, ", ")
	},
	"inline": inline,
	"code":   code,
	"failureText": func(r monitor.Result) string {
		return trimOperation(r.Err.Error(), string(r.Change.Action), r.Change)
	},
	"mark": actionMark,
}).ParseFS(templateFS, "templates/*.tmpl"))

// CommentInput is the outcome of one bot run, as its PR comment shows it.
type CommentInput struct {
	Env     string // the environment, such as prod
	Command string // plan or register
	// Auto is set for a plan run on a pull request event, not a command.
	Auto bool
	// RepoURL is the repository's web address, such as
	// https://github.com/owner/name; SHA the head commit the schemas were
	// read at. Links to schema lines are RepoURL/blob/SHA/file#Lline.
	RepoURL string
	SHA     string
	// Files are the changed schema files read at SHA.
	Files []string
	// Diags are the problems in the schemas; with an error among them
	// nothing was planned.
	Diags diag.List
	// Plan is the plan, nil when the run stopped before planning.
	Plan *monitor.Plan
	// Applied is set when register applied the plan; Results holds the
	// outcome of every change.
	Applied bool
	Results []monitor.Result
	// Failure says why the run stopped, when it did.
	Failure string
}

// Marker returns the hidden first line of a result comment, by which the
// bot finds it to edit it in place: "<!-- esm:prod:plan -->" for the first
// part, "<!-- esm:prod:plan:2 -->" for the second, and so on.
func Marker(env, command string, part int) string {
	if part <= 1 {
		return "<!-- esm:" + env + ":" + command + " -->"
	}
	return "<!-- esm:" + env + ":" + command + ":" + strconv.Itoa(part) + " -->"
}

// ParseMarker reads the marker on the first line of a comment body.
func ParseMarker(body string) (env, command string, part int, ok bool) {
	line, _, _ := strings.Cut(body, "\n")
	inner, ok := strings.CutPrefix(strings.TrimSpace(line), "<!-- esm:")
	if !ok {
		return "", "", 0, false
	}
	inner, ok = strings.CutSuffix(inner, " -->")
	if !ok {
		return "", "", 0, false
	}
	f := strings.Split(inner, ":")
	switch len(f) {
	case 2:
		return f[0], f[1], 1, f[0] != "" && f[1] != ""
	case 3:
		n, err := strconv.Atoi(f[2])
		return f[0], f[1], n, err == nil && n > 1 && f[0] != "" && f[1] != ""
	}
	return "", "", 0, false
}

// Comment renders the result comment of a run as one or more bodies,
// each at most limit bytes (MaxCommentLength when limit is 0 or more than
// that), each starting with its Marker:
//
//   - a title naming the command, the environment and the head commit;
//   - why the run failed, if it did;
//   - the summary: "Plan: 1 to create, 0 to update, 0 to delete, 3
//     unchanged." or "No changes.", and for register "Apply complete: …";
//   - every schema error as a file:line:col link to the line at the head
//     commit, then the warnings;
//   - the plan's notes and the changes that failed to apply;
//   - each created, updated or deleted monitor in a collapsed <details>
//     block holding its field diff in a ```diff block; an update of a
//     monitor changed outside esm says so in its summary line, with the
//     fields ("changed outside esm: query, options.thresholds.critical");
//   - after a plan with changes, the command that applies it.
//
// Bodies are split between these blocks, never inside one.
func Comment(in *CommentInput, limit int) []string {
	if limit <= 0 || limit > MaxCommentLength {
		limit = MaxCommentLength
	}
	in = clip(in)
	head := render("head", in)
	var blocks []string
	section := func(title string, items []string) {
		if len(items) > 0 {
			blocks = append(blocks, render(title, nil))
			blocks = append(blocks, items...)
		}
	}
	section("errors", diagBlocks(in, in.Diags.Errors()))
	section("warnings", diagBlocks(in, in.Diags.Warnings()))
	if in.Plan != nil {
		var notes, failures, changes []string
		for _, n := range in.Plan.Notes {
			notes = append(notes, render("note", n))
		}
		for _, r := range in.Results {
			if r.Note != "" && r.Err == nil && r.Change != nil {
				notes = append(notes, render("note", fmt.Sprintf("%s monitor %q: %s", r.Change.Action, r.Change.Name, r.Note)))
			}
		}
		for _, r := range in.Results {
			if r.Err != nil && r.Change != nil {
				failures = append(failures, render("failure", r))
			}
		}
		for i := range in.Plan.Changes {
			if c := &in.Plan.Changes[i]; c.Action != monitor.Unchanged {
				changes = append(changes, changeBlock(in, c, limit))
			}
		}
		section("notes", notes)
		section("failures", failures)
		section("changes", changes)
		if in.Command == "plan" && in.Plan.HasChanges() && in.Failure == "" {
			blocks = append(blocks, render("next", in))
		}
	}
	return pack(in, head, blocks, limit)
}

// clip returns in with its free text shortened to maxTextBytes.
func clip(in *CommentInput) *CommentInput {
	c := *in
	c.Failure = truncate(c.Failure, maxTextBytes)
	return &c
}

// pack joins head and blocks into bodies of at most limit bytes.
func pack(in *CommentInput, head string, blocks []string, limit int) []string {
	var parts []string
	cur := head
	for _, b := range blocks {
		if len(cur)+len(b) <= limit {
			cur += b
			continue
		}
		parts = append(parts, cur)
		cur = render("continued", map[string]any{"Env": in.Env, "Command": in.Command, "Part": len(parts) + 1})
		if len(cur)+len(b) > limit {
			b = truncate(b, limit-len(cur))
		}
		cur += b
	}
	return append(parts, cur)
}

// diagBlocks renders diagnostics as list items linking to their line.
func diagBlocks(in *CommentInput, list diag.List) []string {
	var out []string
	for _, d := range list {
		type link struct{ Pos, Link string }
		v := struct {
			Pos, Link, Message string
			Related            []link
		}{Pos: d.Pos.String(), Message: truncate(d.Message, maxTextBytes)}
		if d.Pos.Filename != "" {
			v.Link = blobLink(in, d.Pos.Filename, d.Pos.Line)
		}
		for _, r := range d.Related {
			// Only linkable positions: the message names the others.
			if l := blobLink(in, r.Filename, r.Line); r.Filename != "" && l != "" {
				v.Related = append(v.Related, link{Pos: r.String(), Link: l})
			}
		}
		out = append(out, render("diag", v))
	}
	return out
}

// blobLink returns the address of a file's line at the head commit.
func blobLink(in *CommentInput, file string, line int) string {
	if in.RepoURL == "" || in.SHA == "" {
		return ""
	}
	u := in.RepoURL + "/blob/" + in.SHA + "/" + strings.TrimPrefix(file, "/")
	if line > 0 {
		u += "#L" + strconv.Itoa(line)
	}
	return u
}

// changeBlock renders one change as a <details> block with its diff.
func changeBlock(in *CommentInput, c *monitor.Change, limit int) string {
	diff := diffText(c)
	if max := min(maxDiffBytes, limit/2); len(diff) > max {
		cut := strings.LastIndexByte(diff[:max], '\n') + 1
		rest := strings.Count(diff[cut:], "\n")
		diff = diff[:cut] + fmt.Sprintf("  … (%d more lines not shown)\n", rest)
	}
	return render("change", map[string]any{
		"Change": c,
		"Source": changeSource(in, c),
		"Diff":   diff,
		"Fence":  fence(diff),
	})
}

// changeSource renders where a change comes from as HTML: the record and
// a link to the annotation's line; a deleted monitor's file is only named,
// as it may be gone.
func changeSource(in *CommentInput, c *monitor.Change) string {
	var parts []string
	if c.Record != "" {
		parts = append(parts, "<code>"+html.EscapeString(c.Record)+"</code>")
	}
	if c.File != "" {
		loc := c.File
		if c.Line > 0 {
			loc += ":" + strconv.Itoa(c.Line)
		}
		if link := blobLink(in, c.File, c.Line); link != "" && c.Action != monitor.Delete {
			parts = append(parts, `<a href="`+html.EscapeString(link)+`">`+html.EscapeString(loc)+"</a>")
		} else {
			parts = append(parts, html.EscapeString(loc))
		}
	}
	return strings.Join(parts, " at ")
}

// diffText renders a change's fields as the lines of a unified diff: "+"
// for a new value, "-" for an old one, " " for an unchanged line of a
// multi-line value or a list.
func diffText(c *monitor.Change) string {
	var b strings.Builder
	line := func(op byte, s string) {
		b.WriteByte(op)
		b.WriteByte(' ')
		b.WriteString(printable(s))
		b.WriteByte('\n')
	}
	for _, d := range c.Diff {
		k := fieldKind(d.Field)
		multi := k == stringKind && (strings.Contains(d.Old, "\n") || strings.Contains(d.New, "\n"))
		switch {
		case k == listKind || multi:
			open, end := d.Field+" = [", "]"
			old, new := listItems(d.Old), listItems(d.New)
			show := func(s string) string { return "    " + strconv.Quote(s) + "," }
			if multi {
				open, end = d.Field+" = <<EOT", "EOT"
				old, new = splitLines(d.Old), splitLines(d.New)
				show = func(s string) string { return s }
			}
			op := byte(' ')
			switch {
			case d.Old == "":
				op = '+'
			case d.New == "":
				op = '-'
			}
			line(op, open)
			for _, e := range diffLines(old, new) {
				line(e.op, show(e.text))
			}
			line(op, end)
		case d.Old == "":
			line('+', d.Field+" = "+scalar(d.Field, d.New))
		case d.New == "":
			line('-', d.Field+" = "+scalar(d.Field, d.Old))
		default:
			line('-', d.Field+" = "+scalar(d.Field, d.Old))
			line('+', d.Field+" = "+scalar(d.Field, d.New))
		}
	}
	return b.String()
}

// fence returns a code fence longer than any run of backticks in s.
func fence(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// StatusOf returns the commit status of a run's outcome: its state
// (success or failure) and a description of at most 140 characters.
func StatusOf(in *CommentInput) (state, description string) {
	switch {
	case in.Failure != "":
		return "failure", truncate(oneLine(in.Failure), 140)
	case in.Diags.HasErrors():
		return "failure", plural(len(in.Diags.Errors()), "error") + " in the schemas"
	case in.Applied:
		state = "success"
		for _, r := range in.Results {
			if r.Err != nil {
				state = "failure"
			}
		}
		return state, "Applied: " + strings.TrimSuffix(appliedSummary(in.Results), ".")
	case in.Plan != nil && in.Plan.HasChanges():
		s := in.Plan.Summary()
		return "success", fmt.Sprintf("Plan: %d to create, %d to update%s, %d to delete", s.Create, s.Update, drifted(s), s.Delete)
	case in.Plan != nil:
		return "success", "No changes: monitors match the schemas"
	}
	return "success", "No schema file changed"
}

// changedFiles says which files of a change set changed: schema files,
// and the query files (.yaml, .yml) whose monitors count too.
func changedFiles(files []string) string {
	queries := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml") {
			queries++
		}
	}
	switch schemas := len(files) - queries; {
	case queries == 0:
		return plural(schemas, "schema file")
	case schemas == 0:
		return plural(queries, "query file")
	default:
		return plural(schemas, "schema file") + " and " + plural(queries, "query file")
	}
}

// Usage renders the reply to "esm help" and to a comment that is not a
// valid command: the problem, if any, and a table of the commands of each
// environment.
func Usage(envs []string, problem string) string {
	return render("usage", map[string]any{"Envs": envs, "Problem": problem})
}

// Denied renders the reply to a command that is not allowed, with why.
func Denied(reason string) string { return render("denied", reason) }

// KindWaiting is the command part of the Marker of the "waiting"
// comment: one per pull request and environment, edited as commands
// start and stop waiting.
const KindWaiting = "waiting"

// Waiting renders the comment that says how many commands of a pull
// request wait for the run in progress on the same repository and
// environment; with waiting 0 it says that none does any more. It starts
// with Marker(env, KindWaiting, 1).
func Waiting(env string, waiting int) string {
	return render("waiting", map[string]any{"Env": env, "Waiting": waiting})
}

// Draft renders the reply to register on a draft pull request.
func Draft(env string) string { return render("draft", env) }

// Unused renders a part of an earlier result that the new result does not
// need any more.
func Unused(env, command string, part int) string {
	return render("unused", map[string]any{"Env": env, "Command": command, "Part": part})
}

// render executes a template; the templates are fixed, so an error is a
// bug.
func render(name string, data any) string {
	var b strings.Builder
	if err := commentTemplates.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("report: template %s: %v", name, err))
	}
	return b.String()
}

// appliedSummary counts the outcome of an apply: "2 created, 1 updated,
// 0 deleted, 1 failed."
func appliedSummary(results []monitor.Result) string {
	var created, updated, deleted, failed int
	for _, r := range results {
		if r.Change == nil {
			continue
		}
		switch {
		case r.Err != nil:
			failed++
		case r.Change.Action == monitor.Create:
			created++
		case r.Change.Action == monitor.Update:
			updated++
		case r.Change.Action == monitor.Delete:
			deleted++
		}
	}
	return fmt.Sprintf("%d created, %d updated, %d deleted, %d failed.", created, updated, deleted, failed)
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// plural returns "1 error", "2 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// inline makes text safe on one line of Markdown: one line, no HTML, and
// no @mention that would notify someone.
func inline(s string) string {
	return markdownText.Replace(printable(oneLine(s)))
}

// markdownText escapes what Markdown would read as HTML, and puts a
// zero-width space after "@" so that no one is mentioned.
var markdownText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@\u200b")

// code makes text safe inside a `code span`.
func code(s string) string { return strings.ReplaceAll(printable(oneLine(s)), "`", "'") }

func actionMark(a monitor.Action) string {
	switch a {
	case monitor.Create:
		return "➕"
	case monitor.Update:
		return "✏️"
	case monitor.Delete:
		return "➖"
	}
	return ""
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "…"
	cut := max(0, n-len(more))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
