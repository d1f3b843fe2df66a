package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Database drivers esm.yaml may name.
var databaseDrivers = []string{"postgres", "mysql", "sqlite"}

// Defaults and bounds of the query settings.
const (
	DefaultMaxConcurrentQueries = 4
	DefaultMaxOpenConns         = 2
	maxMaxConcurrentQueries     = 64
	maxMaxOpenConns             = 100
)

// QuerySettings are esm.yaml's settings for query monitors:
//
//	databases:
//	  main: {driver: postgres, dsn_env: ESM_MAIN_DSN, max_open_conns: 2}
//	  local: {driver: sqlite, dsn: data/local.db}
//	queries:
//	  max_concurrent_queries: 4
type QuerySettings struct {
	// Databases are the databases query files name in db:.
	Databases Databases `yaml:"databases"`
	// Queries are the runner's limits.
	Queries QueryLimits `yaml:"queries"`
}

// Databases are the databases declared in esm.yaml, sorted by name.
type Databases struct {
	// List holds the databases, sorted by name.
	List []*Database
	node *yaml.Node
}

// UnmarshalYAML keeps the node; validation decodes it with positions.
func (d *Databases) UnmarshalYAML(n *yaml.Node) error {
	d.node = n
	return nil
}

// Names returns the names of the declared databases, sorted.
func (d Databases) Names() []string {
	names := make([]string, len(d.List))
	for i, db := range d.List {
		names[i] = db.Name
	}
	return names
}

// Lookup returns the database called name.
func (d Databases) Lookup(name string) (*Database, bool) {
	for _, db := range d.List {
		if db.Name == name {
			return db, true
		}
	}
	return nil, false
}

// Database is one database of esm.yaml's databases section.
type Database struct {
	// Name is the key under databases:.
	Name string
	// Driver is postgres, mysql (MySQL and MariaDB) or sqlite.
	Driver string
	// DSNEnv names the environment variable holding the DSN, so that
	// secrets stay out of files.
	DSNEnv string
	// DSN is a SQLite path or ":memory:"; only SQLite may give it inline.
	DSN string
	// MaxOpenConns bounds the database's connection pool (default 2).
	MaxOpenConns int
	// Line and Col are where the database is declared.
	Line, Col int
}

// ResolveDSN returns the database's DSN: DSN itself, or the value of the
// DSNEnv variable, which must be set. getenv is os.Getenv, or a fake.
func (d *Database) ResolveDSN(file string, getenv func(string) string) (string, error) {
	if d.DSNEnv == "" {
		return d.DSN, nil
	}
	v := getenv(d.DSNEnv)
	if v == "" {
		return "", fmt.Errorf("%s:%d:%d: databases.%s: environment variable %s is not set", file, d.Line, d.Col, d.Name, d.DSNEnv)
	}
	return v, nil
}

// QueryLimits are the settings under queries:.
type QueryLimits struct {
	// MaxConcurrentQueries bounds the queries running at once, across
	// databases (default 4).
	MaxConcurrentQueries int
	// ResultStore is where the last result of every query is kept: a
	// directory (default .esm/queries) or s3://bucket/prefix.
	ResultStore string
	// S3Endpoint is the endpoint of an S3-compatible store (MinIO, …);
	// empty means AWS's own.
	S3Endpoint string
	node       *yaml.Node
}

// UnmarshalYAML keeps the node; validation decodes it with positions.
func (q *QueryLimits) UnmarshalYAML(n *yaml.Node) error {
	q.node = n
	return nil
}

