package report

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/monitor"
)

const (
	testRepoURL = "https://github.com/acme/shop"
	testSHA     = "0123456789abcdef0123456789abcdef01234567"
)

// commentInputs are the run outcomes the comment golden files render.
func commentInputs() map[string]*CommentInput {
	ps := plans()
	base := func(cmd string, p *monitor.Plan) *CommentInput {
		return &CommentInput{Env: "prod", Command: cmd, RepoURL: testRepoURL, SHA: testSHA, Files: []string{"schemas/cart.avdl"}, Plan: p}
	}
	mixed := ps["mixed"]
	var results []monitor.Result
	for i := range mixed.Changes {
		c := &mixed.Changes[i]
		switch c.Action {
		case monitor.Create:
			results = append(results, monitor.Result{Change: c, ID: 31, Note: "a concurrent run created monitor 31 first: updated it and deleted 32"})
		case monitor.Update:
			results = append(results, monitor.Result{Change: c, ID: c.ID,
				Err: fmt.Errorf("update monitor %d %q: %w", c.ID, c.Name, errors.New("datadog: 400 Bad Request: The value provided for parameter 'query' is invalid"))})
		case monitor.Delete:
			results = append(results, monitor.Result{Change: c, ID: c.ID})
		}
	}
	applied := base("register", mixed)
	applied.Applied, applied.Results = true, results

	var diags diag.List
	diags.Add(diag.Error, diag.Position{Filename: "schemas/cart.avdl", Line: 19, Column: 3}, diag.Position{},
		"unknown parameter %q of @traffic_anomaly_monitor; known: deviations, algorithm", "deviation")
	diags.Add(diag.Error, diag.Position{Filename: "schemas/cart.avdl", Line: 40, Column: 27}, diag.Position{}, "expected ';', found '}'")
	diags.Add(diag.Warning, diag.Position{Filename: "schemas/common.avdl", Line: 2, Column: 1}, diag.Position{}, "doc comment is not before a declaration")
	// A conflict between two layers links both positions.
	diags.Add(diag.Error, diag.Position{Filename: "schemas/cart.avdl", Line: 12, Column: 44}, diag.Position{},
		"query_window last_4h is shorter than alert_window last_1d (query_window is set at esm.yaml:19:19)")
	diags[len(diags)-1].Related = []diag.Position{{Filename: "esm.yaml", Line: 19, Column: 19}}
	withErrors := base("register", nil)
	withErrors.Diags = diags

	moved := base("register", ps["create"])
	moved.Failure = "the head of the pull request moved from 0123456 to fedcba9 during the run; nothing was applied, comment again to register fedcba9"

	auto := base("plan", ps["update"])
	auto.Auto = true

	none := base("plan", monitor.Diff("prod", nil, nil, monitor.Scope{Records: map[string]bool{}}))
	none.Files = nil

	return map[string]*CommentInput{
		"plan_create":       base("plan", ps["create"]),
		"plan_mixed":        base("plan", ps["mixed"]),
		"plan_drift":        base("plan", ps["drift"]),
		"plan_duplicate":    base("plan", ps["duplicate"]),
		"register_nochange": base("register", ps["nochanges"]),
		"register_applied":  applied,
		"register_errors":   withErrors,
		"register_moved":    moved,
		"autoplan_update":   auto,
		"plan_nofiles":      none,
	}
}

func TestComment(t *testing.T) {
	for name, in := range commentInputs() {
		t.Run(name, func(t *testing.T) {
			bodies := Comment(in, 0)
			require.Len(t, bodies, 1)
			golden(t, "comment_"+name+".md.golden", []byte(bodies[0]))
			env, cmd, part, ok := ParseMarker(bodies[0])
			require.True(t, ok)
			assert.Equal(t, [3]any{"prod", in.Command, 1}, [3]any{env, cmd, part})
		})
	}
}

