package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/esm-dev/esm/internal/monitor"
)

// Results writes the outcome of applying a plan: one line per change,
// such as `created monitor 123 "Traffic Anomaly with Ping"` or
// `failed to update monitor 12 "Traffic Anomaly with Ping": <error>`,
// then a summary line such as "Apply complete: 2 created, 1 updated, 0
// deleted, 1 failed." A result's note follows its line in parentheses:
// `created monitor 123 "X" (a concurrent run created monitor 123 first:
// updated it and deleted 125)`.
func Results(w io.Writer, results []monitor.Result) error {
	var b strings.Builder
	var created, updated, deleted, failed int
	for _, r := range results {
		c := r.Change
		if c == nil {
			continue
		}
		what := fmt.Sprintf("monitor %q", c.Name)
		if id := r.ID; id != 0 {
			what = fmt.Sprintf("monitor %d %q", id, c.Name)
		}
		verb := string(c.Action)
		if r.Err != nil {
			failed++
			fmt.Fprintf(&b, "failed to %s %s: %s\n", verb, what, oneLine(trimOperation(r.Err.Error(), verb, c)))
			continue
		}
		switch c.Action {
		case monitor.Create:
			created++
		case monitor.Update:
			updated++
		case monitor.Delete:
			deleted++
		default:
			continue
		}
		note := ""
		if r.Note != "" {
			note = " (" + oneLine(r.Note) + ")"
		}
		fmt.Fprintf(&b, "%sd %s%s\n", verb, what, note) // created, updated, deleted
	}
	fmt.Fprintf(&b, "Apply complete: %d created, %d updated, %d deleted, %d failed.\n", created, updated, deleted, failed)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// trimOperation drops from msg the operation a store wraps its errors in
// ("update monitor 12: ", "create monitor \"X\": "), which the line
// already says.
func trimOperation(msg, verb string, c *monitor.Change) string {
	for _, op := range []string{
		fmt.Sprintf("%s monitor %d %q: ", verb, c.ID, c.Name),
		fmt.Sprintf("%s monitor %q: ", verb, c.Name),
		fmt.Sprintf("%s monitor %d: ", verb, c.ID),
		fmt.Sprintf("%s monitor: ", verb),
	} {
		if rest, ok := strings.CutPrefix(msg, op); ok {
			return rest
		}
	}
	return msg
}

// oneLine joins a multi-line message so that it prints as one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
