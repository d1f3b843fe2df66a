package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/monitor"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), string(got), "%s differs; run go test -update and review the diff", path)
}

// anomaly returns the monitor an annotation on record produces in prod.
func anomaly(record string, deviations string) monitor.Definition {
	name := record[strings.LastIndexByte(record, '.')+1:]
	return monitor.Definition{
		Name: "Traffic Anomaly with " + name,
		Type: "query alert",
		Query: "avg(last_4h):anomalies(sum:esm.events.received{event_type:" + strings.ToLower(name) + ",env:prod}.as_count(), 'agile', " +
			deviations + ", direction='both', alert_window='last_15m', interval=60, count_default_zero='true', seasonality='weekly') >= 1",
		Message: "{{#is_alert}}Traffic of " + name + " is unusual.{{/is_alert}}\n" +
			"\nA shopper added a product to a cart.\n\n" +
			"Schema: schemas/cart.avdl\n" +
			"@slack-team-cart",
		Tags: []string{"esm-prod", "esm_file:schemas/cart.avdl", "esm_record:" + strings.ToLower(record)},
		Options: monitor.Options{
			Thresholds:       monitor.Thresholds{Critical: monitor.Float(1), CriticalRecovery: monitor.Float(0)},
			ThresholdWindows: &monitor.ThresholdWindows{TriggerWindow: "last_15m", RecoveryWindow: "last_15m"},
			NotifyNoData:     false,
			IncludeTags:      true,
		},
	}
}

func desired(record string, line int, m monitor.Definition) monitor.Desired {
	return monitor.Desired{Definition: m, Source: monitor.Source{
		Record: record, File: "schemas/cart.avdl", Line: line, Column: 3, Kind: "traffic_anomaly_monitor",
	}}
}

const (
	addToCart = "com.example.shop.AddToCartEvent"
	remove    = "com.example.shop.RemoveFromCartEvent"
	checkout  = "com.example.shop.CheckoutCompleted"
)

// plans are the plans the golden files render, by name.
func plans() map[string]*monitor.Plan {
	add := anomaly(addToCart, "3")
	rem := anomaly(remove, "4")
	chk := anomaly(checkout, "2")

	// An update of the query, the message, the tags, the priority and a
	// flag, and an option that goes away.
	oldRem := rem
	oldRem.Query = strings.Replace(rem.Query, "'agile', 4", "'agile', 2", 1)
	oldRem.Message = strings.Replace(rem.Message, "@slack-team-cart", "@slack-old-channel", 1)
	oldRem.Tags = []string{"esm-prod", "esm_file:schemas/cart.avdl", "esm_record:" + strings.ToLower(remove), "team:old"}
	oldRem.Options.RenotifyInterval = 60
	upd := rem
	upd.Priority = 2
	upd.Options.IncludeTags = false

	return map[string]*monitor.Plan{
		"drift":  driftPlan(),
		"create": monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add), desired(remove, 36, rem)}, nil, monitor.Scope{}),
		"update": monitor.Diff("prod", []monitor.Desired{desired(remove, 36, upd)},
			[]monitor.Monitor{{ID: 12, Definition: oldRem}}, monitor.Scope{}),
		"delete": monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add)},
			[]monitor.Monitor{{ID: 5, Definition: add}, {ID: 7, Definition: chk}}, monitor.Scope{}),
		"duplicate": monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add)},
			[]monitor.Monitor{{ID: 9, Definition: add}, {ID: 5, Definition: add}}, monitor.Scope{}),
		"nochanges": monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add), desired(remove, 36, rem)},
			[]monitor.Monitor{{ID: 5, Definition: add}, {ID: 6, Definition: rem}}, monitor.Scope{}),
		"mixed": monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add), desired(remove, 36, upd), desired(checkout, 40, chk)},
			[]monitor.Monitor{{ID: 5, Definition: add}, {ID: 12, Definition: oldRem}, {ID: 20, Definition: anomaly("com.example.shop.Gone", "2")}}, monitor.Scope{}),
	}
}

