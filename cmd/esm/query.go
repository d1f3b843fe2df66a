package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/queries"
	"github.com/esm-dev/esm/internal/queryfile"
)

// defaultQueriesDir is where query files are read from by default.
const defaultQueriesDir = "queries"

// queryCmd is "esm query".
func (a *app) queryCmd() *cobra.Command {
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "query COMMAND",
		Short:                 "Work with the data-quality query monitors under queries/",
		Args:                  rangeArgs(0, 0, "a command"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("query: missing command (run)")
		},
	}
	cmd.AddCommand(a.queryRunCmd())
	return cmd
}

// queryRunFlags are the flags of "esm query run".
type queryRunFlags struct {
	config  string
	queries string
}

// queryRunCmd is "esm query run".
func (a *app) queryRunCmd() *cobra.Command {
	var f queryRunFlags
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "run [--config FILE] [--queries DIR] NAME...",
		Short:                 "Run queries once and print their rows and the series they would export",
		Long: `Run each named query once, read-only, against the database its file names
in db:, and print its rows and the series "esm serve" would export for it.
Nothing is stored: the result store is left as it is.

Every query file under --queries (default queries, or ESM_QUERIES) is
checked first; a problem is printed as file:line:col: message. Databases
come from esm.yaml's databases section (--config, or ESM_CONFIG), their
DSNs from the environment variables named by dsn_env.

The exit status is 1 if a query file is invalid or a query fails.`,
		Args: rangeArgs(1, 1<<20, "NAME..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			fromEnv := func(flag, env string, v *string) {
				if !cmd.Flags().Changed(flag) {
					if e, ok := os.LookupEnv(env); ok {
						*v = e
					}
				}
			}
			fromEnv("config", "ESM_CONFIG", &f.config)
			fromEnv("queries", "ESM_QUERIES", &f.queries)
			return a.runQueries(cmd.Context(), f, args, os.Getenv)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "read databases from `FILE` (default: esm.yaml when it exists)")
	cmd.Flags().StringVar(&f.queries, "queries", defaultQueriesDir, "read the query files under `DIR` (ESM_QUERIES)")
	return cmd
}

// runQueries loads the configuration and the query files, runs the named
// queries and prints their results.
func (a *app) runQueries(ctx context.Context, f queryRunFlags, names []string, getenv func(string) string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		fmt.Fprintln(a.stderr, strings.TrimSpace(err.Error()))
		return errReported
	}
	all, list := queryfile.LoadDir(f.queries, queryfile.ParseOptions{Databases: cfg.Databases.Names()})
	if len(list) > 0 {
		printDiagnostics(a.stderr, list)
	}
	if list.HasErrors() {
		return errReported
	}
	byName := map[string]*queryfile.Query{}
	var known []string
	for _, q := range all {
		byName[q.Name] = q
		known = append(known, q.Name)
	}
	var selected []*queryfile.Query
	var dbs []queries.Database
	opened := map[string]bool{}
	for _, name := range names {
		q, ok := byName[name]
		if !ok {
			if len(known) == 0 {
				return fmt.Errorf("unknown query %q: %s has no queries", name, f.queries)
			}
			return fmt.Errorf("unknown query %q; queries under %s: %s", name, f.queries, strings.Join(known, ", "))
		}
		selected = append(selected, q)
		if opened[q.DB] {
			continue
		}
		opened[q.DB] = true
		db, _ := cfg.Databases.Lookup(q.DB) // LoadDir checked that it exists
		dsn, err := db.ResolveDSN(cfg.File, getenv)
		if err != nil {
			return err
		}
		dbs = append(dbs, queries.Database{Name: db.Name, Driver: db.Driver, DSN: dsn, MaxOpenConns: db.MaxOpenConns})
	}
	pool, err := queries.Open(dbs, cfg.Queries.MaxConcurrentQueries)
	if err != nil {
		return err
	}
	defer pool.Close()

	failed := 0
	for i, q := range selected {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		start := time.Now()
		rows, err := pool.Run(ctx, q)
		took := time.Since(start)
		if took >= time.Millisecond {
			took = took.Round(time.Millisecond)
		} else {
			took = took.Round(time.Microsecond)
		}
		if err != nil {
			failed++
			fmt.Fprintf(a.stderr, "esm: %s\n", oneLine(err.Error()))
			continue
		}
		if err := printQueryResult(a.stdout, q, rows, took); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

// printQueryResult prints a query's rows as a table and the series they
// export.
func printQueryResult(w io.Writer, q *queryfile.Query, rows []queries.Row, took time.Duration) error {
	noun := "rows"
	if len(rows) == 1 {
		noun = "row"
	}
	fmt.Fprintf(w, "query %s (db %s): %d %s in %s\n", q.Name, q.DB, len(rows), noun, took)
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(append(append([]string{}, q.Labels...), "value"), "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, "  "+strings.Join(append(append([]string{}, r.Labels...), fmt.Sprint(r.Value)), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range queries.Series(q, rows) {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}
