package ddtest

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Monitor is a monitor as the fake stores it.
type Monitor struct {
	ID      int64
	Name    string
	Type    string
	Query   string
	Message string
	Tags    []string
	// Priority is nil when unset (null in JSON).
	Priority *int64
	// Options are the monitor's options as JSON decodes them into Go:
	// numbers are float64, objects map[string]any, e.g.
	// Options["thresholds"].(map[string]any)["critical"] == 1.0.
	Options  map[string]any
	Created  time.Time
	Modified time.Time
}

// clone returns a deep copy of m, with Options in the shape JSON decodes
// into (so that a seeded map[string]int becomes map[string]any of float64).
func (m Monitor) clone() Monitor {
	m.Tags = append([]string(nil), m.Tags...)
	if m.Priority != nil {
		p := *m.Priority
		m.Priority = &p
	}
	m.Options = jsonCopy(m.Options)
	return m
}

// jsonCopy deep-copies v through JSON.
func jsonCopy(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("ddtest: options are not JSON: " + err.Error())
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic("ddtest: options are not JSON: " + err.Error())
	}
	return out
}

// optionDefaults are the options Datadog adds to a stored monitor when the
// request leaves them out (every recorded create answers with them).
var optionDefaults = map[string]func() any{
	"notify_audit":   func() any { return false },
	"include_tags":   func() any { return true },
	"new_host_delay": func() any { return 300.0 },
	"notify_no_data": func() any { return false },
	"silenced":       func() any { return map[string]any{} },
}

// normalise changes m the way Datadog changes a monitor it stores.
// require_full_window is left as sent: the recordings show Datadog does not
// add it (its documented default is false).
func normalise(m *Monitor) {
	if m.Type == "metric alert" {
		m.Type = "query alert"
	}
	for i, t := range m.Tags {
		m.Tags[i] = storedTag(t)
	}
	if m.Options == nil {
		m.Options = map[string]any{}
	}
	o := m.Options
	for k, def := range optionDefaults {
		if _, ok := o[k]; !ok {
			o[k] = def()
		}
	}
	if m.Type == "log alert" {
		if _, ok := o["groupby_simple_monitor"]; !ok {
			o["groupby_simple_monitor"] = false
		}
	}
	if on, _ := o["notify_no_data"].(bool); !on && o["no_data_timeframe"] != nil {
		delete(o, "no_data_timeframe")
	}
	if th, ok := o["thresholds"].(map[string]any); ok {
		for k, v := range th {
			if v == nil {
				delete(th, k) // "warning": null removes the threshold
			}
		}
	}
}

// Datadog stores a tag lowercased, with characters other than letters,
// digits and _ - : . / converted to underscores, contiguous underscores
// reduced to one, a trailing one removed, starting with a letter and at
// most 200 characters long
// (https://docs.datadoghq.com/developers/guide/what-best-practices-are-recommended-for-naming-metrics-and-tags/).
var (
	tagOtherRE     = regexp.MustCompile(`[^\p{L}\p{Nd}_:./-]`)
	tagUnderscores = regexp.MustCompile(`_{2,}`)
	tagLeadRE      = regexp.MustCompile(`^\P{L}+`)
)

// storedTag returns tag as Datadog stores it.
func storedTag(tag string) string {
	t := strings.ToLower(tag)
	t = tagOtherRE.ReplaceAllString(t, "_")
	t = tagUnderscores.ReplaceAllString(t, "_")
	t = tagLeadRE.ReplaceAllString(t, "")
	if r := []rune(t); len(r) > 200 {
		t = string(r[:200])
	}
	return strings.TrimRight(t, "_")
}

// render returns the monitor as Datadog's API returns it.
func (m *Monitor) render() map[string]any {
	opts := jsonCopy(m.Options)
	if th, ok := opts["thresholds"].(map[string]any); ok {
		for k, v := range th {
			if f, ok := v.(float64); ok {
				th[k] = jsonFloat(f)
			}
		}
	}
	tags := m.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"id":                     m.ID,
		"org_id":                 orgID,
		"type":                   m.Type,
		"name":                   m.Name,
		"message":                m.Message,
		"tags":                   tags,
		"query":                  m.Query,
		"options":                opts,
		"multi":                  strings.Contains(m.Query, " by {"),
		"created_at":             m.Created.UnixMilli(),
		"created":                formatTime(m.Created),
		"modified":               formatTime(m.Modified),
		"deleted":                nil,
		"priority":               m.Priority,
		"restricted_roles":       nil,
		"restriction_policy":     nil,
		"overall_state_modified": nil,
		"overall_state":          "No Data",
		"creator":                map[string]any{"name": nil, "handle": creator, "email": creator, "id": 1},
	}
}

const (
	orgID   = 321813
	creator = "ddtest@example.com"
)

// formatTime formats t as Datadog does: 2024-10-10T16:40:19.663079+00:00.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

// jsonFloat is a number that Datadog writes with a decimal point, as it
// writes thresholds: 1 is 1.0.
type jsonFloat float64

// MarshalJSON writes f with a decimal point when it is whole.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return []byte(strconv.FormatFloat(v, 'f', 1, 64)), nil
	}
	return json.Marshal(v)
}

// monitorTypes are the types Datadog accepts (MonitorType in the spec).
var monitorTypes = map[string]bool{
	"composite": true, "event alert": true, "log alert": true, "metric alert": true,
	"process alert": true, "query alert": true, "rum alert": true, "service check": true,
	"synthetics alert": true, "trace-analytics alert": true, "slo alert": true,
	"event-v2 alert": true, "audit alert": true, "ci-pipelines alert": true,
	"ci-tests alert": true, "error-tracking alert": true, "database-monitoring alert": true,
	"network-performance alert": true, "cost alert": true, "data-quality alert": true,
	"network-path alert": true, "data-jobs alert": true, "llm-observability alert": true,
}

