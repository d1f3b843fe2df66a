// Package alertmanager renders the notification channels of monitor specs
// (@alert_channel) as an Alertmanager configuration fragment: one receiver
// per channel and routes that deliver each alert of esm's Prometheus rules
// to the receivers of its channels.
//
// The routes rely on the labels every alert rule esm generates carries:
// esm_monitor (the monitor's name), env (the environment's env tag),
// severity (critical or warning) and esm_channels, the channels that get
// the alert as ",ch1,ch2," (sorted, deduplicated: the record's channels
// for every severity plus those of the alert's severity).
package alertmanager

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
)

// DefaultSecretsDir is where the fragment's *_file paths point unless
// Options.SecretsDir says otherwise.
const DefaultSecretsDir = "/etc/alertmanager/secrets"

// Label names of esm's alert rules the routes match on.
const (
	MonitorLabel  = "esm_monitor"
	ChannelsLabel = "esm_channels"
	EnvLabel      = "env"
	SeverityLabel = "severity"
)

// PlaceholderWebhookHost is the host of the URL a webhook receiver gets
// when no URL is given for its channel: the .invalid top-level domain
// never resolves (RFC 2606), so a fragment used as it is fails loudly.
const PlaceholderWebhookHost = "alertmanager-webhook.invalid"

// prometheusKinds are the kinds that have a Prometheus form; the others
// (@log_monitor, the kinds of esm.yaml) raise no Prometheus alert, so
// their channels need no route.
var prometheusKinds = map[string]bool{
	annotations.TrafficVolumeAnnotation:   true,
	annotations.TrafficAnomalyAnnotation:  true,
	annotations.TrafficForecastAnnotation: true,
	annotations.BadDataAnnotation:         true,
	annotations.QueryThresholdKind:        true,
	annotations.QueryAnomalyKind:          true,
}

// HasPrometheusForm reports whether a monitor of the kind annotation
// becomes a Prometheus alert rule.
func HasPrometheusForm(annotation string) bool { return prometheusKinds[annotation] }

// Options are what the fragment is made for.
type Options struct {
	// Env is the environment's name; receivers are named
	// esm-<Env>-<channel>, so that the fragments of two environments
	// merge into one configuration.
	Env string
	// EnvTag is the value of the alerts' env label; "" matches any.
	EnvTag string
	// SecretsDir is the directory of the *_file paths (default
	// DefaultSecretsDir).
	SecretsDir string
	// WebhookURLs are the URLs of webhook receivers, by channel; a
	// webhook channel without one gets a placeholder URL.
	WebhookURLs map[string]string
}

// Fragment is the configuration fragment: a parent route under which
// every alert of esm's rules is routed, and the receivers.
type Fragment struct {
	// Route is the parent route: it matches the alerts of esm's rules in
	// the environment and holds one child route per receiver.
	Route Route
	// Receivers are sorted by name.
	Receivers []Receiver
	// Secrets are the files the receivers read, with what each holds,
	// sorted by path.
	Secrets []Secret
	// Placeholders are the placeholder URLs to replace, sorted.
	Placeholders []string
	// NeedsSMTP is set when an e-mail receiver needs the global
	// smtp_smarthost and smtp_from settings.
	NeedsSMTP bool
	opts      Options
}

// Secret is a file a receiver reads its secret from.
type Secret struct {
	Path string
	What string
}

// Route is an Alertmanager route, in the configuration's field names.
type Route struct {
	Receiver string   `yaml:"receiver,omitempty"`
	Matchers []string `yaml:"matchers,omitempty"`
	GroupBy  []string `yaml:"group_by,omitempty"`
	Continue bool     `yaml:"continue,omitempty"`
	Routes   []Route  `yaml:"routes,omitempty"`
}

