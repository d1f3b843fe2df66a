package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
	"github.com/esm-dev/esm/internal/github/ghtest"
	"github.com/esm-dev/esm/webhook"
)

// The repository and pull request of the recorded issue_comment payload.
const (
	e2eRepo   = "esm-dev/schemas"
	e2eNumber = 7
	e2eSecret = "It's a Secret to Everybody"
)

// botWorld is the bot in-process against fakes of GitHub and Datadog.
type botWorld struct {
	t    testing.TB
	gh   *ghtest.Server
	dd   *ddtest.Server
	srv  *httptest.Server
	bot  *bot
	head int
	ids  atomic.Int64
	logs *lockedBuffer // the bot's JSON log lines
}

func newBotWorld(t testing.TB, env map[string]string) *botWorld {
	t.Helper()
	w := &botWorld{t: t, gh: ghtest.NewServer(t), dd: ddtest.NewServer(t), logs: &lockedBuffer{}}
	vars := map[string]string{
		envWebhookSecret: e2eSecret,
		envAllowedRepos:  "esm-dev/*",
		envGitHubToken:   "ghp_test",
		envGitHubURL:     w.gh.URL,
		envAPIKey:        "dd-api", envAppKey: "dd-app",
		envDatadogURL: w.dd.URL,
	}
	for k, v := range env {
		vars[k] = v
	}
	bc, err := testBotConfig(map[string]string{"state-dir": t.TempDir()}, vars)
	require.NoError(t, err)
	w.bot, err = newBot(bc, slog.New(slog.NewJSONHandler(w.logs, nil)), nil)
	require.NoError(t, err)
	r := chi.NewRouter()
	w.bot.routes(r)
	w.srv = httptest.NewServer(r)
	t.Cleanup(func() {
		w.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.bot.shutdown(ctx)
	})
	return w
}

// exampleSchemas returns the repository's example schemas by path.
func exampleSchemas(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"cart.avdl", "checkout.avdl", "search.avdl"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "schemas", name))
		require.NoError(t, err)
		files["schemas/"+name] = string(b)
	}
	return files
}

// push makes the pull request go from base to a new head with files.
func (w *botWorld) push(base, head map[string]string) string {
	w.head++
	sha := fmt.Sprintf("%040x", w.head)
	w.gh.SetFiles(e2eRepo, "base", base)
	w.gh.SetFiles(e2eRepo, sha, head)
	w.gh.SetPullRequest(e2eRepo, ghtest.PullRequest{Number: e2eNumber, BaseSHA: "base", HeadSHA: sha})
	return sha
}

