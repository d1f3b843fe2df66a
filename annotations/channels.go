package annotations

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// ChannelAnnotation is the annotation that names where a record's monitors
// notify: @alert_channel("team-cart"), or by severity,
// @alert_channel({"warning": "slack-cart", "critical": "pagerduty-cart"}).
const ChannelAnnotation = "alert_channel"

// Channels are notification targets by severity. Always notifies in every
// state; the others only in theirs.
type Channels struct {
	Always   []string
	Critical []string
	Warning  []string
	Recovery []string
	NoData   []string
}

// IsZero reports whether no channel is set.
func (c Channels) IsZero() bool {
	return len(c.Always)+len(c.Critical)+len(c.Warning)+len(c.Recovery)+len(c.NoData) == 0
}

// channelKeys are the severities of the object form, with the Datadog
// template variable of each.
var channelKeys = map[string]string{
	"all":      "",
	"critical": "is_alert",
	"alert":    "is_alert",
	"warning":  "is_warning",
	"recovery": "is_recovery",
	"no_data":  "is_no_data",
}

// ParseChannels reads the value of @alert_channel: a string, an array of
// strings, or an object from severity (all, critical, warning, recovery,
// no_data) to a string or an array of strings.
func ParseChannels(raw json.RawMessage, pos Position) (Channels, error) {
	var c Channels
	raw = bytes.TrimSpace(raw)
	list := func(v json.RawMessage, what string) ([]string, error) {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			if strings.TrimSpace(one) == "" {
				return nil, errorf(pos, "@alert_channel: %s is empty", what)
			}
			return []string{one}, nil
		}
		var many []string
		if err := json.Unmarshal(v, &many); err != nil {
			return nil, errorf(pos, "@alert_channel: %s must be a string or an array of strings", what)
		}
		for _, m := range many {
			if strings.TrimSpace(m) == "" {
				return nil, errorf(pos, "@alert_channel: %s holds an empty channel", what)
			}
		}
		return many, nil
	}
	if len(raw) > 0 && raw[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return c, errorf(pos, "@alert_channel: %v", err)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := channelKeys[k]; !ok {
				return c, errorf(pos, "@alert_channel: unknown severity %q; use all, critical, warning, recovery or no_data", k)
			}
			l, err := list(obj[k], "severity "+k)
			if err != nil {
				return c, err
			}
			switch k {
			case "all":
				c.Always = append(c.Always, l...)
			case "critical", "alert":
				c.Critical = append(c.Critical, l...)
			case "warning":
				c.Warning = append(c.Warning, l...)
			case "recovery":
				c.Recovery = append(c.Recovery, l...)
			case "no_data":
				c.NoData = append(c.NoData, l...)
			}
		}
		if c.IsZero() {
			return c, errorf(pos, "@alert_channel: the object names no channel")
		}
		return c, nil
	}
	l, err := list(raw, "the value")
	if err != nil {
		return c, err
	}
	c.Always = l
	return c, nil
}

// Of returns the channels an alert of severity ("critical" or "warning")
// notifies: the Always channels and those of its severity, trimmed,
// sorted and without repeats. Backends without Datadog's per-state
// message blocks (Prometheus rules, Alertmanager routes) route on it.
func (c Channels) Of(severity string) []string {
	list := append([]string{}, c.Always...)
	switch severity {
	case "critical":
		list = append(list, c.Critical...)
	case "warning":
		list = append(list, c.Warning...)
	}
	var out []string
	for _, ch := range list {
		if ch = strings.TrimSpace(ch); ch != "" {
			out = append(out, ch)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
