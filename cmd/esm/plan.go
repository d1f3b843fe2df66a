package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/gitlocal"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/prometheus"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/report"
)

// exitChanges is the status of "esm plan --detailed-exitcode" when the
// plan has changes; no error exits with it.
const exitChanges = 2

// defaultStateDir is where the local store keeps its state files.
const defaultStateDir = ".esm/state"

// exitStatus is an error that only sets the exit status: the command has
// printed everything already.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// planFlags are the flags "esm plan" and "esm apply" share.
type planFlags struct {
	env        string
	config     string
	stateDir   string
	importDirs []string
	targets    []string
	// queries is the directory of the query files (--queries).
	queries string
	// changedSince scopes the plan to the files changed since a Git ref
	// (plan only).
	changedSince string
	// backend, rulesDir and promURL choose the backend (chooseBackend).
	backend, rulesDir, promURL, format string
	// keepDiags makes loadPlan return schema errors in loaded.diags
	// instead of printing them (--output markdown shows them).
	keepDiags bool
}

// add registers the shared flags on cmd.
func (f *planFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.env, "env", "", "the `ENV`ironment whose monitors to manage, such as prod (required)")
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "`DIR` of the local state files, used when DD_API_KEY and DD_APP_KEY are not set (default: "+defaultStateDir+" at the repository root)")
	addImportDirFlag(cmd, &f.importDirs)
	cmd.Flags().StringArrayVar(&f.targets, "target", nil, "plan only the monitors of `RECORD` (full or simple name; repeatable)")
	addQueriesFlag(cmd, &f.queries)
	cmd.Flags().StringVar(&f.backend, "backend", "", "manage the monitors in `BACKEND`: datadog (Datadog, or the local state store without its keys) or prometheus (a rules file in --rules-dir); default: the environment's backend in esm.yaml, else datadog")
	cmd.Flags().StringVar(&f.rulesDir, "rules-dir", "", "`DIR` of the Prometheus backend's rules file, esm-ENV.rules.yml (default: the environment's rules_dir in esm.yaml)")
	cmd.Flags().StringVar(&f.format, "format", "", "write the Prometheus rules as `FORMAT`: rules (Prometheus' rule file DIR/esm-ENV.rules.yml) or prometheusrule (a Prometheus Operator PrometheusRule, DIR/esm-ENV.prometheusrule.yaml); default: the environment's rules_format, else rules")
	cmd.Flags().StringVar(&f.promURL, "prometheus-url", "", "after writing the rules, ask the Prometheus at `URL` to reload them (POST /-/reload; default: the environment's prometheus_url)")
}

// addConfigFlag adds --config.
func addConfigFlag(cmd *cobra.Command, file *string) {
	cmd.Flags().StringVar(file, "config", "", "read settings from `FILE` (default: esm.yaml at the repository root when it exists, else built-in defaults)")
}

// loaded is what a plan is made from: the configuration, the specs the
// schemas ask for and the environment's backend.
type loaded struct {
	cfg     *config.Config
	specs   []annotations.Spec
	backend reconcile.Backend
	// scope is what the PATHs and --target cover; scopeLine says it, as
	// the first line of a text plan.
	scope     monitor.Scope
	scopeLine string
	// diags are the schema problems, kept with planFlags.keepDiags; when
	// they hold an error, nothing else is set.
	diags diag.List
	// files are the changed schema files of a --changed-since plan.
	files []string
	// repo is the Git work tree, when esm runs in one.
	repo *gitlocal.Repo
}

