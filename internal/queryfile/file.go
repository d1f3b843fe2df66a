// Package queryfile reads esm's query files: YAML, one query monitor per
// document, with its database, SQL, labels, interval and monitors, every
// problem at the file:line:col of the value at fault. It depends on no
// database driver nor store, so that the use case (internal/reconcile)
// can plan the monitors of queries without linking them; running the
// queries is internal/queries' job.
package queryfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/diag"
	"github.com/esm-dev/esm/internal/yamlerr"
)

// Defaults of a query's optional settings.
const (
	DefaultInterval  = 5 * time.Minute
	DefaultTimeout   = 30 * time.Second
	DefaultMaxSeries = 100
)

// Bounds on query files, which come from pull requests.
const (
	// MaxFileSize is the largest query file read.
	MaxFileSize = 1 << 20
	// MaxDocuments is the largest number of queries in one file.
	MaxDocuments = 1000
	// MaxSeriesLimit is the largest max_series a query may ask for.
	MaxSeriesLimit = 10000
	// MaxFileDiagnostics is the most problems reported for one file.
	MaxFileDiagnostics = 100
	// MaxNameLen bounds names and label names.
	MaxNameLen = 128
)

// Query is one query monitor as declared in a query file.
type Query struct {
	// Name identifies the query: [a-z0-9_]+, unique across files.
	Name string
	// Description says what the value means.
	Description string
	// DB names a database declared in esm.yaml.
	DB string
	// SQL is the query text.
	SQL string
	// Labels are the columns that become labels, in order.
	Labels []string
	// Interval is the time between two runs (default 5m).
	Interval time.Duration
	// IntervalText is the interval as written (ISO 8601), "PT5M" by default.
	IntervalText string
	// Timeout bounds one run (default 30s).
	Timeout time.Duration
	// MaxSeries is the largest number of rows a run may return (default 100).
	MaxSeries int
	// Monitors are the monitors declared on the query (monitors:), in
	// order.
	Monitors []Monitor
	// Channels are where the query's monitors notify (alert_channel:, in
	// any form of @alert_channel); nil when the file names none.
	Channels *annotations.Channels

	// Pos is where the query's document starts; NamePos where its name is.
	Pos, NamePos diag.Position
}

// Fingerprint identifies what a query computes: its database, SQL and
// labels. A stored result whose fingerprint differs is from another query
// of the same name and is not reused.
func (q *Query) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n%q\n%q\n", q.DB, q.SQL, q.Labels)
	return hex.EncodeToString(h.Sum(nil))
}