// The points of the comments that matter most, so that a golden file
// refreshed without care does not lose them.
func TestCommentEssentials(t *testing.T) {
	ins := commentInputs()
	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"plan_create", []string{
			"<!-- esm:prod:plan -->\n",
			"**Plan:** 2 to create, 0 to update, 0 to delete, 0 unchanged.",
			"<details><summary>",
			"```diff\n+ name = \"Traffic Anomaly with AddToCartEvent\"\n",
			`<a href="https://github.com/acme/shop/blob/` + testSHA + `/schemas/cart.avdl#L19">schemas/cart.avdl:19</a>`,
			"To apply this plan, comment `esm prod register`.",
		}, nil},
		{"plan_mixed", []string{
			"- query = \"avg(last_4h)", "+ query = \"avg(last_4h)",
			"  message = <<EOT\n", "- @slack-old-channel\n+ @slack-team-cart\n",
			"  tags = [\n", "-     \"team:old\",\n",
			"<b>delete</b> <code>Traffic Anomaly with Gone</code> (monitor 20)",
		}, nil},
		{"plan_drift", []string{
			"**Plan:** 0 to create, 3 to update (2 changed outside esm), 0 to delete, 0 unchanged.",
			`<b>update</b> <code>Traffic Anomaly with AddToCartEvent</code> (monitor 5) from <code>com.example.shop.AddToCartEvent</code> at ` +
				`<a href="https://github.com/acme/shop/blob/` + testSHA + `/schemas/cart.avdl#L19">schemas/cart.avdl:19</a>` +
				` — ⚠️ <b>changed outside esm:</b> <code>query</code>, <code>options.thresholds.critical</code></summary>`,
			"- options.thresholds.critical = 2\n+ options.thresholds.critical = 1\n",
			"#### Notes\n- monitor 5 \"Traffic Anomaly with AddToCartEvent\" was changed outside esm (query, options.thresholds.critical)",
		}, []string{"RemoveFromCartEvent</code> (monitor 12) from <code>com.example.shop.RemoveFromCartEvent</code> at <a href=\"https://github.com/acme/shop/blob/" + testSHA + "/schemas/cart.avdl#L36\">schemas/cart.avdl:36</a> — "}},
		{"register_nochange", []string{"<!-- esm:prod:register -->", "**No changes.**"}, []string{"<details>", "To apply"}},
		{"register_applied", []string{
			"**Apply complete:** 1 created, 0 updated, 1 deleted, 1 failed.",
			"failed to update `Traffic Anomaly with RemoveFromCartEvent` (monitor 12): datadog: 400 Bad Request",
			"#### Notes\n- create monitor \"Traffic Anomaly with CheckoutCompleted\": a concurrent run created monitor 31 first: updated it and deleted 32\n",
		}, []string{"To apply"}},
		{"plan_duplicate", []string{
			"**Plan:** 0 to create, 0 to update, 1 to delete (1 healing a duplicate), 1 unchanged.",
			"duplicate of monitor 5, healing",
			"(healing: not counted by the mass-delete guard)",
		}, nil},
		{"register_errors", []string{
			"**❌ 3 errors in the schemas: nothing was applied.**",
			"- [`schemas/cart.avdl:19:3`](https://github.com/acme/shop/blob/" + testSHA + "/schemas/cart.avdl#L19): unknown parameter \"deviation\"",
			"- [`schemas/cart.avdl:40:27`](https://github.com/acme/shop/blob/" + testSHA + "/schemas/cart.avdl#L40)",
			"#### Warnings",
		}, []string{"**Plan:**"}},
		{"register_moved", []string{"**❌ the head of the pull request moved"}, []string{"To apply"}},
		{"autoplan_update", []string{"### esm plan (automatic) on `prod`"}, nil},
		{"plan_nofiles", []string{"No `.avdl`, `.avsc` or `.avpr` file changed"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := Comment(ins[tt.name], 0)[0]
			for _, s := range tt.want {
				assert.Contains(t, body, s)
			}
			for _, s := range tt.notWant {
				assert.NotContains(t, body, s)
			}
		})
	}
}