// loadPlan loads the configuration and the schemas under paths and opens the
// backend. The configuration, the state directory and the default path
// are found at the repository root (findRepoRoot) unless flags name them.
// Every path (default: schemas at the root) must exist and hold a schema
// file (findSchemaFiles); otherwise loadPlan returns an error naming it,
// before the backend is opened. Schema problems are printed to stderr as
// file:line:col: message; when there is an error among them, loadPlan
// returns errReported without opening the backend. In text mode the
// backend in use is said on stderr.
func (a *app) loadPlan(ctx context.Context, f *planFlags, paths []string, text bool) (*loaded, error) {
	if f.env == "" {
		return nil, usagef("--env is required: the environment whose monitors to plan, such as prod")
	}
	ws := findRepoRoot()
	if f.changedSince != "" && len(paths) > 0 {
		return nil, usagef("--changed-since plans the files changed since a ref: it takes no PATH")
	}
	scope, whole := monitor.Scope{}, true
	if len(paths) == 0 {
		paths = []string{ws.schemas()}
	} else {
		scope, whole = reconcile.PathScope(paths, ws.schemas())
	}
	scopeLine := "Scope: the whole schema tree; every monitor tagged " + monitor.EnvTag(f.env) + " is planned."
	if !whole {
		scopeLine = "Scope: " + strings.Join(paths, ", ") + "; monitors of other files are left alone."
	}
	for _, t := range f.targets {
		if strings.TrimSpace(t) == "" {
			return nil, usagef("--target needs a record name")
		}
		scope.Targets = append(scope.Targets, monitor.RecordTagValue(t))
	}
	if len(f.targets) > 0 {
		scopeLine = strings.TrimSuffix(scopeLine, ".") + "; only the records " + strings.Join(f.targets, ", ") + "."
	}
	// The PATHs under the query directory are query files, the others
	// schemas.
	qdir, explicit := ws.queriesDir(f.queries)
	paths, qsrc, problems := splitQueryPaths(paths, qdir, explicit, whole)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	f.stateDir = ws.stateDir(f.stateDir)
	cfg, err := a.loadConfig(ws.configFile(f.config), f.env)
	if err != nil {
		return nil, err
	}
	l := &loaded{cfg: cfg}
	if f.changedSince != "" || f.keepDiags {
		l.repo, _ = gitlocal.Open(ctx, ws.path("."))
	}
	var specs []annotations.Spec
	var diags diag.List
	if f.changedSince != "" {
		if l.repo == nil {
			return nil, fmt.Errorf("--changed-since needs a Git work tree: %s is not in one", ws.path("."))
		}
		changes, err := l.repo.Changes(ctx, f.changedSince)
		if err != nil {
			return nil, err
		}
		cs, err := reconcile.LoadChangeSet(cfg, f.env, changes, l.repo.ReadWorkTree, l.repo.ReaderAt(ctx, f.changedSince), ws.repoPath(qdir))
		if err != nil {
			return nil, fmt.Errorf("read schemas: %w", err)
		}
		specs, diags, l.files = cs.Specs, cs.Diags, cs.Files
		scope.Records, scope.Names = cs.Scope.Records, cs.Scope.Names
		scopeLine = fmt.Sprintf("Scope: the records of the %s changed since %s", plural(len(cs.Files), "schema file"), f.changedSince)
		if len(cs.Files) > 0 {
			scopeLine += " (" + strings.Join(cs.Files, ", ") + ")"
		}
		scopeLine += "; other monitors are left alone."
		if len(f.targets) > 0 {
			scopeLine = strings.TrimSuffix(scopeLine, ".") + "; only the records " + strings.Join(f.targets, ", ") + "."
		}
	} else {
		files, problems := findSchemaFiles(paths)
		if len(problems) > 0 {
			// Without its schemas a path would plan the deletion of their
			// monitors.
			return nil, errors.Join(problems...)
		}
		specs, diags, err = reconcile.Specs(ctx, cfg, f.env, files, idl.Options{ImportPaths: f.importDirs})
		if err != nil {
			return nil, fmt.Errorf("read schemas: %w", err)
		}
		specs, diags = withQuerySpecs(cfg, f.env, qsrc, specs, diags)
	}
	if f.keepDiags && diags.HasErrors() {
		l.diags = diags
		return l, nil
	}
	printDiagnostics(a.stderr, diags)
	if diags.HasErrors() {
		fmt.Fprintf(a.stderr, "esm: %s in the schemas; nothing was planned\n", plural(len(diags.Errors()), "error"))
		return nil, errReported
	}
	choice, err := chooseBackend(cfg, f.env, backendChoice{f.backend, f.rulesDir, f.promURL, f.format})
	if err != nil {
		return nil, err
	}
	backend, err := openBackend(f.env, f.stateDir, choice, os.Getenv)
	if err != nil {
		return nil, err
	}
	if text {
		fmt.Fprintf(a.stderr, "using %s\n", backend.Description)
	}
	if len(f.targets) > 0 {
		warnUnknownTargets(a.stderr, f.targets, specs)
	}
	l.specs, l.backend, l.scope, l.scopeLine, l.diags = specs, backend, scope, scopeLine, diags
	return l, nil
}

