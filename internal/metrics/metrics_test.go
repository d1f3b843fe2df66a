package metrics

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
)

// udpSink listens for DogStatsD packets on 127.0.0.1.
func udpSink(t testing.TB) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readLines reads DogStatsD lines until want lines arrived or a second
// passed without a packet.
func readLines(t *testing.T, conn *net.UDPConn, want int) []string {
	t.Helper()
	var lines []string
	buf := make([]byte, 65536)
	for len(lines) < want {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := conn.Read(buf)
		require.NoError(t, err, "got %q", lines)
		for _, l := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// scrape fetches /metrics and parses it.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}

// value returns the counter of fam with exactly labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	fam := fams[name]
	if fam == nil {
		return -1
	}
next:
	for _, m := range fam.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

func TestPrometheusAndDogStatsD(t *testing.T) {
	sink := udpSink(t)
	m, err := New(Options{Env: "prod", StatsdAddr: sink.LocalAddr().String()})
	require.NoError(t, err)
	defer m.Close()

	add := m.EventCounter("AddToCartEvent")
	unknown := m.EventCounter("unknown")
	add.Received(3)
	add.Received(2)
	add.Rejected(ReasonSchema, 1)
	unknown.Rejected(ReasonUnknownType, 4)
	m.SchemaReload(nil, 7)

	fams := scrape(t, m.Handler())
	assert.Equal(t, 5.0, value(fams, ReceivedName, map[string]string{"event_type": "AddToCartEvent", "env": "prod"}))
	assert.Equal(t, 1.0, value(fams, RejectedName, map[string]string{"event_type": "AddToCartEvent", "reason": "schema"}))
	assert.Equal(t, 4.0, value(fams, RejectedName, map[string]string{"event_type": "unknown", "reason": "unknown_type"}))
	assert.Equal(t, 0.0, value(fams, RejectedName, map[string]string{"event_type": "AddToCartEvent", "reason": "too_large"}),
		"every reason is pre-resolved")
	require.Contains(t, fams, "esm_schema_reload_errors_total")
	assert.Equal(t, 7.0, fams["esm_schema_types"].Metric[0].GetGauge().GetValue())
	assert.Positive(t, fams["esm_schema_last_reload_success_timestamp_seconds"].Metric[0].GetGauge().GetValue())

	require.NoError(t, m.Flush())
	lines := readLines(t, sink, 3)
	assert.Equal(t, []string{
		"esm.events.received:5|c|#event_type:AddToCartEvent,env:prod",
		"esm.events.rejected:1|c|#event_type:AddToCartEvent,reason:schema,env:prod",
		"esm.events.rejected:4|c|#event_type:unknown,reason:unknown_type,env:prod",
	}, lines)
}

func TestCloseFlushes(t *testing.T) {
	sink := udpSink(t)
	m, err := New(Options{Env: "staging", StatsdReceived: "custom.received", StatsdAddr: sink.LocalAddr().String(), StatsdFlush: time.Hour})
	require.NoError(t, err)
	m.EventCounter("SearchPerformed").Received(9)
	require.NoError(t, m.Close())
	assert.Equal(t, []string{"custom.received:9|c|#event_type:SearchPerformed,env:staging"}, readLines(t, sink, 1))
}

func TestWithoutDogStatsD(t *testing.T) {
	m, err := New(Options{Env: "prod"})
	require.NoError(t, err)
	m.EventCounter("X").Received(1)
	m.SchemaReload(assert.AnError, 0)
	require.NoError(t, m.Flush())
	require.NoError(t, m.Close())
	fams := scrape(t, m.Handler())
	assert.Equal(t, 1.0, value(fams, "esm_schema_reload_errors_total", nil))

	_, err = New(Options{})
	require.Error(t, err)
}

func TestDefaultStatsdAddr(t *testing.T) {
	t.Setenv("DD_AGENT_HOST", "")
	t.Setenv("DD_DOGSTATSD_PORT", "")
	assert.Equal(t, "127.0.0.1:8125", DefaultStatsdAddr())
	t.Setenv("DD_AGENT_HOST", "agent")
	t.Setenv("DD_DOGSTATSD_PORT", "9125")
	assert.Equal(t, "agent:9125", DefaultStatsdAddr())
}

// TestCounterMatchesMonitorQuery builds a traffic anomaly monitor with the
// annotations package, as plan/apply does, and checks that the metric and
// the tags the collector sends are the ones its query reads.
func TestCounterMatchesMonitorQuery(t *testing.T) {
	cfg := config.Default()
	env, err := cfg.Env("prod")
	require.NoError(t, err)
	mon, err := annotations.TrafficAnomaly().Build(annotations.Target{
		Record: "AddToCartEvent", FullName: "com.example.shop.AddToCartEvent", File: "schemas/cart.avdl",
		Env: annotations.Environment{Name: "prod", Metric: env.Metric, EnvTag: env.EnvTag},
	}, nil)
	require.NoError(t, err)

	sink := udpSink(t)
	m, err := New(Options{Env: env.EnvTag, StatsdReceived: env.Metric, StatsdAddr: sink.LocalAddr().String()})
	require.NoError(t, err)
	defer m.Close()
	m.EventCounter("AddToCartEvent").Received(1)
	require.NoError(t, m.Flush())
	line := readLines(t, sink, 1)[0]

	// esm.events.received:1|c|#event_type:AddToCartEvent,env:prod
	name, rest, ok := strings.Cut(line, ":")
	require.True(t, ok)
	_, tags, ok := strings.Cut(rest, "|#")
	require.True(t, ok)
	assert.Equal(t, DefaultStatsdReceived, name)
	assert.Contains(t, mon.Query, "sum:"+name+"{"+tags+"}.as_count()", "query %s", mon.Query)

	// The Prometheus labels carry the same keys and values.
	fams := scrape(t, m.Handler())
	assert.Equal(t, 1.0, value(fams, ReceivedName, map[string]string{"event_type": "AddToCartEvent", "env": "prod"}))
	for _, tag := range strings.Split(tags, ",") {
		k, v, _ := strings.Cut(tag, ":")
		assert.Contains(t, mon.Query, k+":"+v)
	}
}

// BenchmarkCountingPath counts events with Prometheus and DogStatsD (to
// a UDP socket on 127.0.0.1), as the collector does per event: no
// allocation.
func BenchmarkCountingPath(b *testing.B) {
	sink := udpSink(b)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	m, err := New(Options{Env: "prod", StatsdAddr: sink.LocalAddr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	c := m.EventCounter("AddToCartEvent")
	b.ReportAllocs()
	for b.Loop() {
		c.Received(1)
		c.Rejected(ReasonSchema, 1)
	}
}