func TestCommentSplitsBelowTheLimit(t *testing.T) {
	var desired []monitor.Desired
	for i := range 60 {
		rec := fmt.Sprintf("com.example.shop.Event%02d", i)
		desired = append(desired, desired1(rec, i+1))
	}
	in := &CommentInput{Env: "prod", Command: "plan", RepoURL: testRepoURL, SHA: testSHA, Files: []string{"schemas/cart.avdl"},
		Plan: monitor.Diff("prod", desired, nil, monitor.Scope{})}
	const limit = 8000
	bodies := Comment(in, limit)
	require.Greater(t, len(bodies), 3)
	var all strings.Builder
	for i, b := range bodies {
		assert.LessOrEqual(t, len(b), limit)
		env, cmd, part, ok := ParseMarker(b)
		require.True(t, ok, b[:40])
		assert.Equal(t, [3]any{"prod", "plan", i + 1}, [3]any{env, cmd, part})
		assert.Equal(t, strings.Count(b, "<details>"), strings.Count(b, "</details>"), "a block is never split")
		all.WriteString(b)
	}
	assert.Equal(t, 60, strings.Count(all.String(), "<details>"))
	golden(t, "comment_split_part2.md.golden", []byte(bodies[1]))

	// With GitHub's limit, fewer and longer parts.
	bodies = Comment(in, 0)
	assert.Len(t, bodies, 2)
	for _, b := range bodies {
		assert.LessOrEqual(t, len(b), MaxCommentLength)
	}
}

func TestCommentCutsAHugeDiff(t *testing.T) {
	d := desired1("com.example.shop.Huge", 1)
	d.Message = strings.Repeat("a long line of the message\n", 5000)
	in := &CommentInput{Env: "prod", Command: "plan", Plan: monitor.Diff("prod", []monitor.Desired{d}, nil, monitor.Scope{})}
	bodies := Comment(in, 0)
	require.Len(t, bodies, 1)
	assert.Less(t, len(bodies[0]), maxDiffBytes+4000)
	assert.Contains(t, bodies[0], "more lines not shown)")
	assert.Equal(t, 2, strings.Count(bodies[0], "```"))
}

func TestCommentIsSafe(t *testing.T) {
	d := desired1("com.example.shop.Evil", 1)
	d.Name = "Traffic Anomaly with <b>Evil</b>"
	d.Message = "```\nbreak out\n````\n@team-everyone"
	var diags diag.List
	diags.Add(diag.Error, diag.Position{Filename: "x.avdl", Line: 1, Column: 1}, diag.Position{}, "@alert_channel <script>\nnext line")
	in := &CommentInput{Env: "prod", Command: "plan", RepoURL: testRepoURL, SHA: testSHA,
		Plan: monitor.Diff("prod", []monitor.Desired{d}, nil, monitor.Scope{}), Diags: diags}
	body := Comment(in, 0)[0]
	assert.Contains(t, body, "`````diff\n", "the fence is longer than any backtick run inside")
	assert.Contains(t, body, "<code>Traffic Anomaly with &lt;b&gt;Evil&lt;/b&gt;</code>")
	assert.Contains(t, body, "@\u200balert_channel &lt;script&gt;; next line")
	assert.NotContains(t, body, "<script>")
}

func TestParseMarker(t *testing.T) {
	for _, part := range []int{1, 2, 13} {
		env, cmd, got, ok := ParseMarker(Marker("staging", "register", part) + "\nbody")
		assert.True(t, ok)
		assert.Equal(t, [3]any{"staging", "register", part}, [3]any{env, cmd, got})
	}
	for _, body := range []string{"", "esm prod plan", "<!-- esm: -->", "<!-- esm:prod -->", "<!-- esm:prod:plan:x -->", "text\n<!-- esm:prod:plan -->", "<!-- esm:prod:plan:1 -->"} {
		_, _, _, ok := ParseMarker(body)
		assert.False(t, ok, body)
	}
}

