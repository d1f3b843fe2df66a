package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// querySeries renders every series of the query metrics in fams as
// name{label=value,...} value, sorted.
func querySeries(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for _, name := range []string{QueryValueName, QueryDurationName, QueryFailuresName, QueryLastSuccessName} {
		for _, m := range fams[name].GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out = append(out, name+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}

func TestQueriesExportReplaceAndDelete(t *testing.T) {
	m, err := New(Options{Env: "prod"})
	require.NoError(t, err)
	q := m.Queries()
	ok := time.Unix(1700000000, 0)
	q.Set("orders", QueryResult{
		Labels:   []string{"country"},
		Rows:     []QueryRow{{Labels: []string{"de"}, Value: 4}, {Labels: []string{"fr"}, Value: 12.5}},
		Duration: 250 * time.Millisecond, LastSuccess: ok,
	})
	q.Set("total", QueryResult{Rows: []QueryRow{{Value: 7}}, Duration: time.Second, LastSuccess: ok})

	// Two label sets in one family: a scrape parses.
	assert.Equal(t, []string{
		"esm_query_duration_seconds{query=orders} 0.25",
		"esm_query_duration_seconds{query=total} 1",
		"esm_query_failures_total{query=orders} 0",
		"esm_query_failures_total{query=total} 0",
		"esm_query_last_success_timestamp_seconds{query=orders} 1700000000",
		"esm_query_last_success_timestamp_seconds{query=total} 1700000000",
		"esm_query_value{country=de,query=orders} 4",
		"esm_query_value{country=fr,query=orders} 12.5",
		"esm_query_value{query=total} 7",
	}, querySeries(scrape(t, m.Handler())))

	// A new result replaces the series: de is gone. A failure keeps the
	// rows it is given (the last good ones) and counts.
	q.Set("orders", QueryResult{Labels: []string{"country"}, Rows: []QueryRow{{Labels: []string{"fr"}, Value: 13}}, Duration: time.Second, LastSuccess: ok})
	q.Set("orders", QueryResult{Labels: []string{"country"}, Rows: []QueryRow{{Labels: []string{"fr"}, Value: 13}}, Duration: 2 * time.Second, LastSuccess: ok, NewFailure: true})
	q.Set("orders", QueryResult{Labels: []string{"country"}, Rows: []QueryRow{{Labels: []string{"fr"}, Value: 13}}, Duration: 2 * time.Second, LastSuccess: ok, NewFailure: true})
	q.Delete("total")
	assert.Equal(t, []string{
		"esm_query_duration_seconds{query=orders} 2",
		"esm_query_failures_total{query=orders} 2",
		"esm_query_last_success_timestamp_seconds{query=orders} 1700000000",
		"esm_query_value{country=fr,query=orders} 13",
	}, querySeries(scrape(t, m.Handler())))
	assert.Equal(t, []string{"orders"}, q.Exported())

	// Never succeeded: last success 0, no value series.
	q.Set("broken", QueryResult{NewFailure: true, Duration: time.Millisecond})
	fams := scrape(t, m.Handler())
	assert.Contains(t, querySeries(fams), "esm_query_last_success_timestamp_seconds{query=broken} 0")
	assert.Contains(t, querySeries(fams), "esm_query_failures_total{query=broken} 1")
	assert.Equal(t, dto.MetricType_GAUGE, fams[QueryValueName].GetType())
	assert.Equal(t, dto.MetricType_COUNTER, fams[QueryFailuresName].GetType())
}

// TestQueriesLabelValuesFromTheDatabase: a label value that is not UTF-8
// still scrapes (Prometheus requires UTF-8), as its replacement.
func TestQueriesLabelValuesFromTheDatabase(t *testing.T) {
	m, err := New(Options{Env: "prod"})
	require.NoError(t, err)
	m.Queries().Set("q", QueryResult{Labels: []string{"name"}, Rows: []QueryRow{{Labels: []string{"a\xffb"}, Value: 1}, {Labels: []string{"quote\"\nnew"}, Value: 2}}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `esm_query_value{name="a`+"\uFFFD"+`b",query="q"} 1`)
	assert.Contains(t, rec.Body.String(), `esm_query_value{name="quote\"\nnew",query="q"} 2`)
}

func TestQueriesDogStatsD(t *testing.T) {
	sink := udpSink(t)
	m, err := New(Options{Env: "Prod_EU", StatsdAddr: sink.LocalAddr().String(), StatsdFlush: time.Hour})
	require.NoError(t, err)
	defer m.Close()
	q := m.Queries()
	q.Set("orders", QueryResult{
		Labels: []string{"country", "Shop_Name"},
		Rows: []QueryRow{
			{Labels: []string{"fr", "Le Bon, Marché|x"}, Value: 12.5},
			{Labels: []string{"", "b"}, Value: 3}, // an empty label is no tag
		},
	})
	require.NoError(t, m.Flush())
	assert.Equal(t, []string{
		"esm.query.value:12.5|g|#query:orders,country:fr,shop_name:le_bon_marché_x,env:prod_eu",
		"esm.query.value:3|g|#query:orders,shop_name:b,env:prod_eu",
	}, readLines(t, sink, 2))

	// RunStatsd repeats the gauges, so a daily query stays a line in
	// Datadog; a deleted query is not sent any more.
	q.Set("gone", QueryResult{Rows: []QueryRow{{Value: 1}}})
	q.Delete("gone")
	require.NoError(t, m.Flush())
	assert.Equal(t, []string{"esm.query.value:1|g|#query:gone,env:prod_eu"}, readLines(t, sink, 1), "sent at once by Set")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.RunStatsd(ctx, 20*time.Millisecond); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	require.NoError(t, m.Flush())
	lines := readLines(t, sink, 2)
	for _, l := range lines {
		assert.True(t, strings.HasPrefix(l, "esm.query.value:") && strings.Contains(l, "#query:orders,"), l)
	}
}

func TestDatadogTag(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"query", "orders", "query:orders"},
		{"Country", "FR", "country:fr"},
		{"source", "a b,c|d#e", "source:a_b_c_d_e"},
		{"path", "s3://bucket/key.json", "path:s3://bucket/key.json"},
		{"name", "trailing__", "name:trailing"},
		{"name", "Ünïcode 名前", "name:ünïcode_名前"},
		{"name", strings.Repeat("x", 300), "name:" + strings.Repeat("x", maxTagLen-len("name:"))},
		{"name", strings.Repeat("é", 150), "name:" + strings.Repeat("é", (maxTagLen-len("name:"))/2)},
	}
	for _, tt := range tests {
		t.Run(tt.want[:min(len(tt.want), 20)], func(t *testing.T) {
			got := datadogTag(tt.key, tt.value)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), maxTagLen)
		})
	}
}

// TestQueryMetricNamesAreTheContract: the names users query, as the
// issue and the README spell them.
func TestQueryMetricNamesAreTheContract(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	for name, want := range map[string]string{
		QueryValueName: "esm_query_value", QueryDurationName: "esm_query_duration_seconds",
		QueryFailuresName: "esm_query_failures_total", QueryLastSuccessName: "esm_query_last_success_timestamp_seconds",
		StatsdQueryValue: "esm.query.value",
	} {
		assert.Equal(t, want, name)
		assert.Contains(t, string(readme), "`"+name+"`", "the README documents %s", name)
	}
}

// TestQueriesStatsdName: an environment whose monitors query another
// metric gets its gauges under that name.
func TestQueriesStatsdName(t *testing.T) {
	sink := udpSink(t)
	m, err := New(Options{Env: "prod", StatsdQueryValue: "dq.value", StatsdAddr: sink.LocalAddr().String(), StatsdFlush: time.Hour})
	require.NoError(t, err)
	defer m.Close()
	m.Queries().Set("q", QueryResult{Rows: []QueryRow{{Value: 2}}})
	require.NoError(t, m.Flush())
	assert.Equal(t, []string{"dq.value:2|g|#query:q,env:prod"}, readLines(t, sink, 1))
}