var (
	databaseNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	envVarRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// nodeChecker decodes positioned nodes of one file, collecting problems.
type nodeChecker struct {
	file string
	errs []error
}

func (c *nodeChecker) errorf(n *yaml.Node, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s:%d:%d: %s", c.file, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

// mapping returns the key/value pairs of a mapping node, reporting
// duplicate keys and keys not in known (nil: any key).
func (c *nodeChecker) mapping(path string, n *yaml.Node, known []string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, "%s must be a mapping", path)
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			c.errorf(k, "%s.%s is already set at %s:%d:%d", path, k.Value, c.file, prev.Line, prev.Column)
			continue
		}
		seen[k.Value] = k
		if known != nil && !slices.Contains(known, k.Value) {
			c.errorf(k, "%s: unknown key %q; known keys: %s", path, k.Value, strings.Join(known, ", "))
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

// str decodes a string scalar.
func (c *nodeChecker) str(path string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		c.errorf(n, "%s must be a non-empty string", path)
		return "", false
	}
	return n.Value, true
}

// intIn decodes an integer scalar in [lo, hi].
func (c *nodeChecker) intIn(path string, n *yaml.Node, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < lo || v > hi {
		c.errorf(n, "%s must be a whole number from %d to %d", path, lo, hi)
		return 0, false
	}
	return v, true
}

// resolveQuerySettings decodes the databases and queries sections,
// applies their defaults and returns every problem.
func (s *QuerySettings) resolveQuerySettings(file string) []error {
	c := &nodeChecker{file: file}
	s.Databases.List = nil
	if n := s.Databases.node; n != nil && n.Tag != "!!null" {
		for _, kv := range c.mapping("databases", n, nil) {
			if db := c.database(kv[0], kv[1]); db != nil {
				s.Databases.List = append(s.Databases.List, db)
			}
		}
		sort.Slice(s.Databases.List, func(i, j int) bool { return s.Databases.List[i].Name < s.Databases.List[j].Name })
	}
	s.Queries.MaxConcurrentQueries = DefaultMaxConcurrentQueries
	if n := s.Queries.node; n != nil && n.Tag != "!!null" {
		for _, kv := range c.mapping("queries", n, []string{"max_concurrent_queries", "result_store", "s3_endpoint"}) {
			switch kv[0].Value {
			case "max_concurrent_queries":
				if v, ok := c.intIn("queries.max_concurrent_queries", kv[1], 1, maxMaxConcurrentQueries); ok {
					s.Queries.MaxConcurrentQueries = v
				}
			case "result_store":
				if v, ok := c.str("queries.result_store", kv[1]); ok {
					s.Queries.ResultStore = v
				}
			case "s3_endpoint":
				if v, ok := c.str("queries.s3_endpoint", kv[1]); ok {
					s.Queries.S3Endpoint = v
				}
			}
		}
	}
	return c.errs
}

// database decodes one entry of databases:.
func (c *nodeChecker) database(k, v *yaml.Node) *Database {
	path := "databases." + k.Value
	if !databaseNameRE.MatchString(k.Value) {
		c.errorf(k, "database name %q must be lowercase letters, digits and _, starting with a letter", k.Value)
		return nil
	}
	db := &Database{Name: k.Value, MaxOpenConns: DefaultMaxOpenConns, Line: v.Line, Col: v.Column}
	nerrs := len(c.errs)
	var driverNode, dsnNode *yaml.Node
	for _, kv := range c.mapping(path, v, []string{"driver", "dsn_env", "dsn", "max_open_conns"}) {
		key, val := kv[0].Value, kv[1]
		switch key {
		case "driver":
			driverNode = val
			if s, ok := c.str(path+".driver", val); ok {
				if !slices.Contains(databaseDrivers, s) {
					c.errorf(val, "%s.driver must be one of %s, not %q", path, strings.Join(databaseDrivers, ", "), s)
				}
				db.Driver = s
			}
		case "dsn_env":
			if s, ok := c.str(path+".dsn_env", val); ok {
				if !envVarRE.MatchString(s) {
					c.errorf(val, "%s.dsn_env %q is not an environment variable name", path, s)
				}
				db.DSNEnv = s
			}
		case "dsn":
			dsnNode = val
			db.DSN, _ = c.str(path+".dsn", val)
		case "max_open_conns":
			if n, ok := c.intIn(path+".max_open_conns", val, 1, maxMaxOpenConns); ok {
				db.MaxOpenConns = n
			}
		}
	}
	if v.Kind == yaml.MappingNode {
		switch {
		case driverNode == nil:
			c.errorf(v, "%s: missing driver (one of %s)", path, strings.Join(databaseDrivers, ", "))
		case dsnNode != nil && db.Driver != "sqlite" && slices.Contains(databaseDrivers, db.Driver):
			c.errorf(dsnNode, "%s.dsn: only sqlite takes a DSN in esm.yaml; give %s's DSN in an environment variable named by dsn_env, so that secrets stay out of files", path, db.Driver)
		case dsnNode != nil && db.DSNEnv != "":
			c.errorf(dsnNode, "%s: set dsn or dsn_env, not both", path)
		case dsnNode == nil && db.DSNEnv == "":
			c.errorf(v, "%s: missing dsn_env (the environment variable holding the DSN)", path)
		}
	}
	if len(c.errs) > nerrs {
		return nil
	}
	return db
}