func TestStatusOf(t *testing.T) {
	ins := commentInputs()
	tests := []struct {
		name, state, desc string
	}{
		{"plan_create", "success", "Plan: 2 to create, 0 to update, 0 to delete"},
		{"plan_drift", "success", "Plan: 0 to create, 3 to update (2 changed outside esm), 0 to delete"},
		{"register_nochange", "success", "No changes: monitors match the schemas"},
		{"register_applied", "failure", "Applied: 1 created, 0 updated, 1 deleted, 1 failed"},
		{"register_errors", "failure", "3 errors in the schemas"},
		{"plan_nofiles", "success", "No changes: monitors match the schemas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, desc := StatusOf(ins[tt.name])
			assert.Equal(t, tt.state, state)
			assert.Equal(t, tt.desc, desc)
		})
	}
	state, desc := StatusOf(ins["register_moved"])
	assert.Equal(t, "failure", state)
	assert.LessOrEqual(t, len(desc), 140)
}

func TestReplies(t *testing.T) {
	tests := map[string]string{
		"usage":         Usage([]string{"prod", "staging"}, ""),
		"usage_problem": Usage([]string{"prod", "staging"}, `unknown environment "qa"`),
		"denied":        Denied("@mallory has read permission on acme/shop; `register` needs write or admin"),
		"waiting":       Waiting("prod", 1),
		"waiting_many":  Waiting("prod", 3),
		"waiting_none":  Waiting("prod", 0),
		"draft":         Draft("prod"),
		"unused":        Unused("prod", "plan", 3),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			golden(t, "reply_"+name+".md.golden", []byte(body))
		})
	}
	assert.Contains(t, tests["usage_problem"], `unknown environment "qa"`)
	assert.Contains(t, tests["usage"], "| `esm staging register` |")
	assert.Contains(t, tests["denied"], "@\u200bmallory")
	assert.Contains(t, tests["waiting"], "waiting for the run in progress")
	assert.Contains(t, tests["waiting_many"], "3 commands wait and run next")
	assert.NotContains(t, tests["waiting_none"], "⏳")
	assert.Contains(t, tests["draft"], "Mark the pull request ready for review")
	for _, name := range []string{"waiting", "waiting_many", "waiting_none"} {
		env, kind, part, ok := ParseMarker(tests[name])
		assert.True(t, ok, name)
		assert.Equal(t, [3]any{"prod", KindWaiting, 1}, [3]any{env, kind, part}, name)
	}
	_, _, part, ok := ParseMarker(tests["unused"])
	assert.True(t, ok)
	assert.Equal(t, 3, part)
}

// desired1 is a monitor of record declared at line of schemas/cart.avdl.
func desired1(record string, line int) monitor.Desired {
	return desired(record, line, anomaly(record, "2"))
}

// FuzzParseMarker checks that a marker read from any comment renders back
// to the comment's first line.
func FuzzParseMarker(f *testing.F) {
	for _, s := range []string{Marker("prod", "plan", 1), Marker("prod", "register", 3) + "\nbody", "<!-- esm:a:b:c -->", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		env, cmd, part, ok := ParseMarker(body)
		if !ok {
			return
		}
		line, _, _ := strings.Cut(body, "\n")
		assert.Equal(t, strings.TrimSpace(line), Marker(env, cmd, part))
	})
}

// TestChangedFiles: the comment counts the query files of a change set
// as query files, not as schema files.
func TestChangedFiles(t *testing.T) {
	assert.Equal(t, "1 schema file", changedFiles([]string{"schemas/cart.avdl"}))
	assert.Equal(t, "2 query files", changedFiles([]string{"queries/a.yaml", "queries/b.yml"}))
	assert.Equal(t, "2 schema files and 1 query file", changedFiles([]string{"schemas/a.avdl", "queries/a.yaml", "schemas/b.avsc"}))
}
