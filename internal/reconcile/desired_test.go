package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
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
	desired, diags, err := Desired(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	require.Empty(t, diags)
	require.Len(t, desired, 2)

	add := desired[0]
	assert.Equal(t, "Traffic Anomaly with AddToCartEvent", add.Name)
	assert.Equal(t, "avg(last_4h):anomalies(sum:esm.events.received{event_type:AddToCartEvent,env:prod}.as_count(), 'agile', 3, direction='below', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", add.Query)
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
	desired, diags, err := Desired(context.Background(), cfg, "staging", []string{dir})
	require.NoError(t, err)
	require.Empty(t, diags)
	// The protocol's deviations (3) override the file's (5); the file's
	// algorithm and the environment's window apply.
	assert.Equal(t, "avg(last_4h):anomalies(sum:shop.events{event_type:AddToCartEvent,env:staging}.as_count(), 'robust', 3, direction='below', alert_window='last_30m', interval=60, count_default_zero='true', seasonality='weekly') >= 1", desired[0].Query)
	_, _, err = Desired(context.Background(), cfg, "prod", []string{dir})
	assert.EqualError(t, err, `unknown environment "prod": configured environments are staging`)
}

func TestDesiredErrors(t *testing.T) {
	dir := writeSchemas(t, map[string]string{
		"bad.avdl": `protocol Bad {
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
		"a/dup.avdl": `@namespace("a") protocol P1 { @traffic_anomaly_monitor({}) record Same { string x; } }`,
		"b/dup.avdl": `@namespace("b") protocol P2 { @traffic_anomaly_monitor({}) record Same { string x; } }`,
	})
	_, diags, err := Desired(context.Background(), config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	got := diags.Error()
	for _, want := range []string{
		"bad.avdl:2:3: deviations must be greater than 0 and at most 10, not -1",
		"bad.avdl:5:3: unknown monitor annotation @traffic_anomoly_monitor; known: @traffic_anomaly_monitor",
		"bad.avdl:8:3: @alert_channel belongs on a record; E is an enum",
		"bad.avdl:11:14: @traffic_anomaly_monitor belongs on the record C, not on its field id",
		`bad.avdl:13:3: seasonality "weekly" cannot be used with the basic algorithm`,
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
		desired, diags, err := Desired(ctx, config.Default(), "prod", []string{dir})
		require.NoError(t, err)
		require.Empty(t, diags)
		p, err := Plan(ctx, store, "prod", desired)
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
	desired, diags, err := Desired(context.Background(), config.Default(), "prod", []string{filepath.Join("..", "..", "schemas")})
	require.NoError(t, err)
	require.Empty(t, diags.Errors(), diags.Error())
	require.NotEmpty(t, desired)
	for _, d := range desired {
		t.Logf("%s (%s:%d)", d.Name, d.Source.File, d.Source.Line)
		assert.Contains(t, d.Query, "esm.events.received{event_type:")
	}
}

// TestDesiredNamesFilesFromTheRepositoryRoot: however esm plan is pointed
// at the schemas, monitors name their file as the bot does, relative to
// the repository, so the two never disagree about a monitor.
func TestDesiredNamesFilesFromTheRepositoryRoot(t *testing.T) {
	repo := writeSchemas(t, map[string]string{"schemas/cart.avdl": cart})
	require.NoError(t, os.Mkdir(filepath.Join(repo, ".git"), 0o755))
	for _, p := range []string{filepath.Join(repo, "schemas"), filepath.Join(repo, "schemas", "cart.avdl")} {
		desired, diags, err := Desired(context.Background(), config.Default(), "prod", []string{p})
		require.NoError(t, err)
		require.Empty(t, diags)
		require.NotEmpty(t, desired)
		assert.Equal(t, "schemas/cart.avdl", desired[0].Source.File)
		assert.Contains(t, desired[0].Tags, "esm_file:schemas/cart.avdl")
		assert.Contains(t, desired[0].Message, "in schemas/cart.avdl")
	}
}
