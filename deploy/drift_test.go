package deploy_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/idl"
	"github.com/esm-dev/esm/internal/reconcile"
)

// TestDriftCronJob checks the nightly drift check of drift-cronjob.yaml:
// it runs "esm plan --env ENV --detailed-exitcode" once a night, fails its
// Job at once on exit status 2 (changes: drift or pending schema changes)
// and retries only errors, has both Datadog keys (without them esm would
// plan against its empty embedded store), and sees the schemas of the
// ConfigMap esm-schemas at schemas/ in its working directory. Those
// schemas then load as esm plan loads them and name their files
// schemas/<file>, as the bot names them, so that an unchanged tree plans
// no change.
func TestDriftCronJob(t *testing.T) {
	docs := readDocs(t, "drift-cronjob.yaml")
	if len(docs) != 1 || docs[0].obj.Kind != "CronJob" || docs[0].obj.APIVersion != "batch/v1" {
		t.Fatalf("drift-cronjob.yaml: want one batch/v1 CronJob, have %v", docs)
	}
	d := docs[0]
	var cj cronJobSpec
	if err := d.obj.Spec.Decode(&cj); err != nil {
		t.Fatalf("%s: spec: %v", d, err)
	}
	if !nightly(cj.Schedule) {
		t.Errorf("%s: schedule %q does not run once a night (minute hour * * *)", d, cj.Schedule)
	}
	if cj.TimeZone == "" {
		t.Errorf("%s: no timeZone: the schedule would follow the controller's zone", d)
	}
	if cj.ConcurrencyPolicy != "Forbid" {
		t.Errorf("%s: concurrencyPolicy %q, want Forbid", d, cj.ConcurrencyPolicy)
	}
	job := cj.JobTemplate.Spec
	spec := job.Template.Spec
	if spec.RestartPolicy != "Never" {
		t.Errorf("%s: restartPolicy %q: podFailurePolicy needs Never", d, spec.RestartPolicy)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: want one container", d)
	}
	c := spec.Containers[0]
	failsOn2 := job.PodFailurePolicy != nil && slices.ContainsFunc(job.PodFailurePolicy.Rules, func(r podFailureRule) bool {
		e := r.OnExitCodes
		return r.Action == "FailJob" && e != nil && e.ContainerName == c.Name && e.Operator == "In" && slices.Contains(e.Values, 2)
	})
	if !failsOn2 {
		t.Errorf("%s: no podFailurePolicy rule FailJob on exit code 2 of container %s: a drift finding would be retried", d, c.Name)
	}
	if job.BackoffLimit == nil || *job.BackoffLimit < 1 {
		t.Errorf("%s: backoffLimit below 1: an error reaching Datadog would fail the check at once", d)
	}

	if len(c.Args) == 0 || c.Args[0] != "plan" || !slices.Contains(c.Args, "--detailed-exitcode") {
		t.Fatalf("%s: args %q, want plan ... --detailed-exitcode", d, c.Args)
	}
	env, ok := argValue(c.Args, "--env")
	if !ok {
		t.Fatalf("%s: args %q: no --env", d, c.Args)
	}
	if env != "prod" {
		t.Errorf("%s: --env %s, want prod, as the bot and the collector", d, env)
	}
	for _, key := range []string{"DD_API_KEY", "DD_APP_KEY"} {
		i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == key })
		switch {
		case i < 0:
			t.Errorf("%s: no %s: esm would plan against its embedded store", d, key)
		case c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil || c.Env[i].ValueFrom.SecretKeyRef.Name != "esm-datadog":
			t.Errorf("%s: %s is not taken from the Secret esm-datadog", d, key)
		case c.Env[i].ValueFrom.SecretKeyRef.Optional:
			t.Errorf("%s: %s is optional: without it esm would plan against its empty embedded store", d, key)
		}
	}

	// The schemas: esm plan without PATH reads schemas/ in the working
	// directory (no .git or esm.yaml above it in the image).
	paths := slices.DeleteFunc(slices.Clone(c.Args[1:]), func(a string) bool { return strings.HasPrefix(a, "-") })
	for _, flag := range []string{"--env", "--config"} {
		if v, ok := argValue(c.Args, flag); ok {
			paths = slices.DeleteFunc(paths, func(a string) bool { return a == v })
		}
	}
	if len(paths) > 0 {
		t.Errorf("%s: args %q: a PATH scopes the plan; without one it covers the whole tree at schemas/", d, c.Args)
	}
	if !path.IsAbs(c.WorkingDir) {
		t.Fatalf("%s: workingDir %q: want an absolute directory holding schemas/", d, c.WorkingDir)
	}
	name, key, ok := mountedFile(spec, c, path.Join(c.WorkingDir, "schemas"))
	if !ok || key != "." || name != "esm-schemas" {
		t.Fatalf("%s: %s/schemas is not the ConfigMap esm-schemas mounted as a directory", d, c.WorkingDir)
	}
	applied, _ := allDocs(t)
	cms := configMaps(t, applied)
	cfgPath, _ := argValue(c.Args, "--config")
	cfgMap, cfgKey, ok := mountedFile(spec, c, cfgPath)
	if !ok {
		t.Fatalf("%s: --config %s is not in a mounted ConfigMap", d, cfgPath)
	}
	conf, err := config.Parse(cfgPath, []byte(cms[cfgMap][cfgKey]))
	if err != nil {
		t.Fatalf("%s: ConfigMap %s: %v", d, cfgMap, err)
	}

	work := t.TempDir()
	mnt := kubeletLayout(t, cms[name])
	if err := os.Symlink(mnt, filepath.Join(work, "schemas")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	var files []string
	for k := range cms[name] {
		if idl.IsSchemaFile(k) {
			files = append(files, filepath.Join("schemas", k))
		}
	}
	sort.Strings(files)
	specs, diags, err := reconcile.Specs(context.Background(), conf, env, files, idl.Options{})
	if err != nil {
		t.Fatalf("%s: read the schemas: %v", d, err)
	}
	if diags.HasErrors() {
		t.Fatalf("%s: the schemas of esm-schemas: %v", d, diags)
	}
	if len(specs) == 0 {
		t.Fatalf("%s: the schemas of esm-schemas ask for no monitor: the check would plan to delete every monitor", d)
	}
	for _, s := range specs {
		if !strings.HasPrefix(s.Pos.File, "schemas/") || strings.Count(s.Pos.File, "/") != 1 {
			t.Errorf("%s: monitor %q names its file %q, not schemas/<file> as the bot does", d, s.Name, s.Pos.File)
		}
	}
}

// nightly reports whether a cron schedule runs once a day: a fixed minute
// and hour, every day.
func nightly(schedule string) bool {
	f := strings.Fields(schedule)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return false
	}
	minute, err1 := strconv.Atoi(f[0])
	hour, err2 := strconv.Atoi(f[1])
	return err1 == nil && err2 == nil && minute >= 0 && minute < 60 && hour >= 0 && hour < 24
}
