package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/esm-dev/esm/internal/dirwatch"
	"github.com/esm-dev/esm/internal/idl"
)

func init() {
	// Avro IDL allows Unicode names, which hamba/avro rejects by default.
	avro.SkipNameValidation = true
}

// eventType is one record type events can be sent as, compiled.
type eventType struct {
	// name is the record's simple name, as declared: the event_type label.
	name     string
	fullName string
	node     *node
	// avro is hamba/avro's parse of the record: loading it checks that
	// Avro accepts the schema, and tests encode events with it. Events
	// are checked by walking node, in JSON and in Avro binary alike.
	avro    avro.Schema
	counter Counter
}

// schemaSet is one loaded set of schemas. It is immutable once built, so
// requests read it without locks while a reload builds the next one.
type schemaSet struct {
	// byName holds each type under its full name and, when no other
	// type shares it, its simple name.
	byName  map[string]*eventType
	types   []*eventType
	unknown Counter
}

// lookup returns the type named name (simple or full), or nil.
func (s *schemaSet) lookup(name []byte) *eventType {
	return s.byName[string(name)]
}

// Registry holds the compiled schemas of a directory and swaps in a new
// set atomically when the directory is reloaded; a reload that fails
// keeps the last good set.
type Registry struct {
	dir   string
	meter Meter
	log   *slog.Logger

	cur atomic.Pointer[schemaSet]
	mu  sync.Mutex // serializes reloads
}

// NewRegistry loads and compiles the record schemas under dir. The error
// lists every problem of the schemas, one per line, as file:line:col.
func NewRegistry(dir string, meter Meter, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{dir: dir, meter: meter, log: log}
	set, err := r.load()
	if err != nil {
		meter.SchemaReload(err, 0)
		return nil, err
	}
	r.cur.Store(set)
	meter.SchemaReload(nil, len(set.types))
	return r, nil
}

// Dir returns the directory the schemas are loaded from.
func (r *Registry) Dir() string { return r.dir }

// Types returns the full names of the loaded record types, sorted.
func (r *Registry) Types() []string {
	set := r.cur.Load()
	names := make([]string, 0, len(set.types))
	for _, t := range set.types {
		names = append(names, t.fullName)
	}
	sort.Strings(names)
	return names
}

// current returns the set in use.
func (r *Registry) current() *schemaSet { return r.cur.Load() }

// Reload loads the directory again and swaps the new set in. When the
// schemas are broken it keeps the last good set, logs why and returns
// the error.
func (r *Registry) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	set, err := r.load()
	if err != nil {
		r.meter.SchemaReload(err, len(r.cur.Load().types))
		r.log.Error("schema reload failed; keeping the last good schemas", "dir", r.dir, "error", err.Error())
		return err
	}
	r.cur.Store(set)
	r.meter.SchemaReload(nil, len(set.types))
	r.log.Info("schemas reloaded", "dir", r.dir, "types", len(set.types))
	return nil
}

// load reads and compiles every record under the directory.
func (r *Registry) load() (*schemaSet, error) {
	tree, err := idl.LoadTree([]string{r.dir}, idl.Options{})
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	if tree.Diags.HasErrors() {
		return nil, fmt.Errorf("load schemas from %s:\n%w", r.dir, tree.Diags.Errors())
	}
	set := &schemaSet{byName: map[string]*eventType{}, unknown: r.meter.Counter(UnknownType)}
	simple := map[string]int{}
	for _, s := range tree.Types {
		if s.Kind == idl.Record {
			simple[s.Name]++
		}
	}
	var errs []error
	for _, s := range tree.Types {
		if s.Kind != idl.Record {
			continue
		}
		if _, dup := set.byName[s.FullName()]; dup {
			errs = append(errs, fmt.Errorf("%s: record %s is declared in more than one file", s.Range, s.FullName()))
			continue
		}
		n, err := compileSchema(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		js := idl.AppendSchemaJSON(nil, s, idl.JSONOptions{FiniteDefaults: true})
		as, err := avro.ParseWithCache(string(js), "", &avro.SchemaCache{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: record %s: avro schema: %w", s.Range, s.FullName(), err))
			continue
		}
		t := &eventType{name: s.Name, fullName: s.FullName(), node: n, avro: as, counter: r.meter.Counter(s.Name)}
		set.types = append(set.types, t)
		set.byName[t.fullName] = t
		if simple[s.Name] == 1 {
			set.byName[s.Name] = t
		} else {
			r.log.Warn("record name declared in more than one namespace; send it by its full name", "name", s.Name, "full_name", t.fullName)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load schemas from %s:\n%w", r.dir, errors.Join(errs...))
	}
	if len(set.types) == 0 {
		return nil, fmt.Errorf("load schemas from %s: no record types found", r.dir)
	}
	return set, nil
}

// Watch reloads the schemas when a file under the directory changes,
// after debounce without further changes, until ctx is done.
func (r *Registry) Watch(ctx context.Context, debounce time.Duration) error {
	err := dirwatch.Watch(ctx, r.dir, debounce, func() { _ = r.Reload() }, func(err error) {
		r.log.Warn("schema watcher error", "dir", r.dir, "error", err.Error())
	})
	if err != nil {
		return fmt.Errorf("watch schemas: %w", err)
	}
	return nil
}
