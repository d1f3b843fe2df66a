package datadog

import (
	"strings"

	"github.com/esm-dev/esm/annotations"
)

// integrationPrefixes name Datadog notification integrations; a channel
// that starts with one is used as it is.
var integrationPrefixes = []string{"slack-", "pagerduty-", "opsgenie-", "webhook-", "teams-",
	"victorops-", "servicenow-", "jira-", "oncall-", "email-", "msteams-", "squadcast-", "statuspage-"}

// Handle returns the Datadog notification handle for a channel:
// "team-cart" → "@slack-team-cart"; integrations ("pagerduty-payments"),
// e-mail addresses and handles that already start with @ are kept.
func Handle(channel string) string {
	ch := strings.TrimSpace(channel)
	if strings.HasPrefix(ch, "@") {
		return ch
	}
	if strings.Contains(ch, "@") {
		return "@" + ch
	}
	for _, p := range integrationPrefixes {
		if strings.HasPrefix(ch, p) {
			return "@" + ch
		}
	}
	return "@slack-" + ch
}

// Handles writes the notification handles of channels as a monitor
// message block: unconditional handles on one line, the others inside
// Datadog's {{#is_warning}} ... {{/is_warning}} style conditionals.
func Handles(c annotations.Channels) string {
	var b strings.Builder
	handles := func(l []string) string {
		hs := make([]string, len(l))
		for i, ch := range l {
			hs[i] = Handle(ch)
		}
		return strings.Join(hs, " ")
	}
	if len(c.Always) > 0 {
		b.WriteString(handles(c.Always))
	}
	for _, s := range []struct {
		tmpl string
		l    []string
	}{{"is_alert", c.Critical}, {"is_warning", c.Warning}, {"is_recovery", c.Recovery}, {"is_no_data", c.NoData}} {
		if len(s.l) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("{{#" + s.tmpl + "}}" + handles(s.l) + "{{/" + s.tmpl + "}}")
	}
	return b.String()
}
