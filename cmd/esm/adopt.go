package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/monitor"
	"github.com/esm-dev/esm/internal/reconcile"
)

// adoptCmd is "esm adopt".
func (a *app) adoptCmd() *cobra.Command {
	var f planFlags
	var yes bool
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "adopt --env ENV [--config FILE] [-I DIR]... [--target RECORD]... [--yes] [--state-dir DIR] [PATH...]",
		Short:                 "Take over existing monitors made outside esm that have the name esm would give a record",
		Long: `Find the unmanaged monitors (those with none of esm's tags: no esm-*,
esm_* or managed_by:esm tag, so no monitor of another esm environment
either) whose name is exactly the one esm gives a monitor the schemas ask
for in the environment, within the scope that "esm plan" takes from the
PATHs and --target, and show them. Names that a monitor tagged esm-ENV
already has are left out: the plan updates that one.

Without --yes nothing is changed. With --yes each one is tagged so that
esm manages it: its current definition is kept and esm's identity tags
are added (esm-ENV, the record's and the schema file's esm_record and
esm_file tags, managed_by:esm), so that the next "esm plan" shows an
ordinary update of the fields that differ instead of a second monitor.
Adopt never creates nor deletes a monitor. A name that several
unmanaged monitors have is reported and none of them is adopted: delete
or rename all but one first.

The store, the configuration, the PATHs and the flags are those of
"esm plan"; on the local state store, --yes holds the state directory's
lock from listing the monitors to the last update.

Exit status: 0 on success (also when there is nothing to adopt), 1 on
any error, or when tagging any monitor failed.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			l, err := a.loadPlan(ctx, &f, args, true)
			if err != nil {
				return err
			}
			resp, err := reconcile.Adopt(ctx, reconcile.AdoptRequest{
				Env: f.env, Specs: l.specs, Backend: l.backend, Scope: l.scope, Apply: yes,
				Waiting: func() {
					fmt.Fprintln(a.stderr, "waiting for another esm run to finish with the state store (it holds the lock)")
				},
			})
			if err != nil {
				return fmt.Errorf("adopt against %s: %w", l.backend.Description, err)
			}
			printAdoption(a.stdout, resp)
			if resp.Failed() {
				return errReported
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "tag the monitors found so that esm manages them (without it, nothing is changed)")
	return cmd
}

// printAdoption writes what an adoption found or did, one monitor a line,
// then what to do next or a summary.
func printAdoption(w io.Writer, resp *reconcile.AdoptResponse) {
	for i := range resp.Ambiguous {
		t := &resp.Ambiguous[i]
		fmt.Fprintf(w, "cannot adopt %q%s: %d unmanaged monitors have this name (ids %s); delete or rename all but one\n",
			t.Desired.Name, from(t.Desired), len(t.Monitors), t.IDs())
	}
	if len(resp.Candidates) == 0 {
		fmt.Fprintln(w, "No unmanaged monitor has the name of a monitor in scope: nothing to adopt.")
		return
	}
	failed := 0
	for _, c := range resp.Candidates {
		switch {
		case !resp.Applied:
			fmt.Fprintf(w, "would adopt monitor %d %q%s\n", c.Monitor.ID, c.Desired.Name, from(c.Desired))
		case c.Err != nil:
			failed++
			fmt.Fprintf(w, "failed to adopt monitor %d %q%s: %s\n", c.Monitor.ID, c.Desired.Name, from(c.Desired), oneLine(c.Err.Error()))
		default:
			fmt.Fprintf(w, "adopted monitor %d %q%s\n", c.Monitor.ID, c.Desired.Name, from(c.Desired))
		}
	}
	if !resp.Applied {
		fmt.Fprintln(w, "Run esm adopt --yes to adopt them.")
		return
	}
	summary := fmt.Sprintf("Adopt complete: %d adopted", len(resp.Candidates)-failed)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	fmt.Fprintln(w, summary+".")
}

// from says where a desired monitor comes from: " for RECORD (FILE)".
func from(d *monitor.Desired) string {
	s := " for " + d.Source.Record
	if d.Source.File != "" {
		s += " (" + d.Source.File + ")"
	}
	return s
}
