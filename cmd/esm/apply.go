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
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "apply --env ENV [--config FILE] [--yes] [--allow-mass-delete] [--state-dir DIR] [PATH...]",
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

Exit status: 0 when every change was applied (or there was nothing to do),
1 on any error (a usage error too), a refused or declined plan, or when
any change failed (each change's outcome is printed).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			unlock := holdLock(&f, a.stderr)
			defer unlock()
			pl, err := a.makePlan(ctx, &f, args, true)
			if err != nil {
				return err
			}
			if err := report.Text(a.stdout, pl.plan, report.TextOptions{Color: isColorTerminal(a.stdout)}); err != nil {
				return err
			}
			if !pl.plan.HasChanges() {
				return nil
			}
			opts := monitor.ApplyOptions{MaxDeletes: pl.cfg.MaxDeletes(f.env), AllowMassDelete: allowMassDelete}
			if err := monitor.CheckGuard(pl.plan, opts); err != nil {
				return err
			}
			if !yes && applyInput.isTerminal() {
				ok, err := a.confirm(applyInput.r)
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(a.stderr, "Apply cancelled: nothing was changed.")
					return errReported
				}
			}
			results, err := monitor.Apply(ctx, pl.store, pl.plan, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout)
			if err := report.Results(a.stdout, results); err != nil {
				return err
			}
			for _, r := range results {
				if r.Err != nil {
					return errReported
				}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking for confirmation")
	cmd.Flags().BoolVar(&allowMassDelete, "allow-mass-delete", false, "apply a plan that deletes more monitors than the environment's max_deletes")
	return cmd
}

// holdLock makes f's plan take the store's lock, when the store has one
// (monitor.Locker: the local state store), before it lists the monitors,
// and returns the function that releases it: the lock is held across the
// plan, the question and the apply, so that concurrent runs take turns.
func holdLock(f *planFlags, stderr io.Writer) (unlock func()) {
	release := func() {}
	f.beforeList = func(ctx context.Context, store monitor.Store) error {
		l, ok := store.(monitor.Locker)
		if !ok {
			return nil
		}
		u, err := monitor.Lock(ctx, l, func() {
			fmt.Fprintln(stderr, "waiting for another esm run to finish with the state store (it holds the lock)")
		})
		if err != nil {
			return err
		}
		release = u
		return nil
	}
	return func() { release() }
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