// Receiver is an Alertmanager receiver with the integrations esm uses.
type Receiver struct {
	Name             string            `yaml:"name"`
	SlackConfigs     []SlackConfig     `yaml:"slack_configs,omitempty"`
	PagerdutyConfigs []PagerdutyConfig `yaml:"pagerduty_configs,omitempty"`
	OpsgenieConfigs  []OpsgenieConfig  `yaml:"opsgenie_configs,omitempty"`
	VictorOpsConfigs []VictorOpsConfig `yaml:"victorops_configs,omitempty"`
	EmailConfigs     []EmailConfig     `yaml:"email_configs,omitempty"`
	WebhookConfigs   []WebhookConfig   `yaml:"webhook_configs,omitempty"`
}

// SlackConfig posts to a Slack channel through an incoming webhook.
type SlackConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIURLFile   string `yaml:"api_url_file"`
	Channel      string `yaml:"channel"`
}

// PagerdutyConfig opens incidents through the Events API v2.
type PagerdutyConfig struct {
	SendResolved   bool   `yaml:"send_resolved"`
	RoutingKeyFile string `yaml:"routing_key_file"`
}

// OpsgenieConfig creates Opsgenie alerts.
type OpsgenieConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIKeyFile   string `yaml:"api_key_file"`
}

// VictorOpsConfig creates VictorOps (Splunk On-Call) incidents.
type VictorOpsConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIKeyFile   string `yaml:"api_key_file"`
	RoutingKey   string `yaml:"routing_key"`
}

// EmailConfig sends e-mail through the global SMTP settings.
type EmailConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	To           string `yaml:"to"`
}

// WebhookConfig posts Alertmanager's webhook payload to a URL.
type WebhookConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	URL          string `yaml:"url"`
}

// Warning is a channel the fragment cannot serve as the schema asks.
type Warning struct {
	Pos     annotations.Position
	Message string
}

func (w Warning) String() string { return w.Pos.String() + ": warning: " + w.Message }

// usage is how the routable specs use one channel.
type usage struct {
	always, critical, warning, recovery bool
	pos                                 annotations.Position
}

// Kind is how Alertmanager reaches a channel.
type Kind string

// The kinds of channel, as ClassifyChannel tells them.
const (
	Slack     Kind = "slack"
	PagerDuty Kind = "pagerduty"
	Opsgenie  Kind = "opsgenie"
	VictorOps Kind = "victorops"
	Email     Kind = "email"
	Webhook   Kind = "webhook"
)

// ClassifyChannel tells how a channel, as @alert_channel writes it, is
// reached, and returns the name the integration knows it by: a bare name
// or slack-NAME is the Slack channel #NAME; pagerduty-, opsgenie- and
// victorops- name a service of theirs; an address with @ (also after
// email-) is e-mail; webhook-NAME and every other integration Datadog
// knows (teams-, jira-, ...) or handle (@ops) is a webhook, Alertmanager
// having no integration of its own for them.
func ClassifyChannel(channel string) (Kind, string) {
	ch := strings.TrimSpace(channel)
	switch {
	case strings.HasPrefix(ch, "@"):
		return Webhook, ch
	case strings.HasPrefix(ch, "email-") && strings.Contains(ch, "@"):
		return Email, strings.TrimPrefix(ch, "email-")
	case strings.Contains(ch, "@"):
		return Email, ch
	case strings.HasPrefix(ch, "slack-"):
		return Slack, "#" + strings.TrimPrefix(ch, "slack-")
	case strings.HasPrefix(ch, "pagerduty-"):
		return PagerDuty, strings.TrimPrefix(ch, "pagerduty-")
	case strings.HasPrefix(ch, "opsgenie-"):
		return Opsgenie, strings.TrimPrefix(ch, "opsgenie-")
	case strings.HasPrefix(ch, "victorops-"):
		return VictorOps, strings.TrimPrefix(ch, "victorops-")
	}
	for _, p := range webhookPrefixes {
		if strings.HasPrefix(ch, p) {
			return Webhook, ch
		}
	}
	return Slack, "#" + ch
}

// webhookPrefixes are the Datadog integrations without an Alertmanager
// integration in the configuration esm targets (Alertmanager 0.25, as
// Debian ships it): a webhook receiver, e.g. to a bridge, serves them.
var webhookPrefixes = []string{"webhook-", "teams-", "msteams-", "servicenow-", "jira-", "oncall-",
	"squadcast-", "statuspage-", "email-"}

