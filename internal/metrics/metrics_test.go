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
	"github.com/esm-dev/esm/internal/datadog"
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
		"esm.events.received:5|c|#event_type:addtocartevent,env:prod",
		"esm.events.rejected:1|c|#event_type:addtocartevent,reason:schema,env:prod",
		"esm.events.rejected:4|c|#event_type:unknown,reason:unknown_type,env:prod",
	}, lines)
}

func TestCloseFlushes(t *testing.T) {
	sink := udpSink(t)
	m, err := New(Options{Env: "staging", StatsdReceived: "custom.received", StatsdAddr: sink.LocalAddr().String(), StatsdFlush: time.Hour})
	require.NoError(t, err)
	m.EventCounter("SearchPerformed").Received(9)
	require.NoError(t, m.Close())
	assert.Equal(t, []string{"custom.received:9|c|#event_type:searchperformed,env:staging"}, readLines(t, sink, 1))
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
// annotations package, as plan/apply does, and checks that the metric the
// collector sends is the one its query reads, and that every tag value it
// sends to DogStatsD is the query's filter value for that key, in the
// form Datadog stores tags (lowercase): a filter event_type:AddToCartEvent
// would match no series. The Prometheus labels keep the declared name.
func TestCounterMatchesMonitorQuery(t *testing.T) {
	for _, tt := range []struct{ record, envTag string }{
		{"AddToCartEvent", "prod"},
		{"checkout_completed", "prod"},
		{"SearchPerformed", "Prod-EU"},
		{"Legacy__Event_", "prod_"},
	} {
		t.Run(tt.record+" "+tt.envTag, func(t *testing.T) {
			cfg, err := config.Parse("esm.yaml", []byte("environments:\n  prod:\n    env_tag: "+tt.envTag+"\n"))
			require.NoError(t, err)
			env, err := cfg.Env("prod")
			require.NoError(t, err)
			spec, err := annotations.TrafficAnomaly().Spec(annotations.Target{
				Record: tt.record, FullName: "com.example.shop." + tt.record, File: "schemas/cart.avdl",
				Env: env.Annotations(),
			}, nil)
			require.NoError(t, err)
			mon, err := datadog.Render(spec)
			require.NoError(t, err)
			// avg(last_4h):anomalies(sum:esm.events.received{event_type:addtocartevent,env:prod}.as_count(), ...
			filters := map[string]string{}
			_, scope, _ := strings.Cut(mon.Query, "{")
			scope, _, _ = strings.Cut(scope, "}")
			for _, f := range strings.Split(scope, ",") {
				k, v, _ := strings.Cut(f, ":")
				filters[k] = v
			}
			require.Len(t, filters, 2, mon.Query)

			sink := udpSink(t)
			m, err := New(Options{Env: env.EnvTag, StatsdReceived: env.Metric, StatsdAddr: sink.LocalAddr().String()})
			require.NoError(t, err)
			defer m.Close()
			m.EventCounter(tt.record).Received(1)
			require.NoError(t, m.Flush())
			line := readLines(t, sink, 1)[0]

			// esm.events.received:1|c|#event_type:addtocartevent,env:prod
			name, rest, ok := strings.Cut(line, ":")
			require.True(t, ok)
			_, tags, ok := strings.Cut(rest, "|#")
			require.True(t, ok)
			assert.Equal(t, DefaultStatsdReceived, name)
			assert.Contains(t, mon.Query, "sum:"+name+"{", "query %s", mon.Query)
			sent := map[string]string{}
			for _, tag := range strings.Split(tags, ",") {
				k, v, _ := strings.Cut(tag, ":")
				sent[k] = v
				assert.Equal(t, annotations.DatadogTag(tag), tag, "DogStatsD tag %q is in the form Datadog stores", tag)
			}
			assert.Equal(t, filters, sent, "the query filters on exactly the tag values the collector sends")
			assert.Equal(t, annotations.DatadogTag("event_type:"+tt.record), "event_type:"+sent["event_type"])

			// The Prometheus labels keep the declared name.
			fams := scrape(t, m.Handler())
			assert.Equal(t, 1.0, value(fams, ReceivedName, map[string]string{"event_type": tt.record, "env": tt.envTag}))
		})
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