// driftPlan is a plan against monitors esm wrote (with their fingerprint)
// that were then edited in Datadog's UI: one edited outside esm only, one
// whose schema changed only, and one with both.
func driftPlan() *monitor.Plan {
	written := func(id int64, d monitor.Definition) monitor.Monitor {
		return monitor.Monitor{ID: id, Definition: d, Fingerprint: monitor.Fingerprint(&d)}
	}
	add := anomaly(addToCart, "3")
	edited := written(5, add)
	edited.Query = strings.Replace(add.Query, "'agile', 3", "'agile', 5", 1)
	edited.Options.Thresholds.Critical = monitor.Float(2)

	rem := anomaly(remove, "4")
	schemaChanged := written(12, anomaly(remove, "2"))

	chk := anomaly(checkout, "2")
	both := written(20, anomaly(checkout, "3"))
	both.Options.RenotifyInterval = 30
	return monitor.Diff("prod", []monitor.Desired{desired(addToCart, 19, add), desired(remove, 36, rem), desired(checkout, 40, chk)},
		[]monitor.Monitor{edited, schemaChanged, both}, monitor.Scope{})
}

func TestText(t *testing.T) {
	for name, p := range plans() {
		for _, color := range []bool{false, true} {
			file := name + ".txt.golden"
			if color {
				file = name + ".color.golden"
			}
			t.Run(file, func(t *testing.T) {
				var buf bytes.Buffer
				require.NoError(t, Text(&buf, p, TextOptions{Color: color}))
				golden(t, file, buf.Bytes())
				if !color {
					assert.NotContains(t, buf.String(), "\x1b[", "no ANSI escapes without colour")
				} else if p.HasChanges() {
					assert.Contains(t, buf.String(), "\x1b[")
				}
			})
		}
	}
}

// The points of the text that matter most, so that a golden file
// refreshed without care does not lose them.
func TestTextEssentials(t *testing.T) {
	ps := plans()
	tests := []struct {
		plan    string
		want    []string
		notWant []string
	}{
		{
			plan: "create",
			want: []string{
				`  # monitor "Traffic Anomaly with AddToCartEvent" will be created`,
				`  # from com.example.shop.AddToCartEvent at schemas/cart.avdl:19`,
				`  + monitor "Traffic Anomaly with AddToCartEvent" {`,
				"Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.\n",
			},
		},
		{
			plan: "update",
			want: []string{
				`  # monitor 12 "Traffic Anomaly with RemoveFromCartEvent" will be updated in place`,
				`      ~ query = "avg(last_4h):anomalies(sum:esm.events.received{event_type:removefromcartevent,env:prod}.as_count(), 'agile', 2, `,
				`-> "avg(last_4h):anomalies(sum:esm.events.received{event_type:removefromcartevent,env:prod}.as_count(), 'agile', 4, `,
				"          - @slack-old-channel\n          + @slack-team-cart\n",
				"          - \"team:old\",\n",
				"      + priority = 2\n",
				"      - options.renotify_interval = 60 -> null\n",
				"      ~ options.include_tags = true -> false\n",
				"Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.\n",
			},
			notWant: []string{"~ name", "~ type", "thresholds"},
		},
		{
			plan: "delete",
			want: []string{
				`  # monitor 7 "Traffic Anomaly with CheckoutCompleted" will be deleted: no annotation asks for it any more`,
				`  # from com.example.shop.checkoutcompleted at schemas/cart.avdl`,
				"Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.\n",
			},
			notWant: []string{"AddToCartEvent"},
		},
		{
			plan: "duplicate",
			want: []string{
				`  # monitor 9 "Traffic Anomaly with AddToCartEvent" will be deleted: duplicate of monitor 5, healing`,
				"Notes:\n  - monitor 9 \"Traffic Anomaly with AddToCartEvent\" duplicates monitor 5",
				"(healing: not counted by the mass-delete guard)",
				"Plan: 0 to create, 0 to update, 1 to delete (1 healing a duplicate), 1 unchanged.\n",
			},
		},
		{
			plan: "drift",
			want: []string{
				"  # from com.example.shop.AddToCartEvent at schemas/cart.avdl:19\n" +
					"  ~ update (changed outside esm: query, options.thresholds.critical)\n" +
					"  ~ monitor \"Traffic Anomaly with AddToCartEvent\" {\n",
				"      ~ options.thresholds.critical = 2 -> 1\n",
				"  ~ update (changed outside esm: options.renotify_interval)\n",
				"      - options.renotify_interval = 30 -> null\n",
				"Notes:\n  - monitor 5 \"Traffic Anomaly with AddToCartEvent\" was changed outside esm (query, options.thresholds.critical): applying this plan reverts those edits",
				"Plan: 0 to create, 3 to update (2 changed outside esm), 0 to delete, 0 unchanged.\n",
			},
			notWant: []string{"changed outside esm: query)", "RemoveFromCartEvent\" was changed"},
		},
		{
			plan:    "nochanges",
			want:    []string{NoChanges + "\n"},
			notWant: []string{"Plan:", "#"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Text(&buf, ps[tt.plan], TextOptions{}))
			for _, s := range tt.want {
				assert.Contains(t, buf.String(), s)
			}
			for _, s := range tt.notWant {
				assert.NotContains(t, buf.String(), s)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	for name, p := range plans() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, JSON(&buf, p))
			golden(t, name+".json.golden", buf.Bytes())
			assertJSONShape(t, p, buf.Bytes())
		})
	}
}

