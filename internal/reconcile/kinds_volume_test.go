package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/metrics"
	"github.com/esm-dev/esm/internal/monitor"
)

const catalog = `@namespace("com.example.catalog")
@alert_channel("team-catalog")
protocol Catalog {
  /** A shopper opened a product page. */
  @traffic_anomaly_monitor({})
  @traffic_volume_monitor({"below": 5, "warning": 20})
  @bad_data_monitor({"above": 0.1, "warning": 0.05})
  record ProductViewed { string sku; }
}
`

// TestSeveralKindsOnOneRecord: each kind on a record is a monitor of its
// own, planned, applied to Datadog's API and settled (a second plan has
// nothing to do); dropping a warning or an annotation changes only its
// monitor.
func TestSeveralKindsOnOneRecord(t *testing.T) {
	ctx := context.Background()
	dir := writeSchemas(t, map[string]string{"catalog.avdl": catalog})
	store, _ := useDatadog(t)
	plan := func() *monitor.Plan {
		t.Helper()
		desired, diags, err := desiredIn(ctx, config.Default(), "prod", []string{dir})
		require.NoError(t, err)
		require.Empty(t, diags)
		p, err := planAgainst(ctx, store, "prod", desired)
		require.NoError(t, err)
		return p
	}

	desired, _, err := desiredIn(ctx, config.Default(), "prod", []string{dir})
	require.NoError(t, err)
	byName := map[string]monitor.Desired{}
	for _, d := range desired {
		byName[d.Name] = d
	}
	require.Len(t, byName, 3)
	assert.Contains(t, byName["Traffic Anomaly with ProductViewed"].Query, "anomalies(")
	assert.Equal(t, "sum(last_1h):sum:esm.events.received{event_type:productviewed,env:prod}.as_count() < 5", byName["Traffic Volume with ProductViewed"].Query)
	assert.Equal(t, "sum(last_15m):sum:"+metrics.StatsdRejected+"{event_type:productviewed,env:prod}.as_count() / (sum:esm.events.received{event_type:productviewed,env:prod}.as_count() + sum:"+
		metrics.StatsdRejected+"{event_type:productviewed,env:prod}.as_count()) > 0.1", byName["Bad Data with ProductViewed"].Query, "the collector's rejection counter by default")
	for name, d := range byName {
		assert.Contains(t, d.Message, "@slack-team-catalog", name)
	}

	p := plan()
	assert.Equal(t, monitor.Summary{Create: 3}, p.Summary())
	applyPlan(t, store, p)
	assert.Equal(t, monitor.Summary{Unchanged: 3}, plan().Summary(), "what Datadog stored plans no change")

	write := func(src string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.avdl"), []byte(src), 0o644))
	}
	noWarning := strings.Replace(catalog, `, "warning": 0.05`, "", 1)
	write(noWarning)
	p = plan()
	assert.Equal(t, monitor.Summary{Update: 1, Unchanged: 2}, p.Summary())
	applyPlan(t, store, p)
	assert.Equal(t, monitor.Summary{Unchanged: 3}, plan().Summary(), "a removed warning is removed")

	write(strings.Replace(noWarning, `  @traffic_volume_monitor({"below": 5, "warning": 20})`+"\n", "", 1))
	p = plan()
	assert.Equal(t, monitor.Summary{Delete: 1, Unchanged: 2}, p.Summary())
}
