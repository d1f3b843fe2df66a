package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/monitor"
)

func writeSchemas(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	return dir
}

const cart = `@namespace("com.example.shop")
@alert_channel("team-cart")
@traffic_anomaly_monitor({"deviations": 3})
protocol Cart {
  /** A shopper added an item to the cart. */
  @traffic_anomaly_monitor({"direction": "below"})
  record AddToCartEvent {
    string cart_id;
    int quantity = 1;
  }

  @alert_channel({"critical": "pagerduty-cart"})
  @traffic_anomaly_monitor({})
  record RemoveFromCartEvent { string cart_id; }

  record LineItem { string sku; }
}
`

func TestDesired(t *testing.T) {
	dir := writeSchemas(t, map[string]string{"cart.avdl": cart})
	desired, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	require.Empty(t, diags)
	require.Len(t, desired, 2)

	add := desired[0]
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", add.Name)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count(), 'agile', 3, direction='below', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", add.Query)
	assert.Contains(t, add.Tags, "esm-prod")
	assert.Contains(t, add.Tags, "esm_record:com.example.shop.addtocartevent")
	assert.Contains(t, add.Tags, "esm_file:"+strings.ToLower(filepath.Join(dir, "cart.avdl")))
	assert.Contains(t, add.Message, "@slack-team-cart")
	assert.Contains(t, add.Message, "A shopper added an item to the cart.")
	assert.Equal(t, "com.example.shop.AddToCartEvent", add.Source.Record)
	assert.Equal(t, 6, add.Source.Line)

	remove := desired[1]
	assert.Contains(t, remove.Query, "'agile', 3, direction='both'")
	assert.Contains(t, remove.Message, "{{#is_alert}}@pagerduty-cart{{/is_alert}}")
	assert.NotContains(t, remove.Message, "@slack-team-cart")
}

func TestDesiredEnvironmentLayers(t *testing.T) {
	dir := writeSchemas(t, map[string]string{"cart.avdl": cart})
	cfg, err := config.Parse("esm.yaml", []byte(`
defaults:
  traffic_anomaly_monitor: {algorithm: robust, deviations: 5}
environments:
  staging:
    metric: shop.events
    defaults:
      traffic_anomaly_monitor: {alert_window: last_30m}
`))
	require.NoError(t, err)
	desired, diags, err := desiredIn(context.Background(), cfg, "staging", []string{dir})
	require.NoError(t, err)
	require.Empty(t, diags)
	// The protocol's deviations (3) override the file's (5); the file's
	// algorithm and the environment's window apply.
	assert.Equal(t, "avg(last_4h):anomalies(sum:shop.events{event_type:addtocartevent,env:staging}.as_count(), 'robust', 3, direction='below', alert_window='last_30m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", desired[0].Query)
	_, _, err = desiredIn(context.Background(), cfg, "prod", []string{dir})
	assert.EqualError(t, err, `unknown environment "prod": configured environments are staging`)
}

func TestDesiredErrors(t *testing.T) {
	dir := writeSchemas(t, map[string]string{
		"bad.avdl": `@alert_channel("t") protocol Bad {
  @traffic_anomaly_monitor({"deviations": -1})
  record A { string id; }

  @traffic_anomoly_monitor({})
  record B { string id; }

  @alert_channel("x")
  enum E { X }

  record C { @traffic_anomaly_monitor({}) string id; }

  @traffic_anomaly_monitor({"seasonality": "weekly", "algorithm": "basic"})
  @alert_channel(42)
  record D { string id; }
}
`,
		"a/dup.avdl": `@namespace("a") protocol P1 { @traffic_anomaly_monitor({}) @alert_channel("t") record Same { string x; } }`,
		"b/dup.avdl": `@namespace("b") protocol P2 { @traffic_anomaly_monitor({}) @alert_channel("t") record Same { string x; } }`,
	})
	_, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	got := diags.Error()
	for _, want := range []string{
		"bad.avdl:2:43: deviations must be greater than 0 and at most 10, not -1",
		"bad.avdl:5:3: unknown annotation @traffic_anomoly_monitor: did you mean @traffic_anomaly_monitor?",
		"bad.avdl:8:3: @alert_channel belongs on a record; E is an enum",
		"bad.avdl:11:14: @traffic_anomaly_monitor belongs on the record C, not on its field id",
		`bad.avdl:13:44: seasonality "weekly" cannot be used with the basic algorithm`,
		"bad.avdl:14:3: @alert_channel: the value must be a string or an array of strings",
		`b/dup.avdl:1:31: monitor "Traffic Anomaly with Same" of b.Same has the same name as the monitor of a.Same`,
	} {
		assert.Contains(t, got, want)
	}
	assert.Len(t, diags, 7, got)
}

