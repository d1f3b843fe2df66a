package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/datadog"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/localstore"
	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/planfile"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/report"
)

// savePlan writes the plan l computed to path ("esm plan --out FILE").
func savePlan(path string, l *loaded, p *monitor.Plan) error {
	f := &planfile.File{
		ESMVersion: esmVersion(),
		CreatedAt:  time.Now().UTC().Truncate(time.Second),
		Backend:    savedBackend(l.backend, os.Getenv),
		Scope:      l.scopeLine,
		Plan:       p,
	}
	return planfile.Write(path, f)
}

// savedBackend names the store of b as a saved plan records it: the
// local state file's absolute path, or Datadog's endpoint as DD_SITE and
// ESM_DATADOG_URL give it (getenv is os.Getenv, or a fake in tests).
func savedBackend(b reconcile.Backend, getenv func(string) string) planfile.Backend {
	if s, ok := b.Store.(*localstore.Store); ok {
		path, err := filepath.Abs(s.Path())
		if err != nil {
			path = s.Path()
		}
		return planfile.Backend{Kind: planfile.Local, Description: b.Description, StateFile: path}
	}
	endpoint := datadogEndpoint(datadog.Config{Site: strings.TrimSpace(getenv(envSite)), URL: strings.TrimSpace(getenv(envDatadogURL))})
	return planfile.Backend{Kind: planfile.Datadog, Description: b.Description, Endpoint: endpoint}
}

// savedPlanArg returns the saved plan among the arguments of "esm apply":
// an argument that is a file (not a directory) whose name is not a schema
// file's (.avdl, .avsc, .avpr) and whose content is JSON (its first
// character other than white space is "{"). Any other argument is a
// schema PATH. A saved plan is applied alone: with other arguments it is
// a usage error.
func savedPlanArg(args []string) (string, bool, error) {
	for _, arg := range args {
		if idl.IsSchemaFile(arg) || !isJSONFile(arg) {
			continue
		}
		if len(args) > 1 {
			return "", false, usagef("%s is a saved plan: esm apply FILE applies it alone, without other PATHs", arg)
		}
		return arg, true, nil
	}
	return "", false, nil
}

// isJSONFile reports whether path is a regular file (or a link to one)
// whose first character other than white space is "{".
func isJSONFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return false
	}
	head := make([]byte, 512)
	for {
		n, err := f.Read(head)
		if b := bytes.TrimLeft(head[:n], " \t\r\n"); len(b) > 0 {
			return b[0] == '{'
		}
		if err != nil {
			return false
		}
	}
}

// savedApply is what "esm apply FILE" needs besides the plan flags.
type savedApply struct {
	path            string
	output          string
	allowMassDelete bool
}

// applySaved is "esm apply FILE": it reads the saved plan, checks that
// the flags and the store agree with it, and applies exactly its changes
// through reconcile.ApplySaved, without asking (the plan was reviewed
// when it was made).
func (a *app) applySaved(ctx context.Context, cmd *cobra.Command, f *planFlags, s savedApply) error {
	pf, err := planfile.Read(s.path)
	if err != nil {
		return err
	}
	env := pf.Plan.Env
	switch {
	case f.env != "" && f.env != env:
		return usagef("--env %s contradicts the saved plan %s, made for environment %s", f.env, s.path, env)
	case len(f.targets) > 0:
		return usagef("--target: the scope of the saved plan %s was set when it was made; make a new plan with --target", s.path)
	case len(f.importDirs) > 0:
		return usagef("-I: the saved plan %s reads no schemas", s.path)
	}
	ws := findRepoRoot()
	cfg, err := a.loadConfig(ws.configFile(f.config), env)
	if err != nil {
		return err
	}
	stateDir := ws.stateDir("")
	if pf.Backend.Kind == planfile.Local {
		stateDir = filepath.Dir(pf.Backend.StateFile)
	}
	if cmd.Flags().Changed("state-dir") {
		want, _ := filepath.Abs(filepath.Join(f.stateDir, env+".json"))
		if pf.Backend.Kind != planfile.Local || want != pf.Backend.StateFile {
			return usagef("--state-dir %s contradicts the saved plan %s, made against %s", f.stateDir, s.path, pf.Backend.Description)
		}
	}
	backend, err := openStore(env, stateDir, os.Getenv)
	if err != nil {
		return err
	}
	if got := savedBackend(backend, os.Getenv); !got.Same(pf.Backend) {
		return fmt.Errorf("the saved plan %s was made against %s, but this apply would use %s: apply it with the same DD_API_KEY, DD_APP_KEY, DD_SITE and ESM_DATADOG_URL as the plan", s.path, pf.Backend.Description, backend.Description)
	}
	jsonOut := s.output == "json"
	if !jsonOut {
		fmt.Fprintf(a.stderr, "using %s\napplying the saved plan %s, made %s\n", backend.Description, s.path, pf.CreatedAt.Format(time.RFC3339))
		fmt.Fprintln(a.stdout, pf.Scope)
		if err := report.Text(a.stdout, pf.Plan, report.TextOptions{Color: isColorTerminal(a.stdout)}); err != nil {
			return err
		}
	}
	resp, err := reconcile.ApplySaved(ctx, reconcile.SavedRequest{
		Plan:    pf.Plan,
		Store:   backend.Store,
		Options: monitor.ApplyOptions{MaxDeletes: cfg.MaxDeletes(env), AllowMassDelete: s.allowMassDelete},
		Waiting: func() {
			fmt.Fprintln(a.stderr, "waiting for another esm run to finish with the state store (it holds the lock)")
		},
	})
	var stale *reconcile.StalePlanError
	if !jsonOut && errors.As(err, &stale) {
		fmt.Fprintf(a.stderr, "esm: the saved plan %s is stale: %s it touches changed since it was made; nothing was changed:\n", s.path, plural(len(stale.Monitors), "monitor"))
		for _, m := range stale.Monitors {
			fmt.Fprintf(a.stderr, "  %s\n", m)
		}
		fmt.Fprintf(a.stderr, "Make a new plan (esm plan --env %s --out %s) and review it.\n", env, s.path)
		return errReported
	}
	return a.applyOutcome(resp, err, jsonOut)
}