// assertJSONShape parses the JSON of p back and checks the documented
// shape: the keys, their types, every change listed and the summary.
func assertJSONShape(t *testing.T, p *monitor.Plan, data []byte) {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	assert.Equal(t, "prod", out["env"])
	changes, ok := out["changes"].([]any)
	require.True(t, ok, "changes is an array, even when empty")
	require.Len(t, changes, len(p.Changes), "every change is listed, unchanged ones too")
	for i, raw := range changes {
		c := raw.(map[string]any)
		want := p.Changes[i]
		for _, key := range []string{"action", "name", "id", "record", "file", "diff"} {
			assert.Contains(t, c, key)
		}
		assert.Equal(t, string(want.Action), c["action"])
		assert.Equal(t, want.Name, c["name"])
		if want.Action == monitor.Create {
			assert.Nil(t, c["id"], "id is null for a create")
		} else {
			assert.Equal(t, float64(want.ID), c["id"])
		}
		assert.Equal(t, want.Record, c["record"])
		assert.Equal(t, want.File, c["file"])
		if want.Line > 0 {
			assert.Equal(t, float64(want.Line), c["line"])
		} else {
			assert.NotContains(t, c, "line")
		}
		if want.Reason != "" {
			assert.Equal(t, want.Reason, c["reason"])
		} else {
			assert.NotContains(t, c, "reason")
		}
		if want.Heal {
			assert.Equal(t, true, c["healing"])
		} else {
			assert.NotContains(t, c, "healing")
		}
		if want.Drift {
			assert.Equal(t, true, c["drift"])
			var fields []string
			for _, f := range c["drifted_fields"].([]any) {
				fields = append(fields, f.(string))
			}
			assert.Equal(t, want.DriftedFields, fields)
		} else {
			assert.NotContains(t, c, "drift")
			assert.NotContains(t, c, "drifted_fields")
		}
		diff, ok := c["diff"].(map[string]any)
		require.True(t, ok, "diff is an object")
		assert.Len(t, diff, len(want.Diff))
		for _, d := range want.Diff {
			sides, ok := diff[d.Field].(map[string]any)
			require.True(t, ok, "diff.%s", d.Field)
			assert.Contains(t, sides, "before")
			assert.Contains(t, sides, "after")
			if d.Old == "" {
				assert.Nil(t, sides["before"], "%s: the absent side is null", d.Field)
			}
			if d.New == "" {
				assert.Nil(t, sides["after"], "%s: the absent side is null", d.Field)
			}
		}
	}
	s := p.Summary()
	wantSummary := map[string]any{
		"create": float64(s.Create), "update": float64(s.Update), "delete": float64(s.Delete), "unchanged": float64(s.Unchanged),
	}
	if s.Healing > 0 {
		wantSummary["healing"] = float64(s.Healing)
	}
	if s.Drift > 0 {
		wantSummary["drift"] = float64(s.Drift)
	}
	assert.Equal(t, wantSummary, out["summary"])
}