// memStore is a minimal in-memory monitor.Store for plan tests.
type memStore struct {
	mu     sync.Mutex
	next   int64
	byID   map[int64]monitor.Monitor
	writes int
}

func (s *memStore) List(_ context.Context, tag string) ([]monitor.Monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []monitor.Monitor
	for _, m := range s.byID {
		if monitor.HasTag(m.Tags, tag) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *memStore) Create(_ context.Context, m *monitor.Monitor) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[int64]monitor.Monitor{}
	}
	s.next++
	c := *m
	c.ID = s.next
	s.byID[c.ID] = c
	s.writes++
	return c.ID, nil
}

func (s *memStore) Update(_ context.Context, id int64, m *monitor.Monitor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *m
	c.ID = id
	s.byID[id] = c
	s.writes++
	return nil
}

func (s *memStore) Delete(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
	s.writes++
	return nil
}

func TestPlanApplyRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := writeSchemas(t, map[string]string{"cart.avdl": cart})
	store := &memStore{}
	// An unmanaged monitor with a managed name is never touched.
	_, _ = store.Create(ctx, &monitor.Monitor{})
	store.byID[1] = monitor.Monitor{ID: 1}
	store.byID[1] = func() monitor.Monitor { m := store.byID[1]; m.Name = "Traffic Anomaly with AddToCartEvent"; return m }()

	plan := func() *monitor.Plan {
		desired, diags, err := desiredIn(ctx, config.Default(), "prod", []string{dir})
		require.NoError(t, err)
		require.False(t, diags.HasErrors(), diags.Error()) // a record that loses its monitor keeps a channel: a warning
		p, err := planAgainst(ctx, store, "prod", desired)
		require.NoError(t, err)
		return p
	}
	p := plan()
	assert.Equal(t, monitor.Summary{Create: 2}, p.Summary())
	results, err := monitor.Apply(ctx, store, p, monitor.ApplyOptions{})
	require.NoError(t, err)
	for _, r := range results {
		require.NoError(t, r.Err)
	}
	assert.Equal(t, monitor.Summary{Unchanged: 2}, plan().Summary(), "a second plan must be empty")

	// Removing an annotation deletes its monitor, and only it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cart.avdl"), []byte(strings.Replace(cart, "@traffic_anomaly_monitor({})\n", "", 1)), 0o644))
	p = plan()
	assert.Equal(t, monitor.Summary{Delete: 1, Unchanged: 1}, p.Summary())
	_, err = monitor.Apply(ctx, store, p, monitor.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", store.byID[1].Name, "the unmanaged monitor survives")
	assert.Len(t, store.byID, 2)
}

// TestExampleSchemas keeps the repository's example schemas valid and
// monitored: they are what a newcomer runs first.
func TestExampleSchemas(t *testing.T) {
	desired, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{filepath.Join("..", "..", "schemas")})
	require.NoError(t, err)
	require.Empty(t, diags.Errors(), diags.Error())
	require.NotEmpty(t, desired)
	for _, d := range desired {
		t.Logf("%s (%s:%d)", d.Name, d.Source.File, d.Source.Line)
		// Every kind's query is about the record's events: a metric
		// query filters on the tag, a log monitor's searches for it.
		assert.Contains(t, d.Query, "event_type:")
	}
}

