package queryfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/diag"
)

var testOpts = ParseOptions{Databases: []string{"main", "warehouse"}}

func parseTestFile(t *testing.T, name string) ([]*Query, string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	qs, list := ParseFile(path, src, testOpts)
	if len(list) == 0 {
		return qs, ""
	}
	return qs, list.Error()
}

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			qs, errs := parseTestFile(t, filepath.Base(f))
			assert.Empty(t, errs)
			assert.NotEmpty(t, qs)
		})
	}
}

func TestParseFileValues(t *testing.T) {
	tests := []struct {
		file string
		want []Query
	}{
		{"full.good.yaml", []Query{{
			Name: "relationships", Description: "The number of relationships in the graph", DB: "main",
			SQL:    "SELECT extraction_source, count(*) FROM relationships GROUP BY extraction_source",
			Labels: []string{"extraction_source"}, Interval: 24 * time.Hour, IntervalText: "P1D",
			Timeout: 2 * time.Minute, MaxSeries: 20,
		}}},
		{"minimal.good.yaml", []Query{{
			Name: "orders_today", DB: "main", SQL: "SELECT count(*) FROM orders",
			Interval: 5 * time.Minute, IntervalText: "PT5M", Timeout: 30 * time.Second, MaxSeries: 100,
		}}},
		{"documents.good.yaml", []Query{
			{Name: "users", DB: "main", SQL: "SELECT count(*) FROM users", Interval: 90 * time.Minute, IntervalText: "PT1H30M", Timeout: 30 * time.Second, MaxSeries: 100},
			{Name: "users_by_country", DB: "main", SQL: "SELECT country, count(*)\nFROM users\nGROUP BY country", Labels: []string{"country"},
				Interval: 7 * 24 * time.Hour, IntervalText: "P1W", Timeout: 30 * time.Second, MaxSeries: 100},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			qs, errs := parseTestFile(t, tt.file)
			require.Empty(t, errs)
			require.Len(t, qs, len(tt.want))
			for i, q := range qs {
				got := *q
				assert.Equal(t, "testdata/"+tt.file, got.Pos.Filename)
				assert.Positive(t, got.NamePos.Line)
				got.Pos, got.NamePos, got.Monitors = tt.want[i].Pos, tt.want[i].NamePos, nil
				assert.Equal(t, tt.want[i], got)
			}
		})
	}
	qs, _ := parseTestFile(t, "full.good.yaml")
	require.Len(t, qs[0].Monitors, 1)
	assert.Equal(t, 10, qs[0].Monitors[0].Pos.Line)
	assert.Equal(t, 5, qs[0].Monitors[0].Pos.Column)
}