// ReceiverName returns the name of the receiver of channel in env.
func ReceiverName(env, channel string) string { return "esm-" + env + "-" + channel }

// ChannelsValue returns the value of the esm_channels label of an alert
// of severity ("critical" or "warning") for channels, as esm's rules
// write it: the channels that get it, trimmed, sorted and deduplicated,
// between commas; "" for none.
func ChannelsValue(c annotations.Channels, severity string) string {
	chs := c.Of(severity)
	if len(chs) == 0 {
		return ""
	}
	return "," + strings.Join(chs, ",") + ","
}

// Build makes the fragment for the channels of specs. A channel named
// only under recovery or no_data gets no receiver, with a warning: an
// Alertmanager receiver is sent an alert when it fires, never only when
// it resolves, and a Prometheus rule has no no-data state. Build fails
// when opts.WebhookURLs names a channel that is no webhook of the specs,
// or a URL that is not absolute http(s).
func Build(specs []annotations.Spec, opts Options) (*Fragment, []Warning, error) {
	if opts.SecretsDir == "" {
		opts.SecretsDir = DefaultSecretsDir
	}
	uses := map[string]*usage{}
	mark := func(list []string, pos annotations.Position, set func(*usage)) {
		for _, ch := range list {
			ch = strings.TrimSpace(ch) // as in the esm_channels label
			if ch == "" {
				continue
			}
			u := uses[ch]
			if u == nil {
				u = &usage{pos: pos}
				uses[ch] = u
			}
			if before(pos, u.pos) { // warnings name the first, whatever the order of specs
				u.pos = pos
			}
			set(u)
		}
	}
	for i := range specs {
		s := &specs[i]
		if !HasPrometheusForm(s.Kind) {
			continue
		}
		c := s.Target.Channels
		mark(c.Always, s.Pos, func(u *usage) { u.always = true })
		mark(c.Critical, s.Pos, func(u *usage) { u.critical = true })
		mark(c.Warning, s.Pos, func(u *usage) { u.warning = true })
		mark(c.Recovery, s.Pos, func(u *usage) { u.recovery = true })
		mark(c.NoData, s.Pos, func(*usage) {})
	}
	channels := make([]string, 0, len(uses))
	for ch := range uses {
		channels = append(channels, ch)
	}
	sort.Strings(channels)

	f := &Fragment{opts: opts}
	f.Route = Route{
		Matchers: []string{Matcher(MonitorLabel, "=~", ".+")},
		GroupBy:  []string{"alertname", MonitorLabel, EnvLabel},
	}
	if opts.EnvTag != "" {
		f.Route.Matchers = append(f.Route.Matchers, Matcher(EnvLabel, "=", opts.EnvTag))
	}
	var warnings []Warning
	secrets := map[string]string{}
	placeholders := map[string]bool{}
	webhooks := map[string]bool{}
	for _, ch := range channels {
		u := uses[ch]
		if !u.always && !u.critical && !u.warning {
			warnings = append(warnings, Warning{Pos: u.pos, Message: fmt.Sprintf(
				"channel %q is named only under recovery or no_data: Alertmanager sends a receiver an alert when it fires, not only when it resolves, and Prometheus rules have no no-data state; it gets no receiver", ch)})
			continue
		}
		r, err := f.receiver(ch, u.always || u.recovery, secrets, placeholders)
		if err != nil {
			return nil, nil, err
		}
		if len(r.WebhookConfigs) > 0 {
			webhooks[ch] = true
		}
		f.Receivers = append(f.Receivers, r)
		child := Route{
			Receiver: r.Name,
			Matchers: []string{Matcher(ChannelsLabel, "=~", ".*,"+regexp.QuoteMeta(ch)+",.*")},
			Continue: true,
		}
		// A channel only some severity notifies, in every record that
		// names it, matches that severity too.
		switch {
		case !u.always && u.critical && !u.warning:
			child.Matchers = append(child.Matchers, Matcher(SeverityLabel, "=", "critical"))
		case !u.always && u.warning && !u.critical:
			child.Matchers = append(child.Matchers, Matcher(SeverityLabel, "=", "warning"))
		}
		f.Route.Routes = append(f.Route.Routes, child)
	}
	for ch := range opts.WebhookURLs {
		if !webhooks[ch] {
			return nil, nil, fmt.Errorf("webhook URL for channel %q: no schema names it as a webhook channel of a monitor with a Prometheus form", ch)
		}
	}
	sort.Slice(f.Receivers, func(i, j int) bool { return f.Receivers[i].Name < f.Receivers[j].Name })
	sort.Slice(f.Route.Routes, func(i, j int) bool { return f.Route.Routes[i].Receiver < f.Route.Routes[j].Receiver })
	for p, what := range secrets {
		f.Secrets = append(f.Secrets, Secret{Path: p, What: what})
	}
	sort.Slice(f.Secrets, func(i, j int) bool { return f.Secrets[i].Path < f.Secrets[j].Path })
	for p := range placeholders {
		f.Placeholders = append(f.Placeholders, p)
	}
	sort.Strings(f.Placeholders)
	return f, warnings, nil
}