// commentPayload is an issue_comment payload on a pull request (the
// repository's own, shaped as GitHub sends it),
// with the comment's id, author and body replaced.
func commentPayload(t testing.TB, id int64, user, body string) []byte {
	var p map[string]any
	require.NoError(t, json.Unmarshal(ghtest.Payload(t, "issue_comment.pull_request.created.json"), &p))
	c := p["comment"].(map[string]any)
	c["id"], c["body"] = id, body
	c["created_at"] = time.Now().UTC().Format(time.RFC3339) // just made, as GitHub delivers it
	c["user"].(map[string]any)["login"] = user
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

// deliver posts a delivery signed with secret and returns the status.
func (w *botWorld) deliver(event string, body []byte, secret string) int {
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/webhook", bytes.NewReader(body))
	require.NoError(w.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("delivery-%d", w.ids.Add(1)))
	req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// command comments body as user through the webhook and returns the
// comment's id once the delivery is accepted.
func (w *botWorld) command(user, body string) int64 {
	id := w.gh.AddComment(e2eRepo, e2eNumber, user, body)
	require.Equal(w.t, http.StatusAccepted, w.deliver("issue_comment", commentPayload(w.t, id, user, body), e2eSecret))
	return id
}

// waitReaction waits for the final reaction of a command: rocket or
// confused.
func (w *botWorld) waitReaction(id int64) string {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r := w.gh.Reactions(e2eRepo, id)
		if slices.Contains(r, "rocket") {
			return "rocket"
		}
		if slices.Contains(r, "confused") {
			return "confused"
		}
		time.Sleep(time.Millisecond)
	}
	w.t.Fatalf("no final reaction on comment %d: %v", id, w.gh.Reactions(e2eRepo, id))
	return ""
}

func (w *botWorld) monitorNames() []string {
	var names []string
	for _, m := range w.dd.Monitors() {
		names = append(names, m.Name)
	}
	return names
}

func (w *botWorld) botBodies() []string {
	var out []string
	for _, c := range w.gh.BotComments(e2eRepo, e2eNumber) {
		out = append(out, c.Body)
	}
	return out
}

func TestBotRegisterAgainAndRemoveAnAnnotation(t *testing.T) {
	w := newBotWorld(t, nil)
	w.gh.SetPermission(e2eRepo, "alice", "write")
	schemas := exampleSchemas(t)
	sha := w.push(nil, schemas)

	id := w.command("alice", "esm prod register")
	require.Equal(t, "rocket", w.waitReaction(id))
	assert.ElementsMatch(t, []string{
		"Traffic Anomaly with AddToCartEvent", "Traffic Anomaly with RemoveFromCartEvent",
		"Traffic Anomaly with CheckoutCompleted", "Traffic Anomaly with SearchPerformed",
	}, w.monitorNames())
	bodies := w.botBodies()
	require.Len(t, bodies, 1)
	assert.Contains(t, bodies[0], "<!-- esm:prod:register -->")
	assert.Contains(t, bodies[0], "**Apply complete:** 4 created, 0 updated, 0 deleted, 0 failed.")
	assert.Contains(t, bodies[0], "```diff\n+ name = \"Traffic Anomaly with AddToCartEvent\"")
	states := w.gh.Statuses(e2eRepo, sha)
	require.Len(t, states, 2)
	assert.Equal(t, [2]string{"esm/prod", "success"}, [2]string{states[1].Context, states[1].State})

	// Registering again changes nothing and edits the comment in place.
	id = w.command("alice", "esm prod register")
	require.Equal(t, "rocket", w.waitReaction(id))
	bodies = w.botBodies()
	require.Len(t, bodies, 1)
	assert.Contains(t, bodies[0], "**No changes.**")
	assert.Len(t, w.dd.Monitors(), 4)

	// Removing an annotation deletes its monitor, and only it.
	head := maps(schemas)
	head["schemas/cart.avdl"] = strings.Replace(schemas["schemas/cart.avdl"], `@traffic_anomaly_monitor({"deviations": 4})`, "", 1)
	w.push(schemas, head)
	id = w.command("alice", "esm prod register")
	require.Equal(t, "rocket", w.waitReaction(id))
	assert.ElementsMatch(t, []string{
		"Traffic Anomaly with AddToCartEvent", "Traffic Anomaly with CheckoutCompleted", "Traffic Anomaly with SearchPerformed",
	}, w.monitorNames())
	assert.Contains(t, w.botBodies()[0], "**Apply complete:** 0 created, 0 updated, 1 deleted, 0 failed.")
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestBotBadSignatureChangesNothing(t *testing.T) {
	w := newBotWorld(t, nil)
	w.gh.SetPermission(e2eRepo, "alice", "admin")
	w.push(nil, exampleSchemas(t))
	id := w.gh.AddComment(e2eRepo, e2eNumber, "alice", "esm prod register")
	body := commentPayload(t, id, "alice", "esm prod register")
	assert.Equal(t, http.StatusUnauthorized, w.deliver("issue_comment", body, "forged"))
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, w.dd.Requests(), "Datadog is not called")
	assert.Empty(t, w.botBodies())
	assert.Empty(t, w.gh.Reactions(e2eRepo, id))
}

func TestBotDeniesACommenterWithoutWriteAccess(t *testing.T) {
	w := newBotWorld(t, nil)
	w.gh.SetPermission(e2eRepo, "mallory", "read")
	w.push(nil, exampleSchemas(t))
	w.command("mallory", "esm prod register")
	require.Eventually(t, func() bool { return len(w.botBodies()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Contains(t, w.botBodies()[0], "permission denied")
	assert.Contains(t, w.botBodies()[0], "has read permission")
	assert.Empty(t, w.dd.Monitors())
	assert.Zero(t, w.dd.CountRequests(http.MethodPost, "/api/v1/monitor"))
}

func TestBotConcurrentRegistersCreateEachMonitorOnce(t *testing.T) {
	w := newBotWorld(t, nil)
	w.gh.SetPermission(e2eRepo, "alice", "write")
	w.gh.SetPermission(e2eRepo, "bob", "admin")
	w.push(nil, exampleSchemas(t))
	var ids [2]int64
	var wg sync.WaitGroup
	for i, user := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i] = w.command(user, "esm prod register") }()
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, "rocket", w.waitReaction(id))
	}
	names := w.monitorNames()
	assert.Len(t, names, 4)
	assert.ElementsMatch(t, names, slices.Compact(slices.Sorted(slices.Values(names))), "each monitor once")
	assert.Equal(t, 4, w.dd.CountRequests(http.MethodPost, "/api/v1/monitor"))
}

