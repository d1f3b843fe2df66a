package metrics

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
)

// Names of the query monitors' metrics.
const (
	// QueryValueName is the Prometheus gauge of a query's rows: one
	// series per row, labelled query and the label columns.
	QueryValueName = "esm_query_value"
	// QueryDurationName is the duration of a query's latest run.
	QueryDurationName = "esm_query_duration_seconds"
	// QueryFailuresName counts a query's failed runs.
	QueryFailuresName = "esm_query_failures_total"
	// QueryLastSuccessName is when a query's last successful run started.
	QueryLastSuccessName = "esm_query_last_success_timestamp_seconds"
	// StatsdQueryValue is the DogStatsD gauge of a query's rows, tagged
	// query:<name>, the label columns and env.
	StatsdQueryValue = "esm.query.value"
	// DefaultQueryStatsdEvery is how often the DogStatsD gauges are sent
	// again: the Datadog agent keeps a gauge only for the flush interval
	// (10 s) it arrived in, so a daily query's value is repeated to stay
	// a line rather than one point a day.
	DefaultQueryStatsdEvery = 10 * time.Second
	// maxTagLen is the longest Datadog tag, key:value.
	maxTagLen = 200
)

// QueryRow is one series of a query's result.
type QueryRow struct {
	// Labels are the values of the label columns, in the order of
	// QueryResult.Labels.
	Labels []string
	// Value is the series' value.
	Value float64
}

// QueryResult is what is exported of a query's latest result.
type QueryResult struct {
	// Labels are the label columns' names.
	Labels []string
	// Rows are the series: those of the last successful run.
	Rows []QueryRow
	// Duration is how long the latest run took.
	Duration time.Duration
	// LastSuccess is when the last successful run started; zero when the
	// query never succeeded (exported as 0).
	LastSuccess time.Time
	// NewFailure counts one more failure: the latest run failed (a result
	// loaded from the result store is not a new run).
	NewFailure bool
}

// Queries exports the results of the query monitors: on /metrics as
// esm_query_value{query, <label columns>}, esm_query_duration_seconds,
// esm_query_failures_total and esm_query_last_success_timestamp_seconds
// (each by query), and as the DogStatsD gauge esm.query.value. The series
// of a query are replaced by each result: a row that is gone is no longer
// exported. The number of series is bounded by the queries' max_series.
type Queries struct {
	statsd     *statsd.Client // nil when disabled
	statsdName string
	envTag     string

	mu      sync.Mutex
	queries map[string]*exportedQuery
}

// exportedQuery is the exported state of one query.
type exportedQuery struct {
	valueDesc   *prometheus.Desc
	rows        []QueryRow
	tags        [][]string // DogStatsD tags per row
	duration    float64
	failures    float64
	lastSuccess float64
}

var (
	queryDurationDesc = prometheus.NewDesc(QueryDurationName,
		"Duration of the latest run of a query monitor, in seconds.", []string{"query"}, nil)
	queryFailuresDesc = prometheus.NewDesc(QueryFailuresName,
		"Failed runs of a query monitor (errors, timeouts, results that do not fit); the last good value stays exported.", []string{"query"}, nil)
	queryLastSuccessDesc = prometheus.NewDesc(QueryLastSuccessName,
		"Unix time of the start of a query monitor's last successful run; 0 when it never succeeded.", []string{"query"}, nil)
)

const queryValueHelp = "Value of a query monitor's row: one series per row, labelled with the query and its label columns."

// newQueries returns the exporter; the caller registers it.
func newQueries(c *statsd.Client, env, statsdName string) *Queries {
	if statsdName == "" {
		statsdName = StatsdQueryValue
	}
	return &Queries{statsd: c, statsdName: statsdName, envTag: "env:" + storedTagValue(env), queries: map[string]*exportedQuery{}}
}

// Queries returns the exporter of the query monitors' results.
func (m *Metrics) Queries() *Queries { return m.queries }

