package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/esm-dev/esm/internal/alertmanager"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/reconcile"
)

// alertmanagerCmd is "esm alertmanager".
func (a *app) alertmanagerCmd() *cobra.Command {
	var env, configFile, secretsDir, mergeFile, queriesFlag string
	var importDirs, webhookURLs []string
	cmd := &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "alertmanager --env ENV [--config FILE] [-I DIR]... [--secrets-dir DIR] [--webhook-url CHANNEL=URL]... [--merge FILE] [--queries DIR] [PATH...]",
		Short:                 "Print the Alertmanager routing for the alerts of esm's Prometheus rules",
		Long: `Read the annotated schemas under each PATH (default: schemas at the
repository root), as "esm plan" does, and print an Alertmanager
configuration fragment for the environment: one receiver per channel the
@alert_channel annotations of monitors with a Prometheus form name (and
the alert_channel of the query files' monitors under --queries, as plan
reads them), and
under one parent route (matching esm_monitor=~".+" and the environment's
env label) a route per receiver that matches the channel in the alert's
esm_channels label, with continue: true, so that each alert reaches every
one of its channels. A channel only the critical (or only the warning)
severity notifies matches severity="critical" (or "warning") too.

A bare name or slack-NAME is the Slack channel #NAME (api_url_file), an
address with @ an e-mail (to:), pagerduty-NAME a PagerDuty service
(routing_key_file), opsgenie-NAME an Opsgenie integration (api_key_file),
victorops-KEY a VictorOps routing key, and webhook-NAME or any other
integration a webhook (url: a placeholder unless --webhook-url gives it).
Secrets are never written: the *_file paths point into --secrets-dir,
and the fragment's first lines list the files to provide.

--merge FILE prints FILE, an Alertmanager configuration with a root route,
with the fragment merged in: the parent route first among the root's
routes, the receivers after FILE's.

Schema problems are printed as file:line:col: message, and channels the
fragment cannot serve (named only under recovery or no_data) as warnings.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return usagef("--env is required: the environment whose alerts to route, such as prod")
			}
			urls := map[string]string{}
			for _, kv := range webhookURLs {
				ch, u, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(ch) == "" || u == "" {
					return usagef("--webhook-url wants CHANNEL=URL, not %q", kv)
				}
				if _, dup := urls[ch]; dup {
					return usagef("--webhook-url gives channel %s twice", ch)
				}
				urls[ch] = u
			}
			ws := findRepoRoot()
			whole := len(args) == 0
			if whole {
				args = []string{ws.schemas()}
			}
			qdir, explicit := ws.queriesDir(queriesFlag)
			args, qsrc, qproblems := splitQueryPaths(args, qdir, explicit, whole)
			if len(qproblems) > 0 {
				return errors.Join(qproblems...)
			}
			cfg, err := reconcile.LoadConfig(ws.configFile(configFile))
			if err != nil {
				if msg := strings.TrimSpace(err.Error()); strings.Contains(msg, "\n") {
					fmt.Fprintln(a.stderr, msg) // every problem of the file, one a line
					return errReported
				}
				return err
			}
			e, err := cfg.Env(env)
			if err != nil {
				return err
			}
			files, problems := findSchemaFiles(args)
			if len(problems) > 0 {
				return errors.Join(problems...)
			}
			specs, diags, err := reconcile.Specs(cmd.Context(), cfg, env, files, idl.Options{ImportPaths: importDirs})
			if err != nil {
				return fmt.Errorf("read schemas: %w", err)
			}
			specs, diags = withQuerySpecs(cfg, env, qsrc, specs, diags)
			printDiagnostics(a.stderr, diags)
			if diags.HasErrors() {
				fmt.Fprintf(a.stderr, "esm: %s in the schemas; no routing was printed\n", plural(len(diags.Errors()), "error"))
				return errReported
			}
			frag, warnings, err := alertmanager.Build(specs, alertmanager.Options{
				Env: env, EnvTag: e.Annotations().EnvTag, SecretsDir: secretsDir, WebhookURLs: urls,
			})
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(a.stderr, w.String())
			}
			out, err := frag.YAML()
			if mergeFile != "" {
				base, rerr := os.ReadFile(mergeFile)
				if rerr != nil {
					return fmt.Errorf("read --merge file: %w", rerr)
				}
				out, err = frag.MergeInto(mergeFile, base)
			}
			if err != nil {
				return err
			}
			if _, err := a.stdout.Write(out); err != nil {
				return fmt.Errorf("write alertmanager configuration: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "the `ENV`ironment whose alerts to route, such as prod (required)")
	addConfigFlag(cmd, &configFile)
	addImportDirFlag(cmd, &importDirs)
	cmd.Flags().StringVar(&secretsDir, "secrets-dir", alertmanager.DefaultSecretsDir, "`DIR` the receivers' *_file paths (Slack URL, PagerDuty and Opsgenie keys) point into")
	cmd.Flags().StringArrayVar(&webhookURLs, "webhook-url", nil, "the URL of a webhook channel's receiver, as `CHANNEL=URL` (repeatable; default: a placeholder URL)")
	addQueriesFlag(cmd, &queriesFlag)
	cmd.Flags().StringVar(&mergeFile, "merge", "", "print the Alertmanager configuration `FILE` with the fragment merged in")
	return cmd
}
