package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDatabases(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "databases.good.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []string{"local", "main", "shop"}, c.Databases.Names())
	assert.Equal(t, 8, c.Queries.MaxConcurrentQueries)
	tests := []struct {
		name string
		want Database
	}{
		{"main", Database{Name: "main", Driver: "postgres", DSNEnv: "ESM_MAIN_DSN", MaxOpenConns: 3, Line: 3, Col: 5}},
		{"shop", Database{Name: "shop", Driver: "mysql", DSNEnv: "ESM_SHOP_DSN", MaxOpenConns: DefaultMaxOpenConns, Line: 7, Col: 5}},
		{"local", Database{Name: "local", Driver: "sqlite", DSN: "data/local.db", MaxOpenConns: DefaultMaxOpenConns, Line: 10, Col: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, ok := c.Databases.Lookup(tt.name)
			require.True(t, ok)
			assert.Equal(t, tt.want, *db)
		})
	}
	_, ok := c.Databases.Lookup("other")
	assert.False(t, ok)
}

func TestDatabasesDefaults(t *testing.T) {
	c, err := Parse("esm.yaml", []byte("environments:\n  prod:\n"))
	require.NoError(t, err)
	assert.Empty(t, c.Databases.Names())
	assert.Equal(t, DefaultMaxConcurrentQueries, c.Queries.MaxConcurrentQueries)
	c, err = Parse("esm.yaml", []byte("databases:\nqueries:\n"))
	require.NoError(t, err)
	assert.Empty(t, c.Databases.Names())
}

func TestDatabasesBad(t *testing.T) {
	f := "testdata/databases.bad.yaml"
	want := []string{
		f + `:3:13: databases.main.driver must be one of postgres, mysql, sqlite, not "oracle"`,
		f + `:7:10: databases.shop.dsn: only sqlite takes a DSN in esm.yaml; give mysql's DSN in an environment variable named by dsn_env, so that secrets stay out of files`,
		f + `:8:3: database name "Bad-Name" must be lowercase letters, digits and _, starting with a letter`,
		f + `:12:5: databases.nodsn: missing dsn_env (the environment variable holding the DSN)`,
		f + `:15:10: databases.both: set dsn or dsn_env, not both`,
		f + `:20:5: databases.typo: unknown key "max_open_conn"; known keys: driver, dsn_env, dsn, max_open_conns`,
		f + `:24:21: databases.pool.max_open_conns must be a whole number from 1 to 100`,
		f + `:26:14: databases.nodriver.dsn_env "not a var" is not an environment variable name`,
		f + `:26:5: databases.nodriver: missing driver (one of postgres, mysql, sqlite)`,
		f + `:27:11: databases.scalar must be a mapping`,
		f + `:30:3: queries: unknown key "max_series"; known keys: max_concurrent_queries, result_store, s3_endpoint`,
		f + `:29:27: queries.max_concurrent_queries must be a whole number from 1 to 64`,
	}
	_, err := Load(f)
	require.Error(t, err)
	assert.Equal(t, strings.Join(want, "\n"), err.Error())
}

func TestResolveDSN(t *testing.T) {
	env := map[string]string{"ESM_MAIN_DSN": "postgres://x"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		db   Database
		want string
		err  string
	}{
		{db: Database{Name: "main", DSNEnv: "ESM_MAIN_DSN"}, want: "postgres://x"},
		{db: Database{Name: "local", DSN: "x.db"}, want: "x.db"},
		{db: Database{Name: "shop", DSNEnv: "ESM_SHOP_DSN", Line: 7, Col: 5}, err: "esm.yaml:7:5: databases.shop: environment variable ESM_SHOP_DSN is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.db.Name, func(t *testing.T) {
			got, err := tt.db.ResolveDSN("esm.yaml", getenv)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