// Set replaces the exported result of query and sends its gauges to
// DogStatsD at once.
func (q *Queries) Set(query string, r QueryResult) {
	names := append([]string{"query"}, r.Labels...)
	e := &exportedQuery{
		valueDesc:   prometheus.NewDesc(QueryValueName, queryValueHelp, names, nil),
		rows:        make([]QueryRow, len(r.Rows)),
		tags:        make([][]string, len(r.Rows)),
		duration:    r.Duration.Seconds(),
		lastSuccess: unixSeconds(r.LastSuccess),
	}
	for i, row := range r.Rows {
		labels := make([]string, len(row.Labels))
		tags := []string{datadogTag("query", query)}
		for j, v := range row.Labels {
			labels[j] = strings.ToValidUTF8(v, "\uFFFD")
			if j < len(r.Labels) && v != "" { // an empty label is a missing one, as in Prometheus
				tags = append(tags, datadogTag(r.Labels[j], v))
			}
		}
		e.rows[i] = QueryRow{Labels: labels, Value: row.Value}
		e.tags[i] = append(tags, q.envTag)
	}
	q.mu.Lock()
	if prev, ok := q.queries[query]; ok {
		e.failures = prev.failures
	}
	if r.NewFailure {
		e.failures++
	}
	q.queries[query] = e
	q.mu.Unlock()
	q.sendOne(e)
}

// Delete stops exporting query: a query removed from the query files, or
// changed so that its earlier series no longer apply.
func (q *Queries) Delete(query string) {
	q.mu.Lock()
	delete(q.queries, query)
	q.mu.Unlock()
}

// unixSeconds returns t as Unix seconds; 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Describe sends nothing: the label columns differ from query to query,
// so the registry checks the series as they are collected (an unchecked
// collector).
func (q *Queries) Describe(chan<- *prometheus.Desc) {}

// Collect sends every exported series.
func (q *Queries) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for name, e := range q.queries {
		for _, row := range e.rows {
			values := append([]string{name}, row.Labels...)
			if m, err := prometheus.NewConstMetric(e.valueDesc, prometheus.GaugeValue, row.Value, values...); err == nil {
				ch <- m
			}
		}
		ch <- prometheus.MustNewConstMetric(queryDurationDesc, prometheus.GaugeValue, e.duration, name)
		ch <- prometheus.MustNewConstMetric(queryFailuresDesc, prometheus.CounterValue, e.failures, name)
		ch <- prometheus.MustNewConstMetric(queryLastSuccessDesc, prometheus.GaugeValue, e.lastSuccess, name)
	}
}

// SendStatsd sends the gauge of every exported series to DogStatsD.
func (q *Queries) SendStatsd() {
	if q.statsd == nil {
		return
	}
	q.mu.Lock()
	all := make([]*exportedQuery, 0, len(q.queries))
	for _, e := range q.queries {
		all = append(all, e)
	}
	q.mu.Unlock()
	for _, e := range all {
		q.sendOne(e)
	}
}

// sendOne sends the gauges of one query.
func (q *Queries) sendOne(e *exportedQuery) {
	if q.statsd == nil {
		return
	}
	for i, row := range e.rows {
		_ = q.statsd.Gauge(q.statsdName, row.Value, e.tags[i], 1)
	}
}

// RunStatsd sends the gauges again every interval (DefaultQueryStatsdEvery
// when <= 0) until ctx is done.
func (q *Queries) RunStatsd(ctx context.Context, every time.Duration) {
	if q.statsd == nil {
		return
	}
	if every <= 0 {
		every = DefaultQueryStatsdEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.SendStatsd()
		}
	}
}

// Exported returns the names of the exported queries, sorted.
func (q *Queries) Exported() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	names := make([]string, 0, len(q.queries))
	for name := range q.queries {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// datadogTag returns key:value the way Datadog stores a tag: lowercase,
// every character but letters, digits and _ - : . / replaced by _, runs of
// _ as one, no trailing _, at most 200 characters. A query's label value
// comes from a database, so it may hold anything; the monitors on query
// results filter and group by the tag as stored.
func datadogTag(key, value string) string {
	var b strings.Builder
	b.Grow(len(key) + 1 + len(value))
	write := func(s string) {
		for _, r := range strings.ToLower(s) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == ':', r == '.', r == '/':
				b.WriteRune(r)
			case r >= utf8.RuneSelf && r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)):
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	write(key)
	b.WriteByte(':')
	write(value)
	tag := b.String()
	for strings.Contains(tag, "__") {
		tag = strings.ReplaceAll(tag, "__", "_")
	}
	if len(tag) > maxTagLen {
		tag = tag[:maxTagLen]
		for !utf8.ValidString(tag) {
			tag = tag[:len(tag)-1]
		}
	}
	return strings.TrimRight(tag, "_")
}
