package deploy_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// metricLabels are the metrics esm exports, with their labels: the only
// names the rules and the dashboard may query.
var metricLabels = map[string][]string{
	"esm_http_requests_total":                  {"route", "method", "code"},
	"esm_http_request_duration_seconds_bucket": {"route", "method", "le"},
	"esm_events_received_total":                {"event_type", "env"},
	"esm_events_rejected_total":                {"event_type", "reason"},
	"esm_bot_runs_total":                       {"command", "env", "outcome"},
	"esm_bot_run_duration_seconds_bucket":      {"command", "env", "le"},
	"esm_api_calls_total":                      {"service", "operation", "code"},
	"esm_schema_reload_errors_total":           {},
	"esm_query_failures_total":                 {"query"},
	"esm_query_last_success_timestamp_seconds": {"query"},
	// Prometheus's own series of each scraped target.
	"up": {},
}

// targetLabels are the labels Prometheus adds to every series it scrapes
// from a pod (with the usual Kubernetes relabelling).
var targetLabels = []string{"job", "instance", "namespace", "pod", "container"}

// queryProblems checks a PromQL expression: it must select only the
// metrics of metricLabels, and match only their labels (or a target's).
func queryProblems(expr string) []string {
	sels, err := selectors(expr)
	if err != nil {
		return []string{fmt.Sprintf("expr %q: %v", expr, err)}
	}
	if len(sels) == 0 {
		return []string{fmt.Sprintf("expr %q selects no metric", expr)}
	}
	var problems []string
	for _, s := range sels {
		labels, ok := metricLabels[s.metric]
		if !ok {
			problems = append(problems, fmt.Sprintf("metric %s is not one esm exports", s.metric))
			continue
		}
		for _, l := range s.labels {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				problems = append(problems, fmt.Sprintf("%s has no label %s", s.metric, l))
			}
		}
	}
	return problems
}

// selector is a vector selector of a PromQL expression: the metric name
// and the labels it matches on.
type selector struct {
	metric string
	labels []string
}

// promqlWords are PromQL's keywords and aggregation operators: the
// identifiers of an expression that are neither metrics nor functions.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// labelLists are the keywords followed by a parenthesised list of labels.
var labelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// selectors returns the vector selectors of a PromQL expression (and of
// Grafana's variables in it, $name and ${name}, which it skips). It is a
// scanner, not a parser: it finds the identifiers that are neither
// keywords nor function calls, and the label names of the matchers that
// follow them.
func selectors(expr string) ([]selector, error) {
	var out []selector
	s := expr
	i := 0
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(j int) int {
		for j < len(s) && strings.IndexByte(" \t\r\n", s[j]) >= 0 {
			j++
		}
		return j
	}
	skipString := func(j int) (int, error) {
		q := s[j]
		for j++; j < len(s); j++ {
			if s[j] == '\\' && q != '`' {
				j++
			} else if s[j] == q {
				return j + 1, nil
			}
		}
		return 0, errors.New("unterminated string")
	}
	closing := func(j int, open, close byte) (int, error) {
		depth := 0
		for j < len(s) {
			switch c := s[j]; {
			case c == '"' || c == '\'' || c == '`':
				var err error
				if j, err = skipString(j); err != nil {
					return 0, err
				}
				continue
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, fmt.Errorf("unbalanced %c", open)
	}
	for i < len(s) {
		c := s[i]
		var err error
		switch {
		case c == '"' || c == '\'' || c == '`':
			i, err = skipString(i)
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '[':
			i, err = closing(i, '[', ']')
		case c == '{':
			i, err = closing(i, '{', '}') // a selector without a name
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				i, err = closing(i, '{', '}')
			} else {
				for i < len(s) && isIdent(s[i]) {
					i++
				}
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdent(s[i]) {
				i++
			}
			word := s[start:i]
			next := skipSpace(i)
			switch {
			case labelLists[word]:
				if next < len(s) && s[next] == '(' {
					i, err = closing(next, '(', ')')
				}
			case promqlWords[strings.ToLower(word)]:
			case next < len(s) && s[next] == '(':
				// a function call
			default:
				sel := selector{metric: word}
				if next < len(s) && s[next] == '{' {
					var end int
					if end, err = closing(next, '{', '}'); err == nil {
						sel.labels, err = matcherLabels(s[next+1 : end-1])
						i = end
					}
				}
				out = append(out, sel)
			}
		default:
			i++
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// matcherLabels returns the label names of the matchers between braces:
// `route="/webhook", code=~"5.."`.
func matcherLabels(m string) ([]string, error) {
	var labels []string
	re := regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" + `)\s*(,|$)`)
	for strings.TrimSpace(m) != "" {
		g := re.FindStringSubmatch(m)
		if g == nil {
			return nil, fmt.Errorf("bad label matchers {%s}", m)
		}
		labels = append(labels, g[1])
		m = m[len(g[0]):]
	}
	sort.Strings(labels)
	return labels, nil
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // metric{label,label} ... or an error
	}{
		{`up == 0`, `up`},
		{`up{namespace="esm"} == 0`, `up{namespace}`},
		{`rate(esm_http_requests_total{code=~"5.."}[5m])`, `esm_http_requests_total{code}`},
		{`sum by (route, code) (rate(esm_http_requests_total[$__rate_interval]))`, `esm_http_requests_total`},
		{`sum(rate(a[5m])) / ignoring (reason) group_left () sum without (x) (b)`, `a b`},
		{`histogram_quantile(0.95, sum by (le) (rate(h_bucket{route="/v1/events/{type}"}[1h])))`, `h_bucket{route}`},
		{`absent(up{namespace="esm", job='x'})`, `up{job,namespace}`},
		{`x{a="}", b!~"\"{"} offset 5m > 1e3 and y`, `x{a,b} y`},
		{`metric{namespace=~"$namespace"}`, `metric{namespace}`},
		{`${datasource} m`, `m`},
		{`a{b=}`, `error`},
		{`a{b="x"`, `error`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			sels, err := selectors(tc.expr)
			var got []string
			for _, s := range sels {
				g := s.metric
				if len(s.labels) > 0 {
					g += "{" + strings.Join(s.labels, ",") + "}"
				}
				got = append(got, g)
			}
			have := strings.Join(got, " ")
			if err != nil {
				have = "error"
			}
			if have != tc.want {
				t.Errorf("selectors(%q) = %q (err %v), want %q", tc.expr, have, err, tc.want)
			}
		})
	}
}

func TestQueryProblems(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // a substring of the first problem; "" for none
	}{
		{`sum by (route) (rate(esm_http_requests_total{code=~"5.."}[5m]))`, ""},
		{`rate(esm_events_rejected_total{reason="schema", pod="a"}[5m])`, ""},
		{`rate(esm_http_requests_total_typo[5m])`, "esm_http_requests_total_typo is not one esm exports"},
		{`rate(esm_events_received_total{reason="schema"}[5m])`, "esm_events_received_total has no label reason"},
		{`vector(1)`, "selects no metric"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			p := queryProblems(tc.expr)
			switch {
			case tc.want == "" && len(p) > 0:
				t.Errorf("queryProblems(%q) = %q, want none", tc.expr, p)
			case tc.want != "" && (len(p) == 0 || !strings.Contains(p[0], tc.want)):
				t.Errorf("queryProblems(%q) = %q, want %q", tc.expr, p, tc.want)
			}
		})
	}
}