// Values in the diff carry their JSON types, and keys keep the order of
// monitor.FieldNames.
func TestJSONDiffValues(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, JSON(&buf, plans()["update"]))
	var out struct {
		Changes []struct {
			Diff map[string]struct {
				Before any `json:"before"`
				After  any `json:"after"`
			} `json:"diff"`
		} `json:"changes"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	require.Len(t, out.Changes, 1)
	d := out.Changes[0].Diff
	assert.Equal(t, []any{"esm-prod", "esm_file:schemas/cart.avdl", "esm_record:com.example.shop.removefromcartevent", "team:old"}, d["tags"].Before)
	assert.Nil(t, d["priority"].Before)
	assert.Equal(t, 2.0, d["priority"].After)
	assert.Equal(t, 60.0, d["options.renotify_interval"].Before)
	assert.Nil(t, d["options.renotify_interval"].After)
	assert.Equal(t, true, d["options.include_tags"].Before)
	assert.Equal(t, false, d["options.include_tags"].After)
	assert.Contains(t, buf.String(), ") >= 1", "no HTML escaping")

	order := []string{}
	for _, f := range monitor.FieldNames {
		if i := strings.Index(buf.String(), `"`+f+`": {`); i >= 0 {
			order = append(order, f)
		}
	}
	assert.Equal(t, []string{"query", "message", "tags", "priority", "options.renotify_interval", "options.include_tags"}, order)
	assert.Less(t, strings.Index(buf.String(), `"query"`), strings.Index(buf.String(), `"options.include_tags"`))
}

func TestResults(t *testing.T) {
	p := plans()["mixed"]
	byAction := map[monitor.Action]*monitor.Change{}
	for i := range p.Changes {
		byAction[p.Changes[i].Action] = &p.Changes[i]
	}
	create, upd, del := byAction[monitor.Create], byAction[monitor.Update], byAction[monitor.Delete]
	require.NotNil(t, create)
	require.NotNil(t, upd)
	require.NotNil(t, del)
	tests := []struct {
		name    string
		results []monitor.Result
	}{
		{"results_ok", []monitor.Result{
			{Change: create, ID: 123},
			{Change: upd, ID: upd.ID},
			{Change: del, ID: del.ID},
		}},
		{"results_failed", []monitor.Result{
			{Change: create, Err: errors.New(`create monitor "Traffic Anomaly with CheckoutCompleted": 400 Bad Request: The value provided for parameter 'query' is invalid`)},
			{Change: upd, ID: upd.ID, Err: errors.New(`update monitor 12 "Traffic Anomaly with RemoveFromCartEvent": 429 Too Many Requests` + "\nretry after 10s")},
			{Change: del, ID: del.ID, Err: errors.New("context canceled")},
		}},
		{"results_empty", nil},
		{"results_converged", []monitor.Result{
			{Change: create, ID: 120, Note: "a concurrent run created monitor 120 first: updated it and deleted 123"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Results(&buf, tt.results))
			golden(t, tt.name+".golden", buf.Bytes())

			buf.Reset()
			require.NoError(t, ApplyJSON(&buf, p, tt.results != nil, tt.results, nil))
			golden(t, tt.name+".json.golden", buf.Bytes())
			var out struct {
				Applied bool `json:"applied"`
				Results []struct {
					Result string `json:"result"`
					ID     *int64 `json:"id"`
				} `json:"results"`
				Summary map[string]int `json:"summary"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
			require.Len(t, out.Results, len(tt.results))
			failed := 0
			for i, r := range tt.results {
				if r.Err != nil {
					failed++
					assert.Equal(t, "failed", out.Results[i].Result)
				} else {
					assert.Equal(t, string(r.Change.Action)+"d", out.Results[i].Result)
					require.NotNil(t, out.Results[i].ID)
					assert.Equal(t, r.ID, *out.Results[i].ID)
				}
			}
			assert.Equal(t, failed, out.Summary["failed"])
		})
	}

	var refused bytes.Buffer
	require.NoError(t, ApplyJSON(&refused, p, false, nil, errors.New("plan deletes too many monitors: 12 deletions")))
	assert.Contains(t, refused.String(), `"applied": false,`)
	assert.Contains(t, refused.String(), `"error": "plan deletes too many monitors: 12 deletions",`)
	assert.Contains(t, refused.String(), `"results": [],`)

	var buf bytes.Buffer
	require.NoError(t, Results(&buf, tests[0].results))
	assert.Contains(t, buf.String(), `created monitor 123 "Traffic Anomaly with CheckoutCompleted"`+"\n")
	assert.Contains(t, buf.String(), "Apply complete: 1 created, 1 updated, 1 deleted, 0 failed.\n")
	buf.Reset()
	require.NoError(t, Results(&buf, tests[1].results))
	assert.Contains(t, buf.String(), `failed to update monitor 12 "Traffic Anomaly with RemoveFromCartEvent": 429 Too Many Requests; retry after 10s`+"\n",
		"the operation is said once, the error on one line")
	assert.Contains(t, buf.String(), "Apply complete: 0 created, 0 updated, 0 deleted, 3 failed.\n")
}