// TestDesiredNamesFilesFromTheRepositoryRoot: however esm plan is pointed
// at the schemas, monitors name their file as the bot does, relative to
// the repository, so the two never disagree about a monitor.
func TestDesiredNamesFilesFromTheRepositoryRoot(t *testing.T) {
	repo := writeSchemas(t, map[string]string{"schemas/cart.avdl": cart})
	require.NoError(t, os.Mkdir(filepath.Join(repo, ".git"), 0o755))
	for _, p := range []string{filepath.Join(repo, "schemas"), filepath.Join(repo, "schemas", "cart.avdl")} {
		desired, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{p})
		require.NoError(t, err)
		require.Empty(t, diags)
		require.NotEmpty(t, desired)
		assert.Equal(t, "schemas/cart.avdl", desired[0].Source.File)
		assert.Contains(t, desired[0].Tags, "esm_file:schemas/cart.avdl")
		assert.Contains(t, desired[0].Message, "in schemas/cart.avdl")
	}
}

// TestDesiredValidatesAnnotationValues: every value an annotation sets is
// checked against what Datadog accepts before it reaches a query or a
// tag, and reported at the value.
func TestDesiredValidatesAnnotationValues(t *testing.T) {
	dir := writeSchemas(t, map[string]string{"v.avdl": `@alert_channel("t") protocol V {
  @traffic_anomaly_monitor({"deviations": 1e400})
  record A { string id; }
  @traffic_anomaly_monitor({"alert_window": "last_3w"})
  record B { string id; }
  @traffic_anomaly_monitor({"query_window": "last_10w"})
  record C { string id; }
  @traffic_anomaly_monitor({"escalation_message": "still down"})
  record D { string id; }
  @traffic_anomaly_monitor({"tags": ["team:x", "esm_record:other", "managed_by:esm", "ESM-prod"]})
  record E { string id; }
  @traffic_anomaly_monitor({"deviations": NaN, "interval": 1e400})
  record F { string id; }
}
`})
	_, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	got := diags.Error()
	wants := []string{
		"v.avdl:2:43: @traffic_anomaly_monitor: deviations: the number is out of range",
		"v.avdl:4:45: alert_window last_3w is longer than Datadog accepts for an anomaly monitor (at most 24 hours)",
		"v.avdl:6:45: query_window last_10w is longer than Datadog accepts for an anomaly monitor (at most 30 days)",
		"v.avdl:8:51: escalation_message needs renotify_interval",
		`v.avdl:10:48: tag "esm_record:other" is reserved`,
		`v.avdl:10:68: tag "managed_by:esm" is reserved`,
		`v.avdl:10:86: tag "ESM-prod" is reserved`,
		"v.avdl:12:43: @traffic_anomaly_monitor: deviations: NaN is not a number",
		"v.avdl:12:60: @traffic_anomaly_monitor: interval: the number is out of range",
	}
	for _, want := range wants {
		assert.Contains(t, got, want)
	}
	assert.Len(t, diags, len(wants), got)
	assert.NotContains(t, got, "not string", "an overflowing number is not reported as a string")
}

// TestDesiredReportsAProtocolProblemOnce: the protocol's annotation is a
// layer of every record's monitor; its problem is one diagnostic.
func TestDesiredReportsAProtocolProblemOnce(t *testing.T) {
	dir := writeSchemas(t, map[string]string{"p.avdl": `@traffic_anomaly_monitor({"deviations": 1e400, "priority": 9})
protocol P {
  @traffic_anomaly_monitor({})
  record A { string id; }
  @traffic_anomaly_monitor({})
  record B { string id; }
}
`})
	_, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	require.Len(t, diags, 2, diags.Error())
	assert.Contains(t, diags[0].Error(), "p.avdl:1:41: @traffic_anomaly_monitor on protocol P: deviations: the number is out of range")
	assert.Contains(t, diags[1].Error(), "p.avdl:1:60: priority must be 1 (highest) to 5, not 9")
}

// useDatadog returns a store on a fake of Datadog's API that stores
// monitors as Datadog does.
func useDatadog(t *testing.T) (*datadog.Store, *ddtest.Server) {
	t.Helper()
	dd := ddtest.NewServer(t)
	store, err := datadog.New(datadog.Config{APIKey: "api", AppKey: "app", URL: dd.URL, RetryWait: time.Millisecond})
	require.NoError(t, err)
	return store, dd
}

func applyPlan(t *testing.T, store monitor.Store, p *monitor.Plan) {
	t.Helper()
	results, err := monitor.Apply(context.Background(), store, p, monitor.ApplyOptions{})
	require.NoError(t, err)
	for _, r := range results {
		require.NoError(t, r.Err)
	}
}

