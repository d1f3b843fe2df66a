package datadog

import (
	"fmt"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderLog) }

// renderLog renders @log_monitor: a log alert counting the logs that
// match the search, logs("<query>").index("<index>").rollup("count").last("<window>") > <above>
// (Create a monitor, "Logs Alert Query": https://docs.datadoghq.com/api/latest/monitors/#create-a-monitor).
func renderLog(s *annotations.Spec, p *annotations.LogSpec) (monitor.Definition, error) {
	t := &s.Target
	if strings.ContainsAny(p.Query, "\\\n") {
		// annotations refuses them; a spec made otherwise must not end
		// the quoted query early.
		return monitor.Definition{}, fmt.Errorf("log monitor %s: the query %q holds a backslash or a line break", s.Name, p.Query)
	}
	q := fmt.Sprintf(`logs("%s").index("%s").rollup("count").last("%s") > %s`,
		quoteLogQuery(p.Query), p.Index, p.Window, thresholdText(p.Above))
	m := base(s, "log alert", q)
	m.Options.Thresholds = monitor.Thresholds{Critical: monitor.Float(p.Above), Warning: p.Warning}
	summary := fmt.Sprintf("Logs for %s events in %s: more than %s logs matching %s in the last %s.",
		t.Record, t.Env.Name, thresholdText(p.Above), p.Query, p.Window)
	m.Message = s.Message(summary, Handles(t.Channels))
	return m, nil
}

// quoteLogQuery escapes the double quotes of a log search (a phrase,
// "connection refused") for the quoted query of logs("..."), as Datadog
// writes them; backslashes are refused, so nothing else needs escaping
// and the search cannot end the string.
func quoteLogQuery(q string) string { return strings.ReplaceAll(q, `"`, `\"`) }