func TestBadFiles(t *testing.T) {
	tests := map[string][]string{
		"keys.bad.yaml": {
			`testdata/keys.bad.yaml:1:7: name "Bad-Name" must be lowercase letters, digits and _ (at most 128)`,
			`testdata/keys.bad.yaml:2:5: unknown database "other": esm.yaml declares main, warehouse`,
			`testdata/keys.bad.yaml:4:11: interval: "P1M": years and months have no fixed length; write days instead (P30D)`,
			`testdata/keys.bad.yaml:5:10: timeout "forever" is not a duration (such as 30s or 2m)`,
			`testdata/keys.bad.yaml:6:14: label "1x" must be a column name: letters, digits and _, not starting with a digit`,
			`testdata/keys.bad.yaml:6:20: label "query" is reserved: esm sets it on every series`,
			`testdata/keys.bad.yaml:6:27: label "ok" is already listed at testdata/keys.bad.yaml:6:10`,
			`testdata/keys.bad.yaml:7:13: max_series must be a whole number from 1 to 10000`,
			`testdata/keys.bad.yaml:8:11: monitors must be a list of monitors, not a mapping`,
			`testdata/keys.bad.yaml:9:1: unknown key "intervall"; known keys: name, description, db, query, labels, interval, timeout, max_series, monitors, alert_channel`,
		},
		"missing.bad.yaml": {
			`testdata/missing.bad.yaml:1:1: missing db`,
			`testdata/missing.bad.yaml:1:1: missing name`,
			`testdata/missing.bad.yaml:1:1: missing query`,
			`testdata/missing.bad.yaml:5:8: query is empty`,
			`testdata/missing.bad.yaml:6:11: interval: an interval must be longer than zero`,
			`testdata/missing.bad.yaml:7:10: timeout must be longer than zero`,
			`testdata/missing.bad.yaml:8:9: labels must be a list of column names, not "country"`,
			`testdata/missing.bad.yaml:11:5: a monitor must be a mapping (such as threshold: {below: 1000}), not "3"`,
			`testdata/missing.bad.yaml:13:1: a query must be a mapping with name, db and query, not a list`,
		},
		// yaml.v3 names the line of the "---" before the unclosed
		// flow sequence: its parser counts the context's line from 0.
		"syntax.bad.yaml": {
			`testdata/syntax.bad.yaml:5:1: did not find expected ',' or ']'`,
		},
		"monitors.bad.yaml": {
			`testdata/monitors.bad.yaml:4:16: alert_channel: unknown severity "urgent"; use all, critical, warning, recovery or no_data`,
			`testdata/monitors.bad.yaml:6:5: unknown monitor "treshold": did you mean "threshold"?`,
			`testdata/monitors.bad.yaml:8:5: a monitor entry holds one monitor, and threshold is set at testdata/monitors.bad.yaml:7:5: start another entry with -`,
			`testdata/monitors.bad.yaml:9:5: a monitor needs one of anomaly, threshold, such as threshold: {below: 1000}`,
			`testdata/monitors.bad.yaml:10:24: threshold: .inf is not a finite number`,
			`testdata/monitors.bad.yaml:11:5: unknown monitor "forecast"; a monitor is one of anomaly, threshold, with an optional alert_channel`,
			`testdata/monitors.bad.yaml:13:20: alert_channel: the value is empty`,
		},
		"dupkey.bad.yaml": {
			`testdata/dupkey.bad.yaml:3:1: name is already set at testdata/dupkey.bad.yaml:1:1`,
		},
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	assert.Len(t, tests, len(files), "every bad file has expected messages")
	for file, want := range tests {
		t.Run(file, func(t *testing.T) {
			_, errs := parseTestFile(t, file)
			assert.Equal(t, strings.Join(want, "\n"), errs)
		})
	}
}

func TestParseFileKeepsGoodDocuments(t *testing.T) {
	qs, errs := parseTestFile(t, "syntax.bad.yaml")
	assert.NotEmpty(t, errs)
	require.Len(t, qs, 1, "the document before the syntax error is kept")
	assert.Equal(t, "fine", qs[0].Name)
}

func TestParseFileBounds(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"too large", "name: x\n" + strings.Repeat("#", MaxFileSize), "big.yaml: file is larger than 1048576 bytes"},
		{"too many documents", strings.Repeat("name: x\ndb: main\nquery: SELECT 1\n---\n", MaxDocuments+1), "big.yaml:4001:1: more than 1000 queries in one file"},
		{"too many problems", "name: a\ndb: main\nquery: SELECT 1\nlabels: [" + strings.Repeat("a, ", 200) + "]\n",
			strings.Join(func() []string {
				var want []string
				for i := 1; i < MaxFileDiagnostics+1; i++ {
					want = append(want, fmt.Sprintf(`big.yaml:4:%d: label "a" is already listed at big.yaml:4:10`, 10+3*i))
				}
				return append(want, "big.yaml:4:313: 99 more problems from here on are not shown")
			}(), "\n")},
		{"max_series above the limit", "name: x\ndb: main\nquery: SELECT 1\nmax_series: 10001\n", "big.yaml:4:13: max_series must be a whole number from 1 to 10000"},
		{"name too long", "name: " + strings.Repeat("a", 129) + "\ndb: main\nquery: SELECT 1\n", `big.yaml:1:7: name "` + strings.Repeat("a", 129) + `" must be lowercase letters, digits and _ (at most 128)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, list := ParseFile("big.yaml", []byte(tt.src), testOpts)
			assert.Equal(t, tt.want, list.Error())
		})
	}
}

func TestUnknownDatabaseWithoutDatabases(t *testing.T) {
	_, list := ParseFile("q.yaml", []byte("name: x\ndb: main\nquery: SELECT 1\n"), ParseOptions{Databases: []string{}})
	assert.Equal(t, `q.yaml:2:5: unknown database "main": esm.yaml declares no databases`, list.Error())
	_, list = ParseFile("q.yaml", []byte("name: x\ndb: main\nquery: SELECT 1\n"), ParseOptions{})
	assert.Empty(t, list, "nil Databases skips the check")
}

func TestLoadDir(t *testing.T) {
	qs, list := LoadDir(filepath.Join("testdata", "dup"), testOpts)
	assert.Equal(t, `testdata/dup/sub/b.yml:5:7: query "shared" is already declared at testdata/dup/a.yaml:1:7`, list.Error())
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
	}
	assert.Equal(t, []string{"other", "shared"}, names)
	assert.Equal(t, "SELECT 1", qs[1].SQL, "the first declaration wins")

	_, list = LoadDir(filepath.Join("testdata", "missing-dir"), testOpts)
	assert.Contains(t, list.Error(), "testdata/missing-dir: read query files: ")
}

// The monitors of a query: their kind, parameters (as JSON, with the
// positions of the values) and alert_channel in every form
// @alert_channel takes.
func TestParseFileMonitors(t *testing.T) {
	qs, errs := parseTestFile(t, "monitors.good.yaml")
	require.Empty(t, errs)
	require.Len(t, qs, 1)
	q := qs[0]
	assert.Equal(t, &annotations.Channels{Always: []string{"team-data"}}, q.Channels)
	require.Len(t, q.Monitors, 3)

	th := q.Monitors[0]
	assert.Equal(t, "threshold", th.Key)
	assert.Equal(t, annotations.QueryThresholdKind, th.Kind.Annotation())
	assert.Equal(t, diag.Position{Filename: "testdata/monitors.good.yaml", Line: 7, Column: 5}, th.Pos)
	assert.JSONEq(t, `{"below": 1000, "warning": 2000, "window": "last_1d", "tags": ["tier:1", "team:data"]}`, string(th.Params.Params))
	assert.Equal(t, "threshold", th.Params.Source)
	assert.Equal(t, annotations.Position{File: "testdata/monitors.good.yaml", Line: 7, Column: 16}, th.Params.Pos)
	assert.Equal(t, annotations.Position{File: "testdata/monitors.good.yaml", Line: 7, Column: 24}, th.Params.PosOf("below"))
	assert.Equal(t, annotations.Position{File: "testdata/monitors.good.yaml", Line: 7, Column: 77}, th.Params.PosOf("tags.1"))
	assert.Nil(t, th.Channels)

	an := q.Monitors[1]
	assert.Equal(t, annotations.QueryAnomalyKind, an.Kind.Annotation())
	assert.JSONEq(t, `{"deviations": 3, "seasonality": "daily"}`, string(an.Params.Params))
	assert.Equal(t, annotations.Position{File: "testdata/monitors.good.yaml", Line: 9, Column: 19}, an.Params.PosOf("deviations"))
	assert.Equal(t, &annotations.Channels{Critical: []string{"pagerduty-data"}, Warning: []string{"slack-data", "team-x"}}, an.Channels)

	assert.Equal(t, "null", string(q.Monitors[2].Params.Params), "anomaly: with no value takes the defaults")
}