// TestDerivedTagsSettleOnDatadog: the tags esm derives (the schema file
// with spaces and upper case, the record's full name, the environment's
// env_tag and tags) are produced in the form Datadog stores them, so that
// after an apply the plan has nothing left to do.
func TestDerivedTagsSettleOnDatadog(t *testing.T) {
	ctx := context.Background()
	repo := writeSchemas(t, map[string]string{"Team Schemas/Cart Events.avdl": `@namespace("com.Example.Shop") @alert_channel("team-cart")
protocol Cart {
  @traffic_anomaly_monitor({"tags": ["Tier:1", "owner:cart__team_"]})
  record AddToCartEvent { string id; }
  @traffic_anomaly_monitor({})
  record Legacy__Event_ { string id; }
}
`})
	require.NoError(t, os.Mkdir(filepath.Join(repo, ".git"), 0o755))
	cfg, err := config.Parse("esm.yaml", []byte("environments:\n  prod:\n    env_tag: Prod-EU\n    tags: [\"Team:Cart\"]\n"))
	require.NoError(t, err)
	store, dd := useDatadog(t)
	plan := func() *monitor.Plan {
		desired, diags, err := desiredIn(ctx, cfg, "prod", []string{filepath.Join(repo, "Team Schemas")})
		require.NoError(t, err)
		require.Empty(t, diags, diags.Error())
		p, err := planAgainst(ctx, store, "prod", desired)
		require.NoError(t, err)
		return p
	}
	p := plan()
	require.Equal(t, monitor.Summary{Create: 2}, p.Summary())
	applyPlan(t, store, p)

	stored := map[string]ddtest.Monitor{}
	for _, m := range dd.Monitors() {
		stored[m.Name] = m
	}
	require.Len(t, stored, 2)
	legacy := stored["Traffic Anomaly with Legacy__Event_"]
	assert.Contains(t, legacy.Tags, "esm_file:team_schemas/cart_events.avdl")
	assert.Contains(t, legacy.Tags, "esm_record:com.example.shop.legacy_event")
	assert.Contains(t, legacy.Query, "{event_type:legacy_event,env:prod-eu}")
	assert.Contains(t, stored["Traffic Anomaly with AddToCartEvent"].Tags, "owner:cart_team")

	again := plan()
	for _, c := range again.Changes {
		assert.Equal(t, monitor.Unchanged, c.Action, "%s: %+v", c.Name, c.Diff)
	}
	assert.Equal(t, monitor.Summary{Unchanged: 2}, again.Summary())
}

// TestPlanUpdatesOldQueryForm: a monitor made before the queries filtered
// on the lowercase tag value (event_type:AddToCartEvent, which matches no
// series Datadog stores) is an ordinary update of its query, and then
// settles.
func TestPlanUpdatesOldQueryForm(t *testing.T) {
	ctx := context.Background()
	dir := writeSchemas(t, map[string]string{"cart.avdl": cart})
	store, _ := useDatadog(t)
	desired, diags, err := desiredIn(ctx, config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	require.Empty(t, diags)
	for _, d := range desired {
		old := monitor.Monitor{Definition: d.Definition}
		record := strings.TrimPrefix(d.Name, "Traffic Anomaly with ")
		old.Query = strings.Replace(d.Query, "event_type:"+strings.ToLower(record), "event_type:"+record, 1)
		old.Message = strings.Replace(d.Message, "{event_type:"+strings.ToLower(record)+"}", "{event_type:"+record+"}", 1)
		require.NotEqual(t, d.Query, old.Query)
		_, err := store.Create(ctx, &old)
		require.NoError(t, err)
	}

	p, err := planAgainst(ctx, store, "prod", desired)
	require.NoError(t, err)
	require.Equal(t, monitor.Summary{Update: 2}, p.Summary())
	for _, c := range p.Changes {
		var fields []string
		for _, f := range c.Diff {
			fields = append(fields, f.Field)
		}
		require.Equal(t, []string{"query", "message"}, fields, c.Name)
		record := strings.TrimPrefix(c.Name, "Traffic Anomaly with ")
		assert.Contains(t, c.Diff[0].Old, "{event_type:"+record+",env:prod}")
		assert.Contains(t, c.Diff[0].New, "{event_type:"+strings.ToLower(record)+",env:prod}")
	}
	applyPlan(t, store, p)
	p, err = planAgainst(ctx, store, "prod", desired)
	require.NoError(t, err)
	assert.Equal(t, monitor.Summary{Unchanged: 2}, p.Summary())
}

// TestDesiredWarnsOfARepeatedAnnotation: the same esm annotation twice on
// a record keeps the last value, as Avro does, with a warning naming
// both; the same other annotation twice is Avro's business, not esm's.
func TestDesiredWarnsOfARepeatedAnnotation(t *testing.T) {
	dir := writeSchemas(t, map[string]string{"r.avdl": `@alert_channel("t") protocol R {
  @traffic_anomaly_monitor({"deviations": 2}) @owner("a")
  @traffic_anomaly_monitor({"deviations": 4}) @owner("b")
  record A { string id; }
}
`})
	desired, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, diags, 1, diags.Error())
	assert.Equal(t, diag.Warning, diags[0].Severity)
	assert.Regexp(t, `r\.avdl:3:3: warning: @traffic_anomaly_monitor is given twice on A: this one wins, the one at .*r\.avdl:2:3 is ignored`, diags.Error())
	require.Len(t, desired, 1)
	assert.Contains(t, desired[0].Query, ", 4,", "the last deviations, 4, is the one in the query")
}