func TestBotIgnoresEditedCommentsAndAutoPlans(t *testing.T) {
	w := newBotWorld(t, map[string]string{envAutoPlan: "prod"})
	w.push(nil, exampleSchemas(t))
	var p map[string]any
	require.NoError(t, json.Unmarshal(commentPayload(t, 1, "alice", "esm prod plan"), &p))
	p["action"] = "edited"
	edited, _ := json.Marshal(p)
	assert.Equal(t, http.StatusOK, w.deliver("issue_comment", edited, e2eSecret))

	var pr map[string]any
	require.NoError(t, json.Unmarshal(ghtest.Payload(t, "pull_request.synchronize.json"), &pr))
	pr["number"] = e2eNumber
	pr["repository"] = p["repository"]
	body, _ := json.Marshal(pr)
	assert.Equal(t, http.StatusAccepted, w.deliver("pull_request", body, e2eSecret))
	require.Eventually(t, func() bool { return len(w.botBodies()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Contains(t, w.botBodies()[0], "### esm plan (automatic) on `prod`")
	assert.Contains(t, w.botBodies()[0], "**Plan:** 4 to create")
}

func TestBotConfigReportsEveryProblem(t *testing.T) {
	flags := map[string]string{"state-dir": t.TempDir(), "require-approval": "maybe", "autoplan": "qa"}
	_, err := testBotConfig(flags, map[string]string{envAPIKey: "only-one", envAppID: "x"})
	require.Error(t, err)
	for _, want := range []string{
		"ESM_WEBHOOK_SECRET is required",
		"ESM_ALLOWED_REPOS (comma-separated owner/name or owner/*) is required",
		`ESM_GITHUB_APP_ID: "x" is not the app's numeric id`,
		`--require-approval / ESM_REQUIRE_APPROVAL: "maybe"`,
		`ESM_AUTOPLAN: unknown environment "qa"`,
		"DD_API_KEY is set but DD_APP_KEY is not",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "only-one", "no secret in the error")

	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte("not a key"), 0o600))
	_, err = testBotConfig(flags, map[string]string{envAppID: "12", envAppPrivateKeyPath: keyFile})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "private key is not PEM")
}

// fiftySchemas returns 50 schema files, each declaring one annotated
// record.
func fiftySchemas() map[string]string {
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("schemas/event%02d.avdl", i)] = fmt.Sprintf(
			"@namespace(\"com.acme.bench\")\nprotocol P%02d {\n  /** Event %d. */\n  @alert_channel(\"team-bench\")\n  @traffic_anomaly_monitor({\"deviations\": 3})\n  record Event%02d {\n    string id;\n    long at;\n  }\n}\n",
			i, i, i)
	}
	return files
}

