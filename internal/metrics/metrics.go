// Package metrics holds the collector's counters: a Prometheus registry
// served on /metrics and a DogStatsD client, both counting
// esm_events_received_total / esm.events.received and
// esm_events_rejected_total / esm.events.rejected per event type; and the
// gauges of the query monitors' results (Queries).
//
// Every counter is resolved once per event type (EventCounter), when the
// collector compiles its schemas, with its DogStatsD tags precomputed:
// counting an event adds to a Prometheus counter and to DogStatsD's
// client-side aggregation without allocating. No tag ever carries a
// value of an event.
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names.
const (
	// ReceivedName is the Prometheus counter of accepted events.
	ReceivedName = "esm_events_received_total"
	// RejectedName is the Prometheus counter of rejected events.
	RejectedName = "esm_events_rejected_total"
	// DefaultStatsdReceived is the DogStatsD count of accepted events, the
	// metric the traffic anomaly monitors query.
	DefaultStatsdReceived = "esm.events.received"
	// StatsdRejected is the DogStatsD count of rejected events.
	StatsdRejected = "esm.events.rejected"
)

// The rejection reasons, in label order; any other reason is counted as
// ReasonSchema.
const (
	ReasonMalformed   = "malformed"
	ReasonSchema      = "schema"
	ReasonUnknownType = "unknown_type"
	ReasonTooLarge    = "too_large"
)

var reasons = [...]string{ReasonMalformed, ReasonSchema, ReasonUnknownType, ReasonTooLarge}

// reasonIndex maps a reason to its place in reasons.
func reasonIndex(r string) int {
	switch r {
	case ReasonMalformed:
		return 0
	case ReasonUnknownType:
		return 2
	case ReasonTooLarge:
		return 3
	}
	return 1
}

// DefaultStatsdAddr returns the DogStatsD agent address from DD_AGENT_HOST
// and DD_DOGSTATSD_PORT, 127.0.0.1:8125 by default.
func DefaultStatsdAddr() string {
	host, port := os.Getenv("DD_AGENT_HOST"), os.Getenv("DD_DOGSTATSD_PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "8125"
	}
	return net.JoinHostPort(host, port)
}

// Options configure Metrics.
type Options struct {
	// Env is the value of the env label and tag, e.g. "prod".
	Env string
	// StatsdReceived is the DogStatsD name of the accepted count; ""
	// means DefaultStatsdReceived. It must be the metric the monitors
	// query.
	StatsdReceived string
	// StatsdQueryValue is the DogStatsD name of the query monitors'
	// gauge; "" means StatsdQueryValue (esm.query.value). It must be the
	// metric the monitors on query results query.
	StatsdQueryValue string
	// StatsdAddr is the DogStatsD agent, host:port; "" disables DogStatsD.
	StatsdAddr string
	// StatsdFlush is the aggregation and flush interval (default 2s, as
	// datadog-go's).
	StatsdFlush time.Duration
}

// Metrics is the collector's Prometheus registry and DogStatsD client.
type Metrics struct {
	env          string
	received     string
	reg          *prometheus.Registry
	receivedVec  *prometheus.CounterVec
	rejectedVec  *prometheus.CounterVec
	reloadErrors prometheus.Counter
	lastReload   prometheus.Gauge
	schemaTypes  prometheus.Gauge
	statsd       *statsd.Client // nil when disabled
	queries      *Queries
}