// loadConfig reads the configuration file (built-in defaults for "") and
// checks that env is one of its environments. A file with several
// problems has them printed, one a line, each naming its file and line,
// and errReported returned.
func (a *app) loadConfig(file, env string) (*config.Config, error) {
	cfg, err := reconcile.LoadConfig(file)
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		if !strings.Contains(msg, "\n") {
			return nil, err
		}
		fmt.Fprintln(a.stderr, msg)
		return nil, errReported
	}
	if _, err := cfg.Env(env); err != nil {
		return nil, err
	}
	return cfg, nil
}

// run plans, and applies when req.Apply, through the use case, and
// names the backend in its error.
func (l *loaded) run(ctx context.Context, req reconcile.Request) (*reconcile.Response, error) {
	req.Specs, req.Backend, req.Scope = l.specs, l.backend, l.scope
	resp, err := reconcile.Run(ctx, req)
	if err != nil && (resp == nil || resp.Plan == nil) {
		return resp, fmt.Errorf("plan against %s: %w", l.backend.Description, err)
	}
	return resp, err
}

// planCmd is "esm plan".
func (a *app) planCmd() *cobra.Command {
	var f planFlags
	var output, out string
	var detailed bool
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "plan --env ENV [--config FILE] [-I DIR]... [--target RECORD]... [--changed-since REF] [--output text|json|markdown] [--out FILE] [--detailed-exitcode] [--state-dir DIR] [--backend datadog|prometheus] [--rules-dir DIR] [PATH...]",
		Short:                 "Show what apply would change in the monitors of an environment",
		Long: `Read the annotated schemas under each PATH (default: schemas at the
repository root, the nearest directory up from here holding .git or
esm.yaml, where esm.yaml and .esm/state are found too), compute the
monitors they ask for in the environment, and compare them with the
monitors the store holds with the environment's tag (esm-ENV). Nothing is
changed. Every PATH must exist and hold a schema file (.avdl, .avsc or
.avpr), as for "esm validate": a PATH without one is an error, never a
plan to delete every monitor.

The store is Datadog when DD_API_KEY and DD_APP_KEY are set (DD_SITE
selects the site, ESM_DATADOG_URL a full base URL), otherwise the local
state file DIR/ENV.json.
With --backend prometheus --rules-dir DIR (or backend: prometheus and
rules_dir in the environment's section of esm.yaml) it is the Prometheus
rules file DIR/esm-ENV.rules.yml instead (--format prometheusrule: a
PrometheusRule object, DIR/esm-ENV.prometheusrule.yaml), whose alerting
rules are planned with their expr, for, labels and annotations.

PATHs are the scope: the plan touches only the monitors whose schema file
(esm's esm_file tag) lies under a PATH, so "esm plan schemas/cart.avdl"
plans cart.avdl's monitors and leaves every other file's alone. Without
PATH, or with the schema root (or a directory holding it) among them, the
whole tree is planned: the monitors of a removed file, and monitors
without a file tag, are deleted when no annotation asks for them.
--target RECORD (repeatable; a full or simple record name) narrows the
plan to those records' monitors. The first line of a text plan says the
scope.

The plan is printed like "terraform plan": "+" create, "~" update with the
changed fields, "-" delete, then a summary line. --output json prints it as
JSON instead, and nothing else on standard output; --output markdown
prints the pull request comment the bot would post for it (schema errors
included, with exit status 1), links pointing at the repository's commit.

The monitors of the query files (their monitors: lists) under --queries
DIR (ESM_QUERIES; default queries at the repository root, when it exists)
are planned too; a PATH under that directory scopes the plan to those
query files' monitors.

--changed-since REF plans as the bot plans a pull request: the records
declared in the schema files changed between REF and the work tree (Git's
view: committed, staged, unstaged and untracked changes), before or after
the change, and the monitors they and the changed query files ask for;
other monitors are left alone.

--out FILE saves the plan, as "terraform plan -out": the changes, the
desired monitors and the current fields they were computed against, the
environment, the store and the scope, as versioned JSON (mode 0600).
"esm apply FILE" then applies exactly that plan, and refuses when a
monitor it touches changed since. The plan is printed as without --out.

Exit status: 0 on success, 1 on any error, a usage error included (every
schema problem is printed as file:line:col: message). With
--detailed-exitcode, 2 means success with changes to apply, and nothing
else: 0 then means no changes.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" && output != "markdown" {
				return usagef("--output must be text, json or markdown, not %q", output)
			}
			if out != "" && idl.IsSchemaFile(out) {
				return usagef("--out %s: a plan file must not be named as a schema file (.avdl, .avsc, .avpr): esm apply would read it as one", out)
			}
			ctx := cmd.Context()
			f.keepDiags = output == "markdown"
			l, err := a.loadPlan(ctx, &f, args, output == "text")
			if err != nil {
				return err
			}
			if _, prom := l.backend.Store.(*prometheus.Store); prom && out != "" {
				// A saved plan records Datadog-shaped monitors; the rules
				// file is rewritten whole from the schemas at apply.
				return usagef("--out: saved plans are for Datadog and the local state store, not the Prometheus backend; run esm apply --backend prometheus, which plans and writes the rules file in one step")
			}
			if output == "markdown" && l.diags.HasErrors() {
				if err := a.printComment(ctx, &f, l, nil); err != nil {
					return err
				}
				return errReported
			}
			resp, err := l.run(ctx, reconcile.Request{Env: f.env})
			if err != nil {
				return err
			}
			if out != "" {
				if err := savePlan(out, l, resp.Plan); err != nil {
					return err
				}
			}
			if output == "markdown" {
				err = a.printComment(ctx, &f, l, resp.Plan)
			} else if output == "json" {
				err = report.JSON(a.stdout, resp.Plan)
			} else {
				fmt.Fprintln(a.stdout, l.scopeLine)
				err = report.Text(a.stdout, resp.Plan, report.TextOptions{Color: isColorTerminal(a.stdout)})
			}
			if err != nil {
				return err
			}
			if out != "" {
				w := a.stderr
				if output == "text" {
					w = a.stdout
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "Saved the plan to %s. To apply exactly this plan, run: esm apply %s\n", out, out)
			}
			if detailed && resp.Plan.HasChanges() {
				return exitStatus(exitChanges)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "print the plan as `FORMAT`: text, json, or markdown (the bot's pull request comment)")
	cmd.Flags().StringVar(&f.changedSince, "changed-since", "", "plan only the monitors of the schema and query files changed between `REF` and the work tree, as the bot plans a pull request")
	cmd.Flags().StringVar(&out, "out", "", "save the plan to `FILE`, for \"esm apply FILE\" to apply exactly it")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit with status 2 when the plan has changes (0 when it has none, 1 on error)")
	return cmd
}

// printComment prints the bot's comment for the plan (nil when schema
// errors stopped it), part after part.
func (a *app) printComment(ctx context.Context, f *planFlags, l *loaded, plan *monitor.Plan) error {
	in := &report.CommentInput{Env: f.env, Command: "plan", Files: l.files, Diags: l.diags, Plan: plan}
	if l.repo != nil {
		in.RepoURL = l.repo.WebURL(ctx, os.Getenv)
		in.SHA, _ = l.repo.Head(ctx)
	}
	for i, body := range report.Comment(in, report.MaxCommentLength) {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		if _, err := io.WriteString(a.stdout, body); err != nil {
			return fmt.Errorf("write comment: %w", err)
		}
		if !strings.HasSuffix(body, "\n") {
			fmt.Fprintln(a.stdout)
		}
	}
	return nil
}

// warnUnknownTargets warns of a --target that names no record the
// schemas ask a monitor for: it may only delete the monitors of a record
// that is gone, or be misspelt.
func warnUnknownTargets(w io.Writer, targets []string, specs []annotations.Spec) {
	for _, t := range targets {
		want := monitor.RecordTagValue(t)
		found := false
		for i := range specs {
			rec := monitor.RecordTagValue(specs[i].Target.FullName)
			if rec == want || strings.HasSuffix(rec, "."+want) {
				found = true
				break
			}
		}
		if !found {
			fmt.Fprintf(w, "esm: warning: --target %s names no record with a monitor annotation in the schemas; only its existing monitors, if any, are planned\n", t)
		}
	}
}

// isColorTerminal reports whether w is a terminal that takes colours:
// not when NO_COLOR is set or TERM is dumb.
func isColorTerminal(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