// BenchmarkBotWebhookToComment measures the time from a signed
// issue_comment delivery to the bot's final reaction (after its result
// comment and commit status), for a pull request that adds 50 schema
// files, against the in-process fakes of GitHub and Datadog.
func BenchmarkBotWebhookToComment(b *testing.B) {
	b.Run("plan/50-schemas", func(b *testing.B) {
		w := newBotWorld(b, nil)
		w.push(nil, fiftySchemas())
		b.ResetTimer()
		for range b.N {
			id := w.command("alice", "esm prod plan")
			if w.waitReaction(id) != "rocket" {
				b.Fatal(w.botBodies())
			}
		}
	})
	b.Run("register/50-creates", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			w := newBotWorld(b, nil)
			w.gh.SetPermission(e2eRepo, "alice", "write")
			w.push(nil, fiftySchemas())
			b.StartTimer()
			id := w.command("alice", "esm prod register")
			if w.waitReaction(id) != "rocket" || len(w.dd.Monitors()) != 50 {
				b.Fatal(w.botBodies())
			}
		}
	})
}

func TestServeRoleBotMountsTheWebhook(t *testing.T) {
	for _, role := range []string{"bot", "all"} {
		t.Run(role, func(t *testing.T) {
			w := newBotWorld(t, nil)
			w.gh.SetPermission(e2eRepo, "alice", "write")
			w.push(nil, exampleSchemas(t))
			cfg := testServeConfig("")
			cfg.role = role
			cfg.bot = w.bot.config
			base, stop := startServer(t, cfg)
			w.srv.URL = base // deliver to esm serve instead

			resp, err := http.Get(base + "/healthz")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			id := w.command("alice", "esm prod register")
			require.Equal(t, "rocket", w.waitReaction(id))
			assert.Len(t, w.dd.Monitors(), 4)

			// Readiness: every environment's store answers.
			code, body := httpGet(t, base+"/readyz")
			assert.Equal(t, http.StatusOK, code, body)
			assert.Contains(t, body, "store prod: ok")
			assert.Contains(t, body, "store staging: ok")

			// esm's own metrics: the request, the run, the API calls.
			_, metricsText := httpGet(t, base+"/metrics")
			for _, want := range []string{
				`esm_http_requests_total{code="202",method="POST",route="/webhook"} 1`,
				`esm_http_requests_total{code="200",method="GET",route="/readyz"} 1`,
				`esm_bot_runs_total{command="register",env="prod",outcome="success"} 1`,
				`esm_bot_run_duration_seconds_count{command="register",env="prod"} 1`,
				`esm_api_calls_total{code="200",operation="GET /repos/{owner}/{repo}/pulls/{id}/files",service="github"}`,
				`esm_api_calls_total{code="200",operation="POST /api/v1/monitor",service="datadog"} 4`,
				`esm_api_calls_total{code="200",operation="GET /api/v1/validate",service="datadog"}`,
			} {
				assert.Contains(t, metricsText, want)
			}
			require.NoError(t, stop())
		})
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestReadyzReportsABrokenStore: the local state store counts as a store,
// so esm is ready without Datadog credentials, and a corrupt state file
// makes it unready, naming the environment.
func TestReadyzReportsABrokenStore(t *testing.T) {
	w := newBotWorld(t, map[string]string{envAPIKey: "", envAppKey: ""})
	cfg := testServeConfig("")
	cfg.role = "bot"
	cfg.bot = w.bot.config
	base, stop := startServer(t, cfg)
	code, body := httpGet(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code, body)
	require.NoError(t, stop())

	require.NoError(t, os.WriteFile(filepath.Join(w.bot.config.stateDir, "prod.json"), []byte("{not json"), 0o644))
	base, stop = startServer(t, cfg)
	code, body = httpGet(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "store prod: ")
	assert.Contains(t, body, "store staging: ok")
	require.NoError(t, stop())
}