// receiver returns the receiver of channel ch, recording the secrets and
// placeholders it needs.
func (f *Fragment) receiver(ch string, resolved bool, secrets map[string]string, placeholders map[string]bool) (Receiver, error) {
	r := Receiver{Name: ReceiverName(f.opts.Env, ch)}
	secret := func(name, what string) string {
		p := strings.TrimSuffix(f.opts.SecretsDir, "/") + "/" + fileName(name)
		secrets[p] = what
		return p
	}
	kind, target := ClassifyChannel(ch)
	switch kind {
	case Slack:
		r.SlackConfigs = []SlackConfig{{SendResolved: resolved, Channel: target,
			APIURLFile: secret("slack_api_url", "the Slack incoming-webhook URL")}}
	case PagerDuty:
		r.PagerdutyConfigs = []PagerdutyConfig{{SendResolved: resolved,
			RoutingKeyFile: secret(ch+".routing_key", "the Events API v2 integration key of PagerDuty service "+target)}}
	case Opsgenie:
		r.OpsgenieConfigs = []OpsgenieConfig{{SendResolved: resolved,
			APIKeyFile: secret(ch+".api_key", "the API key of Opsgenie integration "+target)}}
	case VictorOps:
		r.VictorOpsConfigs = []VictorOpsConfig{{SendResolved: resolved, RoutingKey: target,
			APIKeyFile: secret("victorops_api_key", "the VictorOps REST integration API key")}}
	case Email:
		f.NeedsSMTP = true
		r.EmailConfigs = []EmailConfig{{SendResolved: resolved, To: target}}
	case Webhook:
		u, ok := f.opts.WebhookURLs[ch]
		if ok {
			if err := checkURL(u); err != nil {
				return r, fmt.Errorf("webhook URL for channel %q: %w", ch, err)
			}
		} else {
			u = "https://" + PlaceholderWebhookHost + "/" + url.PathEscape(ch)
			placeholders[u] = true
		}
		r.WebhookConfigs = []WebhookConfig{{SendResolved: resolved, URL: u}}
	}
	return r, nil
}

// before reports whether a comes before b: by file, line and column.
func before(a, b annotations.Position) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Column < b.Column
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	return nil
}

// fileName makes name safe as a file name: letters, digits, '.', '_'
// and '-' are kept, anything else becomes '_'.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
}

// Matcher returns an Alertmanager matcher, label op "value", with the
// value quoted as Alertmanager's matcher syntax reads it.
func Matcher(label, op, value string) string {
	v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(value)
	return label + op + `"` + v + `"`
}

// document is the fragment as YAML writes it.
type document struct {
	Route     struct{ Routes []Route } `yaml:"route"`
	Receivers []Receiver               `yaml:"receivers"`
}