// ParseOptions say what a query file may refer to.
type ParseOptions struct {
	// Databases are the databases declared in esm.yaml. A query naming
	// another one is an error. Nil skips the check.
	Databases []string
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9_]+$`)
	labelRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidName reports whether name is a query name: lowercase letters,
// digits and _, at most MaxNameLen long.
func ValidName(name string) bool {
	return nameRE.MatchString(name) && len(name) <= MaxNameLen
}

// ParseFile decodes the queries of one file: one query per YAML document.
// It returns every query it could decode and every problem, each at the
// file:line:col of the value at fault.
func ParseFile(filename string, src []byte, opts ParseOptions) ([]*Query, diag.List) {
	var list diag.List
	if len(src) > MaxFileSize {
		list.Add(diag.Error, diag.Position{Filename: filename}, diag.Position{}, "file is larger than %d bytes", MaxFileSize)
		return nil, list
	}
	p := &fileParser{file: filename, list: &list, dbs: opts.Databases}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var out []*Query
	for n := 0; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.yamlError(src, err)
			break
		}
		if n >= MaxDocuments {
			at := &doc
			if len(doc.Content) > 0 {
				at = doc.Content[0]
			}
			p.errorf(at, "more than %d queries in one file", MaxDocuments)
			break
		}
		if q := p.query(&doc); q != nil {
			out = append(out, q)
		}
	}
	if p.dropped > 0 {
		list.Add(diag.Error, p.first, diag.Position{}, "%d more problems from here on are not shown", p.dropped)
	}
	list.Sort()
	return out, list
}

// fileParser decodes the documents of one file into queries.
type fileParser struct {
	file string
	list *diag.List
	dbs  []string
	// dropped counts the problems beyond MaxFileDiagnostics; first is
	// where the first of them is.
	dropped int
	first   diag.Position
}

func (p *fileParser) pos(n *yaml.Node) diag.Position {
	return diag.Position{Filename: p.file, Line: n.Line, Column: n.Column}
}

func (p *fileParser) errorf(n *yaml.Node, format string, args ...any) {
	if len(*p.list) >= MaxFileDiagnostics {
		if p.dropped == 0 {
			p.first = p.pos(n)
		}
		p.dropped++
		return
	}
	p.list.Add(diag.Error, p.pos(n), diag.Position{}, format, args...)
}

// yamlError records a syntax error from yaml.v3 at the line where the
// file stops being valid YAML (yaml.v3 names a line only); the column is
// given as 1.
func (p *fileParser) yamlError(src []byte, err error) {
	s, ok := yamlerr.Locate(src, err)
	if ok {
		p.list.Add(diag.Error, diag.Position{Filename: p.file, Line: s.Line, Column: 1}, diag.Position{}, "%s", s.Msg)
		return
	}
	p.list.Add(diag.Error, diag.Position{Filename: p.file}, diag.Position{}, "%s", s.Msg)
}

// query decodes one document; nil when it is empty or not a mapping.
func (p *fileParser) query(doc *yaml.Node) *Query {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil // an empty document, as after a trailing ---
	}
	if m.Kind != yaml.MappingNode {
		p.errorf(m, "a query must be a mapping with name, db and query, not %s", kindName(m))
		return nil
	}
	q := &Query{Pos: p.pos(m), Interval: DefaultInterval, IntervalText: "PT5M", Timeout: DefaultTimeout, MaxSeries: DefaultMaxSeries}
	seen := map[string]*yaml.Node{}
	ok := true
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "a key must be a plain name, not %s", kindName(k))
			ok = false
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.errorf(k, "%s is already set at %s", k.Value, p.pos(prev))
			ok = false
			continue
		}
		seen[k.Value] = k
		if !p.field(q, k, v) {
			ok = false
		}
	}
	for _, req := range []string{"name", "db", "query"} {
		if seen[req] == nil {
			p.errorf(m, "missing %s", req)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return q
}

// field decodes one key of a query; false when it is at fault.
func (p *fileParser) field(q *Query, k, v *yaml.Node) bool {
	switch k.Value {
	case "name":
		s, ok := p.str(k.Value, v)
		if !ok {
			return false
		}
		q.Name, q.NamePos = s, p.pos(v)
		if !ValidName(s) {
			p.errorf(v, "name %q must be lowercase letters, digits and _ (at most %d)", s, MaxNameLen)
			return false
		}
	case "description":
		s, ok := p.str(k.Value, v)
		q.Description = s
		return ok
	case "db":
		s, ok := p.str(k.Value, v)
		if !ok {
			return false
		}
		q.DB = s
		if p.dbs != nil && !slices.Contains(p.dbs, s) {
			if len(p.dbs) == 0 {
				p.errorf(v, "unknown database %q: esm.yaml declares no databases", s)
			} else {
				p.errorf(v, "unknown database %q: esm.yaml declares %s", s, strings.Join(p.dbs, ", "))
			}
			return false
		}
	case "query":
		s, ok := p.str(k.Value, v)
		if !ok {
			return false
		}
		q.SQL = strings.TrimSpace(s)
		if q.SQL == "" {
			p.errorf(v, "query is empty")
			return false
		}
	case "labels":
		return p.labels(q, v)
	case "interval":
		s, ok := p.str(k.Value, v)
		if !ok {
			return false
		}
		d, err := ParseInterval(s)
		if err != nil {
			p.errorf(v, "interval: %v", err)
			return false
		}
		q.Interval, q.IntervalText = d, s
	case "timeout":
		s, ok := p.str(k.Value, v)
		if !ok {
			return false
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			p.errorf(v, "timeout %q is not a duration (such as 30s or 2m)", s)
			return false
		}
		if d <= 0 {
			p.errorf(v, "timeout must be longer than zero")
			return false
		}
		q.Timeout = d
	case "max_series":
		var n int
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil || n < 1 || n > MaxSeriesLimit {
			p.errorf(v, "max_series must be a whole number from 1 to %d", MaxSeriesLimit)
			return false
		}
		q.MaxSeries = n
	case "monitors":
		return p.monitors(q, v)
	case "alert_channel":
		c, ok := p.channels(v)
		q.Channels = c
		return ok
	default:
		p.errorf(k, "unknown key %q; known keys: %s", k.Value, strings.Join(knownKeys, ", "))
		return false
	}
	return true
}

var knownKeys = []string{"name", "description", "db", "query", "labels", "interval", "timeout", "max_series", "monitors", "alert_channel"}

// reservedLabels are label names esm sets itself or Prometheus reserves.
var reservedLabels = []string{"query", "env"}

func (p *fileParser) labels(q *Query, v *yaml.Node) bool {
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "labels must be a list of column names, not %s", kindName(v))
		return false
	}
	ok := true
	seen := map[string]*yaml.Node{}
	for _, e := range v.Content {
		if e.Kind != yaml.ScalarNode || e.Tag != "!!str" {
			p.errorf(e, "a label must be a column name, not %s", kindName(e))
			ok = false
			continue
		}
		switch {
		case !labelRE.MatchString(e.Value) || len(e.Value) > MaxNameLen:
			p.errorf(e, "label %q must be a column name: letters, digits and _, not starting with a digit", e.Value)
			ok = false
		case strings.HasPrefix(e.Value, "__"):
			p.errorf(e, "label %q: names starting with __ are reserved by Prometheus", e.Value)
			ok = false
		case slices.Contains(reservedLabels, strings.ToLower(e.Value)):
			// DogStatsD tags are lowercase: Env would be a second env tag.
			p.errorf(e, "label %q is reserved: esm sets it on every series", e.Value)
			ok = false
		case seen[strings.ToLower(e.Value)] != nil:
			// Country and country would be one tag in DogStatsD.
			p.errorf(e, "label %q is already listed at %s", e.Value, p.pos(seen[strings.ToLower(e.Value)]))
			ok = false
		default:
			seen[strings.ToLower(e.Value)] = e
			q.Labels = append(q.Labels, e.Value)
		}
	}
	return ok
}

// str decodes a scalar string value.
func (p *fileParser) str(key string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(v, "%s must be a string, not %s", key, kindName(v))
		return "", false
	}
	return v.Value, true
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// IsQueryFile reports whether path is read as a query file: .yaml or .yml.
func IsQueryFile(path string) bool {
	switch filepath.Ext(path) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

// LoadDir reads every query file under dir, recursively (directories
// whose name starts with "." are skipped), in lexical order, and checks
// that names are unique across files. It returns the queries sorted by
// name and every problem.
func LoadDir(dir string, opts ParseOptions) ([]*Query, diag.List) {
	var list diag.List
	var all []*Query
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !IsQueryFile(path) {
			return nil
		}
		qs, l := readFile(path, opts)
		list = append(list, l...)
		all = append(all, qs...)
		return nil
	})
	if err != nil {
		list.Add(diag.Error, diag.Position{Filename: dir}, diag.Position{}, "read query files: %v", err)
	}
	all, dups := Unique(all)
	list = append(list, dups...)
	list.Sort()
	return all, list
}

// readFile reads and parses one query file.
func readFile(path string, opts ParseOptions) ([]*Query, diag.List) {
	f, err := os.Open(path)
	if err != nil {
		var l diag.List
		l.Add(diag.Error, diag.Position{Filename: path}, diag.Position{}, "read query file: %v", err)
		return nil, l
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		var l diag.List
		l.Add(diag.Error, diag.Position{Filename: path}, diag.Position{}, "read query file: %v", err)
		return nil, l
	}
	return ParseFile(path, src, opts)
}

// Unique drops every query whose name an earlier one (in the order
// given) already has, reporting each at its name with the first one's
// position, and returns the rest sorted by name.
func Unique(qs []*Query) ([]*Query, diag.List) {
	var list diag.List
	first := map[string]*Query{}
	var out []*Query
	for _, q := range qs {
		if prev, dup := first[q.Name]; dup {
			list.Add(diag.Error, q.NamePos, diag.Position{}, "query %q is already declared at %s", q.Name, prev.NamePos)
			continue
		}
		first[q.Name] = q
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, list
}
