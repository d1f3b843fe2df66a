package datadog

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

func init() { register(renderTemplate) }

// templateTypes are the monitor types a kind declared in esm.yaml may
// have: Datadog's types whose query ends with the threshold comparison
// "operator #" (https://docs.datadoghq.com/api/latest/monitors/#create-a-monitor,
// the query's description). "metric alert" is left out: Datadog stores it
// as "query alert", and a plan would then fight the stored type.
var templateTypes = []string{
	"audit alert", "ci-pipelines alert", "ci-tests alert", "database-monitoring alert",
	"error-tracking alert", "event-v2 alert", "log alert", "query alert", "rum alert",
	"trace-analytics alert",
}

// queryThreshold matches the comparison that ends a threshold query and
// sets its critical threshold: "operator #", where # is "an integer or
// decimal number used to set the threshold".
var queryThreshold = regexp.MustCompile(`(>=|<=|>|<|==|!=)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$`)

// renderTemplate renders a kind declared in esm.yaml: the expanded query
// as it is, its comparison's number as the critical threshold (Datadog
// requires options.thresholds.critical to be the query's), and the
// declared warning and recovery thresholds, which Datadog wants on the
// alerting side of their threshold
// (https://docs.datadoghq.com/monitors/configuration/#thresholds).
func renderTemplate(s *annotations.Spec, p *annotations.TemplateSpec) (monitor.Definition, error) {
	declared := fmt.Sprintf("@%s (declared at %s)", p.Kind, p.DeclPos)
	i := sort.SearchStrings(templateTypes, p.Type)
	if i == len(templateTypes) || templateTypes[i] != p.Type {
		hint := ""
		if p.Type == "metric alert" {
			hint = ` (Datadog stores "metric alert" as "query alert": write that)`
		}
		return monitor.Definition{}, fmt.Errorf("%s: type %q is not a Datadog monitor type esm manages%s; use one of %s", declared, p.Type, hint, strings.Join(templateTypes, ", "))
	}
	m := queryThreshold.FindStringSubmatch(p.Query)
	if m == nil {
		return monitor.Definition{}, fmt.Errorf("%s: the query %q does not end with a comparison such as \"> 100\", which Datadog needs for its critical threshold", declared, p.Query)
	}
	critical, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return monitor.Definition{}, fmt.Errorf("%s: the query's threshold %s: %w", declared, m[2], err)
	}
	above := strings.HasPrefix(m[1], ">")
	if w := p.Warning; w != nil && (m[1] == ">" || m[1] == ">=" || m[1] == "<" || m[1] == "<=") {
		if above && !(*w < critical) || !above && !(*w > critical) {
			side := "below"
			if !above {
				side = "above"
			}
			return monitor.Definition{}, fmt.Errorf("%s: warning %s must be %s the critical threshold %s of the query %q", declared, number(*w), side, number(critical), p.Query)
		}
	}

	d := base(s, p.Type, p.Query)
	d.Options.Thresholds = monitor.Thresholds{
		Critical: monitor.Float(critical), Warning: p.Warning,
		CriticalRecovery: p.CriticalRecovery, WarningRecovery: p.WarningRecovery,
	}
	summary := p.Summary
	if summary == "" {
		summary = fmt.Sprintf("%s in %s.", s.Name, s.Target.Env.Name)
	}
	d.Message = s.Message(summary, Handles(s.Target.Channels))
	return d, nil
}
