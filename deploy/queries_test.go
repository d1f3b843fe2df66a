package deploy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esm-dev/esm/internal/config"
	"github.com/esm-dev/esm/internal/queries"
	"github.com/esm-dev/esm/internal/queryfile"
)

// TestQueries lays out the query files' ConfigMap as the kubelet mounts
// it, loads it with the queries' loader against the databases of the
// pod's esm.yaml, runs the queries on their SQLite databases, and checks
// that the result store is on S3 or on a writable volume of the pod (the
// root filesystem is read-only) that outlives it.
func TestQueries(t *testing.T) {
	applied, _ := allDocs(t)
	cms := configMaps(t, applied)
	claims := map[string]bool{}
	for _, d := range applied {
		if d.obj.Kind == "PersistentVolumeClaim" {
			claims[d.obj.Metadata.Name] = true
		}
	}
	checked := 0
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		for _, c := range spec.Containers {
			dir, ok := env(c, "ESM_QUERIES")
			if !ok {
				continue
			}
			checked++
			where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
			name, key, ok := mountedFile(spec, c, dir)
			if !ok || key != "." {
				t.Errorf("%s: ESM_QUERIES %s is not a mounted ConfigMap directory", where, dir)
				continue
			}
			for _, m := range c.VolumeMounts {
				if m.MountPath == dir && m.SubPath != "" {
					t.Errorf("%s: %s mounted with subPath: the kubelet would not update it and esm would not reload", where, dir)
				}
			}
			confPath, _ := env(c, "ESM_CONFIG")
			cmName, cmKey, _ := mountedFile(spec, c, confPath)
			conf, err := config.Parse(confPath, []byte(cms[cmName][cmKey]))
			if err != nil {
				t.Errorf("%s: ESM_CONFIG: %v", where, err)
				continue
			}
			mnt := kubeletLayout(t, cms[name])
			qs, list := queryfile.LoadDir(mnt, queryfile.ParseOptions{Databases: conf.Databases.Names()})
			if len(list) > 0 {
				t.Errorf("%s: ConfigMap %s:\n%v", where, name, list)
			}
			if len(qs) == 0 {
				t.Errorf("%s: ConfigMap %s: no queries", where, name)
			}
			runSQLiteQueries(t, where, conf, qs)
			checkResultStore(t, where, spec, c, conf.Queries.ResultStore, claims)
		}
	}
	if checked == 0 {
		t.Error("no container sets ESM_QUERIES")
	}
}

// runSQLiteQueries runs the queries whose database is SQLite, as esm
// serve would: the example must work with no server.
func runSQLiteQueries(t *testing.T, where string, conf *config.Config, qs []*queryfile.Query) {
	t.Helper()
	var dbs []queries.Database
	for _, db := range conf.Databases.List {
		if db.Driver == queries.DriverSQLite && db.DSN == ":memory:" {
			dbs = append(dbs, queries.Database{Name: db.Name, Driver: db.Driver, DSN: db.DSN})
		}
	}
	pool, err := queries.Open(dbs, 1)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer pool.Close()
	for _, q := range qs {
		if _, ok := conf.Databases.Lookup(q.DB); !ok {
			continue
		}
		db, _ := conf.Databases.Lookup(q.DB)
		if db.Driver != queries.DriverSQLite || db.DSN != ":memory:" {
			continue
		}
		rows, err := pool.Run(context.Background(), q)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		} else if len(rows) == 0 {
			t.Errorf("%s: query %s: no rows", where, q.Name)
		}
	}
}

// checkResultStore checks that the result store is S3, or a directory on
// a volume mounted read-write that is a PersistentVolumeClaim of the
// manifests (an emptyDir would lose the results with the pod).
func checkResultStore(t *testing.T, where string, spec podSpec, c container, store string, claims map[string]bool) {
	t.Helper()
	if strings.HasPrefix(store, "s3://") {
		return
	}
	if !filepath.IsAbs(store) {
		t.Errorf("%s: queries.result_store %q: want an absolute path on a volume (the working directory is the read-only root) or s3://", where, store)
		return
	}
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, store)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			switch {
			case v.PersistentVolumeClaim == nil:
				t.Errorf("%s: queries.result_store %s is on volume %s, which is no PersistentVolumeClaim: a restart would lose the results", where, store, v.Name)
			case !claims[v.PersistentVolumeClaim.ClaimName]:
				t.Errorf("%s: volume %s: no PersistentVolumeClaim %q in the manifests", where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
			return
		}
	}
	t.Errorf("%s: queries.result_store %s is on no mounted volume", where, store)
}