// desiredIn returns the monitors the schemas under paths ask for in env,
// rendered for Datadog, as esm plan computes them.
func desiredIn(ctx context.Context, cfg *config.Config, env string, paths []string) ([]monitor.Desired, diag.List, error) {
	specs, diags, err := Specs(ctx, cfg, env, paths, idl.Options{})
	if err != nil {
		return nil, diags, err
	}
	desired, err := Render(env, specs, datadog.Render)
	return desired, diags, err
}

// planAgainst plans desired against the store's monitors of env over the
// whole tree, as Run does.
func planAgainst(ctx context.Context, store monitor.Store, env string, desired []monitor.Desired) (*monitor.Plan, error) {
	current, err := store.List(ctx, monitor.EnvTag(env))
	if err != nil {
		return nil, err
	}
	return monitor.Diff(env, desired, current, monitor.Scope{}), nil
}

// No silent misconfiguration: a misspelt esm annotation is an error with
// a suggestion (on a record or a protocol), a monitor that notifies no one
// is a warning (an error with require_alert_channel), and an
// @alert_channel on a record without a monitor is a warning.
func TestDesiredCatchesSilentMisconfiguration(t *testing.T) {
	src := `@alert_chanels("team-x")
protocol P {
  @alert_chanel("team-a")
  @traffic_anomaly_monitor({})
  record A { string id; }

  @traffic_anomaly_monitors({})
  record B { string id; }

  @alert_channel("team-c")
  record C { string id; }

  @java-class("x") @aliases(["Old"]) @owner("me")
  @alert_channel("team-d") @traffic_anomaly_monitor({})
  record D { string id; }
}
`
	dir := writeSchemas(t, map[string]string{"m.avdl": src})
	_, diags, err := desiredIn(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	var got []string
	for _, d := range diags {
		got = append(got, strings.TrimPrefix(d.Error(), filepath.Join(dir, "m.avdl")+":"))
	}
	assert.Equal(t, []string{
		"1:1: unknown annotation @alert_chanels on protocol P: did you mean @alert_channel?",
		"3:3: unknown annotation @alert_chanel: did you mean @alert_channel?",
		"4:3: warning: the monitors of A notify no one: add @alert_channel to the record or its protocol",
		"7:3: unknown annotation @traffic_anomaly_monitors: did you mean @traffic_anomaly_monitor?",
		"10:3: warning: @alert_channel on C has no effect: the record asks for no monitor",
	}, got)

	cfg, err := config.Parse("esm.yaml", []byte("require_alert_channel: true\n"))
	require.NoError(t, err)
	_, diags, err = desiredIn(context.Background(), cfg, "prod", []string{dir})
	require.NoError(t, err)
	assert.Contains(t, diags.Error(), "m.avdl:4:3: the monitors of A notify no one: add @alert_channel to the record or its protocol (esm.yaml sets require_alert_channel)")
	assert.Len(t, diags.Errors(), 4)
}