// New returns the metrics, with a DogStatsD client when opts.StatsdAddr
// is set.
func New(opts Options) (*Metrics, error) {
	if opts.Env == "" {
		return nil, errors.New("metrics: env is required")
	}
	m := &Metrics{env: opts.Env, received: opts.StatsdReceived, reg: prometheus.NewRegistry()}
	if m.received == "" {
		m.received = DefaultStatsdReceived
	}
	m.receivedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ReceivedName,
		Help: "Events accepted, by event type (the record's simple name) and environment.",
	}, []string{"event_type", "env"})
	m.rejectedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RejectedName,
		Help: "Events rejected, by event type (\"unknown\" for unknown types) and reason: malformed, schema, unknown_type or too_large.",
	}, []string{"event_type", "reason"})
	m.reloadErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "esm_schema_reload_errors_total",
		Help: "Schema loads that failed; the last good schemas stay in use.",
	})
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "esm_schema_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful schema load.",
	})
	m.schemaTypes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "esm_schema_types",
		Help: "Record types in use.",
	})
	m.reg.MustRegister(m.receivedVec, m.rejectedVec, m.reloadErrors, m.lastReload, m.schemaTypes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.StatsdAddr != "" {
		flush := opts.StatsdFlush
		if flush <= 0 {
			flush = 2 * time.Second
		}
		c, err := statsd.New(opts.StatsdAddr,
			statsd.WithClientSideAggregation(),
			statsd.WithAggregationInterval(flush),
			statsd.WithBufferFlushInterval(flush),
			statsd.WithoutTelemetry(),
			statsd.WithoutOriginDetection(),
		)
		if err != nil {
			return nil, fmt.Errorf("dogstatsd client for %s: %w", opts.StatsdAddr, err)
		}
		m.statsd = c
	}
	m.queries = newQueries(m.statsd, opts.Env, opts.StatsdQueryValue)
	m.reg.MustRegister(m.queries)
	return m, nil
}

// Registry returns the Prometheus registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// EventCounter counts the events of one type; every handle and tag list
// is resolved when it is made.
type EventCounter struct {
	received     prometheus.Counter
	rejected     [len(reasons)]prometheus.Counter
	statsd       *statsd.Client
	receivedName string
	receivedTags []string
	rejectedTags [len(reasons)][]string
}

// EventCounter returns the counters of eventType, a record's simple name
// or "unknown". The Prometheus labels keep the name as declared; the
// DogStatsD tags carry it in the form in which Datadog stores tags
// ("Tags are converted to lowercase") and in which the monitors' queries
// filter on them (event_type:addtocartevent).
func (m *Metrics) EventCounter(eventType string) *EventCounter {
	tagType, tagEnv := "event_type:"+storedTagValue(eventType), "env:"+storedTagValue(m.env)
	c := &EventCounter{
		received:     m.receivedVec.WithLabelValues(eventType, m.env),
		statsd:       m.statsd,
		receivedName: m.received,
		receivedTags: []string{tagType, tagEnv},
	}
	for i, r := range reasons {
		c.rejected[i] = m.rejectedVec.WithLabelValues(eventType, r)
		c.rejectedTags[i] = []string{tagType, "reason:" + r, tagEnv}
	}
	return c
}

// storedTagValue returns a record name or an env tag (letters, digits and
// _ - : . / only, as schemas and esm.yaml allow) the way Datadog stores a
// tag value: lowercase, runs of underscores as one, no trailing
// underscore. It is what annotations.DatadogTag does to such values;
// metrics imports no other package of esm.
func storedTagValue(v string) string {
	v = strings.ToLower(v)
	for strings.Contains(v, "__") {
		v = strings.ReplaceAll(v, "__", "_")
	}
	return strings.TrimRight(v, "_")
}

// Received counts n accepted events.
func (c *EventCounter) Received(n int) {
	c.received.Add(float64(n))
	if c.statsd != nil {
		_ = c.statsd.Count(c.receivedName, int64(n), c.receivedTags, 1)
	}
}

// Rejected counts n events rejected for reason.
func (c *EventCounter) Rejected(reason string, n int) {
	i := reasonIndex(reason)
	c.rejected[i].Add(float64(n))
	if c.statsd != nil {
		_ = c.statsd.Count(StatsdRejected, int64(n), c.rejectedTags[i], 1)
	}
}

// SchemaReload records a schema load: err is nil on success; types is
// the number of record types in use afterwards.
func (m *Metrics) SchemaReload(err error, types int) {
	if err != nil {
		m.reloadErrors.Inc()
	} else {
		m.lastReload.SetToCurrentTime()
	}
	m.schemaTypes.Set(float64(types))
}

// Flush sends DogStatsD's aggregated counts now.
func (m *Metrics) Flush() error {
	if m.statsd == nil {
		return nil
	}
	if err := m.statsd.Flush(); err != nil {
		return fmt.Errorf("flush dogstatsd: %w", err)
	}
	return nil
}

// Close flushes and closes the DogStatsD client. Counting after Close is
// a programming error: the server closes it after its last request.
func (m *Metrics) Close() error {
	if m.statsd == nil {
		return nil
	}
	if err := m.statsd.Close(); err != nil {
		return fmt.Errorf("close dogstatsd: %w", err)
	}
	return nil
}