// YAML renders the fragment: a comment saying how to merge it and which
// secrets and placeholders to provide, then route.routes (the parent
// route) and receivers.
func (f *Fragment) YAML() ([]byte, error) {
	var b bytes.Buffer
	env := f.opts.Env
	fmt.Fprintf(&b, "# Alertmanager routing for esm's alerts in %s, from \"esm alertmanager --env %s\".\n", env, env)
	b.WriteString("# Merge it into alertmanager.yml: put route.routes[0] first among your root route's\n")
	b.WriteString("# routes and append the receivers to yours.\n")
	if len(f.Secrets) > 0 {
		b.WriteString("# Files to provide (secrets stay out of this file):\n")
		for _, s := range f.Secrets {
			fmt.Fprintf(&b, "#   %s: %s\n", s.Path, s.What)
		}
	}
	if len(f.Placeholders) > 0 {
		b.WriteString("# Placeholder URLs to replace (or give with --webhook-url CHANNEL=URL):\n")
		for _, p := range f.Placeholders {
			fmt.Fprintf(&b, "#   %s\n", p)
		}
	}
	if f.NeedsSMTP {
		b.WriteString("# The e-mail receivers need global.smtp_smarthost and global.smtp_from.\n")
	}
	var d document
	d.Route.Routes = []Route{f.Route}
	d.Receivers = f.Receivers
	if d.Receivers == nil {
		d.Receivers = []Receiver{}
	}
	if err := encode(&b, &d); err != nil {
		return nil, fmt.Errorf("encode alertmanager fragment: %w", err)
	}
	return b.Bytes(), nil
}

// encode writes v as YAML indented by two spaces, as Alertmanager's
// documentation writes its configuration.
func encode(b *bytes.Buffer, v any) error {
	enc := yaml.NewEncoder(b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// MergeInto returns the Alertmanager configuration base with the fragment
// merged in: the parent route first among the root route's routes and the
// receivers after base's. Base's other settings and comments are kept.
// It fails when base is no YAML mapping, has no root route, or already
// has a receiver of the fragment's name; name is base's file name, for
// the errors.
func (f *Fragment) MergeInto(name string, base []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// A node tree keeps what a decoded value refuses, such as a key
	// written twice.
	var v any
	if err := yaml.Unmarshal(base, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not an Alertmanager configuration: no YAML mapping", name)
	}
	top := doc.Content[0]
	route := mappingValue(top, "route")
	if route == nil || route.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: no root route: the configuration needs route.receiver", name)
	}
	routes := mappingValue(route, "routes")
	if routes == nil {
		routes = &yaml.Node{Kind: yaml.SequenceNode}
		route.Content = append(route.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "routes"}, routes)
	}
	var parent yaml.Node
	if err := parent.Encode(f.Route); err != nil {
		return nil, fmt.Errorf("encode route: %w", err)
	}
	routes.Kind, routes.Tag, routes.Value = yaml.SequenceNode, "!!seq", "" // also for "routes:" left empty
	routes.Content = append([]*yaml.Node{&parent}, routes.Content...)
	receivers := mappingValue(top, "receivers")
	if receivers == nil {
		receivers = &yaml.Node{Kind: yaml.SequenceNode}
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "receivers"}, receivers)
	}
	have := map[string]*yaml.Node{}
	for _, r := range receivers.Content {
		if n := mappingValue(r, "name"); n != nil {
			have[n.Value] = n
		}
	}
	for _, r := range f.Receivers {
		if n, dup := have[r.Name]; dup {
			return nil, fmt.Errorf("%s:%d:%d: receiver %q is already defined: merge each environment's fragment once", name, n.Line, n.Column, r.Name)
		}
		var n yaml.Node
		if err := n.Encode(r); err != nil {
			return nil, fmt.Errorf("encode receiver: %w", err)
		}
		receivers.Content = append(receivers.Content, &n)
	}
	receivers.Kind, receivers.Tag, receivers.Value = yaml.SequenceNode, "!!seq", ""
	var b bytes.Buffer
	if err := encode(&b, &doc); err != nil {
		return nil, fmt.Errorf("encode alertmanager configuration: %w", err)
	}
	return b.Bytes(), nil
}

// mappingValue returns the value of key in mapping node n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