func TestDiffLines(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want string
	}{
		{"equal", []string{"a", "b"}, []string{"a", "b"}, " a b"},
		{"added", nil, []string{"a", "b"}, "+a+b"},
		{"removed", []string{"a", "b"}, nil, "-a-b"},
		{"changed middle", []string{"a", "b", "c"}, []string{"a", "x", "c"}, " a-b+x c"},
		{"removals before additions", []string{"a", "b", "c", "d"}, []string{"x", "y", "d"}, "-a-b-c+x+y d"},
		{"insert and delete", []string{"a", "b", "c"}, []string{"b", "c", "d"}, "-a b c+d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got strings.Builder
			for _, e := range diffLines(tt.a, tt.b) {
				got.WriteByte(e.op)
				got.WriteString(e.text)
			}
			assert.Equal(t, tt.want, got.String())
		})
	}
}

// A long message shows only the lines near a change.
func TestTextFoldsUnchangedLines(t *testing.T) {
	var lines []string
	for i := range 20 {
		lines = append(lines, "line "+string(rune('a'+i)))
	}
	old := strings.Join(lines, "\n")
	lines[10] = "changed"
	p := &monitor.Plan{Env: "prod", Tag: "esm-prod", Changes: []monitor.Change{{
		Action: monitor.Update, Name: "m", ID: 1,
		Diff: []monitor.FieldDiff{{Field: "message", Old: old, New: strings.Join(lines, "\n")}},
	}}}
	var buf bytes.Buffer
	require.NoError(t, Text(&buf, p, TextOptions{}))
	want := `      ~ message = <<-EOT
            # (7 unchanged lines hidden)
            line h
            line i
            line j
          - line k
          + changed
            line l
            line m
            line n
            # (6 unchanged lines hidden)
        EOT
`
	assert.Contains(t, buf.String(), want)
}

func TestPrintable(t *testing.T) {
	assert.Equal(t, "ok\ttab", printable("ok\ttab"))
	assert.Equal(t, `\x1b[2Jboom\r`, printable("\x1b[2Jboom\r"))
}
