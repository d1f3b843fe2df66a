package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
	"github.com/esm-dev/esm/internal/report"
)

// confirmPrompt is the question "esm apply" asks on a terminal.
const confirmPrompt = "Apply these changes? Only 'yes' will be accepted: "

// applyInput is where "esm apply" reads its confirmation: standard input,
// asked only when it is a terminal. Tests replace it.
var applyInput = struct {
	r          io.Reader
	isTerminal func() bool
}{
	r:          os.Stdin,
	isTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
}

// applyCmd is "esm apply".
func (a *app) applyCmd() *cobra.Command {
	var f planFlags
	var yes, allowMassDelete bool
	var output string
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "apply --env ENV [--config FILE] [-I DIR]... [--target RECORD]... [--yes] [--output text|json] [--allow-mass-delete] [--state-dir DIR] [--backend datadog|prometheus] [--rules-dir DIR] [PATH...] | apply [--config FILE] [--output text|json] [--allow-mass-delete] FILE",
		Short:                 "Create, update and delete the monitors of an environment to match the schemas",
		Long: `Compute the plan as "esm plan" does, print it and carry it out: create the
monitors the annotations ask for, update the ones that differ, and delete
the monitors tagged esm-ENV that no annotation asks for any more. Monitors
without the environment's tag are never touched.

When standard input is a terminal, esm asks for confirmation first (--yes
skips the question); in pipes and CI it applies without asking. A plan that
deletes more monitors than the environment's max_deletes (default 10) is
refused unless --allow-mass-delete is given; deleting newer duplicates of
monitors that are kept (left by concurrent runs) heals the store and does
not count.

Concurrent runs never duplicate a monitor: on the local state store, apply
holds the state directory's lock from listing the monitors to its last
change (another apply waits for it); on Datadog, which has no lock, each
create first looks for a monitor of the same name and tag, and afterwards
keeps the oldest of any twins a concurrent run created.

"esm apply FILE" applies a plan saved by "esm plan --out FILE", as
"terraform apply FILE" does: exactly its changes, not a fresh plan of the
schemas, in the environment and against the store it was made for (a
flag that contradicts the file, such as another --env or --state-dir,
and --target or -I, are usage errors; DD_API_KEY and DD_APP_KEY must
select the same store). It takes the lock, lists the monitors and
refuses, changing nothing, when any monitor the plan touches changed
since the plan was made: an updated or deleted monitor whose fields
differ from the saved ones or that is gone, or a monitor with the name of
a create that exists now; the error names each one. A saved plan was
reviewed when it was made: it is applied without asking, even on a
terminal, and --output json needs no --yes; the mass-delete guard holds.
An argument is a saved plan when it is a file not named .avdl, .avsc or
.avpr whose content is JSON; any other argument is a schema PATH.

With --backend prometheus, apply rewrites the rules file
DIR/esm-ENV.rules.yml atomically, leaving the other files of DIR alone, and
with --prometheus-url URL asks Prometheus to reload (POST URL/-/reload),
saying whether it did.

--output json (with --yes) prints one JSON object instead: the plan as
"esm plan --output json" prints it, "applied", the "error" that stopped
the run if any, and one result per change (action, name, id, result:
created, updated, deleted or failed, error), with a summary.

Exit status: 0 when every change was applied (or there was nothing to do),
1 on any error (a usage error too), a refused or declined plan, or when
any change failed (each change's outcome is printed).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usagef("--output must be text or json, not %q", output)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			if file, ok, err := savedPlanArg(args); err != nil {
				return err
			} else if ok {
				return a.applySaved(ctx, cmd, &f, savedApply{path: file, output: output, allowMassDelete: allowMassDelete})
			}
			jsonOut := output == "json"
			if jsonOut && !yes {
				// As terraform apply -json: no question can be asked on a
				// stream of JSON.
				return usagef("--output json needs --yes: esm cannot ask for confirmation in JSON")
			}
			l, err := a.loadPlan(ctx, &f, args, !jsonOut)
			if err != nil {
				return err
			}
			var printErr error
			resp, err := l.run(ctx, reconcile.Request{
				Env:     f.env,
				Apply:   true,
				Options: monitor.ApplyOptions{MaxDeletes: l.cfg.MaxDeletes(f.env), AllowMassDelete: allowMassDelete},
				Waiting: func() {
					fmt.Fprintln(a.stderr, "waiting for another esm run to finish with the state store (it holds the lock)")
				},
				Planned: func(p *monitor.Plan) {
					if !jsonOut {
						fmt.Fprintln(a.stdout, l.scopeLine)
						printErr = report.Text(a.stdout, p, report.TextOptions{Color: isColorTerminal(a.stdout)})
					}
				},
				Confirm: func(context.Context, *monitor.Plan) error {
					if printErr != nil {
						return printErr
					}
					if yes || !applyInput.isTerminal() {
						return nil
					}
					ok, err := a.confirm(applyInput.r)
					if err != nil {
						return err
					}
					if !ok {
						return reconcile.ErrDeclined
					}
					return nil
				},
			})
			if err == nil && printErr != nil {
				return printErr
			}
			return a.applyOutcome(resp, err, jsonOut)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking for confirmation")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "print the plan and the outcome as `FORMAT`: text or json (json needs --yes)")
	cmd.Flags().BoolVar(&allowMassDelete, "allow-mass-delete", false, "apply a plan that deletes more monitors than the environment's max_deletes")
	return cmd
}

// applyOutcome prints what an apply did (the JSON object with jsonOut,
// else the result of each change) and returns the command's error: err,
// or errReported when a change failed or the apply was declined.
func (a *app) applyOutcome(resp *reconcile.Response, err error, jsonOut bool) error {
	if jsonOut && resp != nil && resp.Plan != nil {
		if werr := report.ApplyJSON(a.stdout, resp.Plan, resp.Applied, resp.Results, err); werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		if resp.Failed() {
			return errReported
		}
		return nil
	}
	switch {
	case errors.Is(err, reconcile.ErrDeclined):
		fmt.Fprintln(a.stderr, "Apply cancelled: nothing was changed.")
		return errReported
	case err != nil:
		return err
	case !resp.Applied:
		return nil
	}
	fmt.Fprintln(a.stdout)
	if err := report.Results(a.stdout, resp.Results); err != nil {
		return err
	}
	for _, n := range resp.Notes {
		fmt.Fprintln(a.stdout, n)
	}
	if resp.Failed() {
		return errReported
	}
	return nil
}

// confirm asks whether to apply and reports whether the answer is "yes".
func (a *app) confirm(r io.Reader) (bool, error) {
	fmt.Fprintf(a.stdout, "\n%s", confirmPrompt)
	answer, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read confirmation: %w", err)
	}
	fmt.Fprintln(a.stdout)
	return strings.TrimSpace(answer) == "yes", nil
}