// comparison matches the comparison that ends a threshold query, such as
// "... >= 1" or "... > 0.5".
var comparison = regexp.MustCompile(`(>=|<=|>|<|==|!=)\s*-?[0-9]+(\.[0-9]+)?\s*$`)

// Datadog's 400 messages. The type and query texts are recorded
// (TestMonitorValidateErrors, Scenario_Create_a_monitor_returns_Bad_Request_response);
// the others follow their pattern.
const (
	msgTypeRequired   = "The parameter 'type' is required"
	msgTypeInvalid    = "The value provided for parameter 'type' is invalid"
	msgQueryRequired  = "The parameter 'query' is required"
	msgQueryInvalid   = "The value provided for parameter 'query' is invalid: invalid operator specified: "
	msgNameRequired   = "The parameter 'name' is required"
	msgTypeChange     = "Monitor type change not allowed"
	msgNotFound       = "Monitor not found"
	msgInvalidID      = "Invalid monitor ID."
	msgInvalidJSON    = "Invalid JSON"
	msgGroupStates    = "Invalid group_state filters."
	msgOptionsInvalid = "The value provided for parameter 'options' is invalid"
	msgTagsInvalid    = "The value provided for parameter 'tags' is invalid"
	msgPriority       = "The value provided for parameter 'priority' is invalid"
	msgNameInvalid    = "The value provided for parameter 'name' is invalid"
	msgMessageInvalid = "The value provided for parameter 'message' is invalid"
)

// queryNeedsComparison reports whether monitors of the type end their
// query with a threshold comparison.
func queryNeedsComparison(typ string) bool {
	switch typ {
	case "composite", "service check", "synthetics alert", "slo alert":
		return false
	}
	return true
}

// checkType returns the 400 message for a bad type, or "".
func checkType(v any, present bool) string {
	s, ok := v.(string)
	if !present || v == nil || (ok && s == "") {
		return msgTypeRequired
	}
	if !ok || !monitorTypes[s] {
		return msgTypeInvalid
	}
	return ""
}

// checkQuery returns the 400 message for a bad query of a monitor of type
// typ, or "".
func checkQuery(v any, present bool, typ string) string {
	s, ok := v.(string)
	if !present || v == nil || (ok && strings.TrimSpace(s) == "") {
		return msgQueryRequired
	}
	if !ok || (queryNeedsComparison(typ) && !comparison.MatchString(s)) {
		return msgQueryInvalid
	}
	return ""
}

// decodeFields reads the top-level fields of a create or update body into
// m, returning the 400 message of the first bad one. Only fields present in
// body are changed; options are replaced as a whole.
func decodeFields(body map[string]any, m *Monitor) string {
	for _, f := range []struct {
		key string
		dst *string
		msg string
	}{{"name", &m.Name, msgNameInvalid}, {"message", &m.Message, msgMessageInvalid}, {"query", &m.Query, msgQueryInvalid}, {"type", &m.Type, msgTypeInvalid}} {
		if v, ok := body[f.key]; ok {
			s, ok := v.(string)
			if !ok && v != nil {
				return f.msg
			}
			*f.dst = s
		}
	}
	if v, ok := body["tags"]; ok {
		list, ok := v.([]any)
		if !ok && v != nil {
			return msgTagsInvalid
		}
		m.Tags = make([]string, 0, len(list))
		for _, t := range list {
			s, ok := t.(string)
			if !ok {
				return msgTagsInvalid
			}
			m.Tags = append(m.Tags, s)
		}
	}
	if v, ok := body["priority"]; ok {
		switch p := v.(type) {
		case nil:
			m.Priority = nil
		case float64:
			if p != math.Trunc(p) || p < 1 || p > 5 {
				return msgPriority
			}
			n := int64(p)
			m.Priority = &n
		default:
			return msgPriority
		}
	}
	if v, ok := body["options"]; ok {
		switch o := v.(type) {
		case nil:
			m.Options = nil
		case map[string]any:
			m.Options = o
		default:
			return msgOptionsInvalid
		}
	}
	return ""
}

// matches reports whether m passes the list filters.
type listFilter struct {
	name        string   // lowercase substring of the name
	monitorTags []string // lowercase; all must be tags of the monitor
	scopeTags   []string // lowercase; all must be in the query's scope
	idOffset    int64
}

func (f *listFilter) matches(m *Monitor) bool {
	if m.ID <= f.idOffset {
		return false
	}
	if f.name != "" && !strings.Contains(strings.ToLower(m.Name), f.name) {
		return false
	}
	for _, t := range f.monitorTags {
		if !hasTag(m.Tags, t) {
			return false
		}
	}
	if len(f.scopeTags) > 0 {
		scope := queryScope(m.Query)
		for _, t := range f.scopeTags {
			if !hasTag(scope, t) {
				return false
			}
		}
	}
	return true
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// scopeRE matches the {...} of a metric query: its scopes, and the tags it
// groups by after "by".
var scopeRE = regexp.MustCompile(`\{([^{}]*)\}`)

// queryScope returns the tags in the scopes of a query, such as env:prod
// and host:a in avg:cpu{env:prod,host:a} by {region}.
func queryScope(q string) []string {
	var out []string
	for _, loc := range scopeRE.FindAllStringSubmatchIndex(q, -1) {
		if strings.HasSuffix(strings.TrimRight(q[:loc[0]], " "), " by") {
			continue
		}
		out = append(out, lowerAll(q[loc[2]:loc[3]])...)
	}
	return out
}
