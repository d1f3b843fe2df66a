package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/esm-dev/esm/internal/queryfile"
)

// Result is the outcome of a query's latest run.
type Result struct {
	// Query is the query's name.
	Query string `json:"query"`
	// Fingerprint is the query's Fingerprint when it ran.
	Fingerprint string `json:"fingerprint"`
	// Labels are the label columns, in the order of each row's labels.
	Labels []string `json:"labels"`
	// Rows are the rows of the last successful run; a failed run keeps
	// the rows of the one before it.
	Rows []Row `json:"rows"`
	// Time is when the latest run started.
	Time time.Time `json:"time"`
	// Duration is how long the latest run took.
	Duration time.Duration `json:"duration_ns"`
	// Error says why the latest run failed; "" when it succeeded.
	Error string `json:"error,omitempty"`
	// LastSuccess is when the last successful run started (zero: never).
	LastSuccess time.Time `json:"last_success,omitzero"`

	// Loaded is set on a result read from the store at start or reload,
	// rather than produced by a run, so that a sink does not count its
	// failure twice.
	Loaded bool `json:"-"`
}

// Failed reports whether the latest run failed.
func (r Result) Failed() bool { return r.Error != "" }

// ResultStore keeps the last result of every query, so that a restart
// does not run a query whose interval has not passed yet. The directory
// store is one; an S3 store implements the same interface.
type ResultStore interface {
	// Load returns the stored result of a query; found is false when
	// there is none. A stored result that cannot be read or decoded is a
	// *CorruptResultError.
	Load(ctx context.Context, query string) (r Result, found bool, err error)
	// Save stores r as the query's last result, replacing the previous
	// one atomically: a reader sees the old result or the new one.
	Save(ctx context.Context, r Result) error
}

// StoreFormatVersion is the version of the stored result format.
const StoreFormatVersion = 1

// maxStoredResult bounds a stored result file.
const maxStoredResult = 16 << 20

// storedResult is the JSON document of a stored result.
type storedResult struct {
	// Version is StoreFormatVersion.
	Version int `json:"version"`
	Result
}

// CorruptResultError is a stored result that cannot be used. The
// scheduler reports it and runs the query again.
type CorruptResultError struct {
	// Query is the query's name; Location where its result is stored.
	Query, Location string
	// Err is what is wrong.
	Err error
}

// Error renders the location and the problem.
func (e *CorruptResultError) Error() string {
	return fmt.Sprintf("stored result of query %s at %s: %v", e.Query, e.Location, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptResultError) Unwrap() error { return e.Err }

// DefaultStoreDir is where the directory store keeps results by default.
const DefaultStoreDir = ".esm/queries"

// DirStore keeps each query's last result as DIR/NAME.json.
type DirStore struct {
	dir string
}

// NewDirStore returns a store under dir, created on the first Save.
func NewDirStore(dir string) *DirStore { return &DirStore{dir: dir} }

func (s *DirStore) path(query string) (string, error) {
	if err := checkStoredName(query); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, query+".json"), nil
}

// checkStoredName refuses a name that is no query name, so that a store
// never reads or writes outside its directory or prefix.
func checkStoredName(query string) error {
	if !queryfile.ValidName(query) {
		return fmt.Errorf("invalid query name %q", query)
	}
	return nil
}

// Load reads DIR/NAME.json.
func (s *DirStore) Load(ctx context.Context, query string) (Result, bool, error) {
	path, err := s.path(query)
	if err != nil {
		return Result{}, false, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, &CorruptResultError{Query: query, Location: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStoredResult+1))
	if err != nil {
		return Result{}, false, &CorruptResultError{Query: query, Location: path, Err: err}
	}
	r, err := decodeResult(query, b)
	if err != nil {
		return Result{}, false, &CorruptResultError{Query: query, Location: path, Err: err}
	}
	return r, true, nil
}

// decodeResult decodes and checks a stored result of query.
func decodeResult(query string, b []byte) (Result, error) {
	if len(b) > maxStoredResult {
		return Result{}, fmt.Errorf("larger than %d bytes", maxStoredResult)
	}
	var sr storedResult
	if err := json.Unmarshal(b, &sr); err != nil {
		return Result{}, fmt.Errorf("decode: %w", err)
	}
	switch {
	case sr.Version != StoreFormatVersion:
		return Result{}, fmt.Errorf("format version %d, want %d", sr.Version, StoreFormatVersion)
	case sr.Query != query:
		return Result{}, fmt.Errorf("holds the result of query %q", sr.Query)
	case sr.Time.IsZero():
		return Result{}, errors.New("has no run time")
	}
	for i, r := range sr.Rows {
		if len(r.Labels) != len(sr.Labels) {
			return Result{}, fmt.Errorf("row %d has %d labels, want %d", i+1, len(r.Labels), len(sr.Labels))
		}
	}
	return sr.Result, nil
}

// Save writes DIR/NAME.json atomically: a temporary file in DIR, synced,
// renamed over the old one, and the directory synced.
func (s *DirStore) Save(ctx context.Context, r Result) error {
	path, err := s.path(r.Query)
	if err != nil {
		return err
	}
	b, err := encodeResult(r)
	if err != nil {
		return fmt.Errorf("save result of query %s: %w", r.Query, err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return fmt.Errorf("save result of query %s: %w", r.Query, err)
	}
	return nil
}

// encodeResult renders r as a stored result document, which
// decodeResult reads back.
func encodeResult(r Result) ([]byte, error) {
	b, err := json.MarshalIndent(storedResult{Version: StoreFormatVersion, Result: r}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeFileAtomic replaces path with b: a reader sees the old content or
// the new, and after it returns the new content survives a crash.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
