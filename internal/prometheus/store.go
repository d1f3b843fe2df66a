package prometheus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/annotations"
	"github.com/esm-dev/esm/internal/monitor"
)

// Config says where a Store keeps an environment's rules.
type Config struct {
	// Dir holds the rules file, esm-<Env>.rules.yml.
	Dir string
	// Env is the environment.
	Env string
	// URL, when set, is Prometheus' base URL: Commit asks it to reload its
	// rules (POST /-/reload, which needs --web.enable-lifecycle).
	URL string
	// HTTPClient sends the reload; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// Format is FormatRules ("" too), Prometheus' rule file, or
	// FormatPrometheusRule, the Prometheus Operator's object.
	Format string
}

// FileName returns the rules file of env in format:
// esm-<env>.rules.yml, or esm-<env>.prometheusrule.yaml for a
// PrometheusRule.
func FileName(env, format string) string {
	if format == FormatPrometheusRule {
		return "esm-" + env + ".prometheusrule.yaml"
	}
	return "esm-" + env + ".rules.yml"
}

// Store keeps the alerting rules of one environment in its rules file. It
// reads the file on List (a missing file holds no monitor), keeps the
// changes of an apply in memory and writes the whole file at once on
// Commit, through a temporary file renamed over it, so that Prometheus
// never reads half a file. Other files of the directory are never
// touched, nor the groups of the file that are not esm's.
type Store struct {
	cfg  Config
	path string

	// lock is held by an apply from its List to its Commit (Lock).
	lock chan struct{}

	mu       sync.Mutex
	monitors []monitor.Monitor
	foreign  []*yaml.Node
	metadata *yaml.Node
	nextID   int64
	dirty    bool
}

// New returns the store of cfg.Env's rules in cfg.Dir.
func New(cfg Config) (*Store, error) {
	if cfg.Env == "" || cfg.Env != filepath.Base(cfg.Env) || strings.HasPrefix(cfg.Env, ".") {
		return nil, fmt.Errorf("environment %q cannot name a rules file", cfg.Env)
	}
	if cfg.Dir == "" {
		return nil, errors.New("the Prometheus backend needs a rules directory (--rules-dir, or rules_dir in esm.yaml)")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatRules
	case FormatRules:
	case FormatPrometheusRule:
		if cfg.URL != "" {
			return nil, errors.New("a PrometheusRule is loaded by the Prometheus Operator, not reloaded through a Prometheus URL: drop the URL")
		}
	default:
		return nil, fmt.Errorf("rules format %q is not one esm writes; use %s or %s", cfg.Format, FormatRules, FormatPrometheusRule)
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	return &Store{cfg: cfg, path: filepath.Join(cfg.Dir, FileName(cfg.Env, cfg.Format)), lock: make(chan struct{}, 1)}, nil
}

// Lock takes the store's lock for an apply (monitor.Locker): applies of
// one process take turns on the file. A free lock is taken even with a
// done context.
func (s *Store) Lock(ctx context.Context) (func(), error) {
	select {
	case s.lock <- struct{}{}:
	default:
		select {
		case s.lock <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-s.lock }) }, nil
}

// Path returns the rules file.
func (s *Store) Path() string { return s.path }

// List reads the rules file and returns esm's alerting rules as monitors,
// with the environment's tag, their schema file's (the esm_file
// annotation) and record's (esm_record); tag "" lists them all, another tag those that carry it.
func (s *Store) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	p, err := parseRules(s.path, s.cfg.Format, data)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	if !s.dirty {
		// An apply's changes in progress stay until its Commit.
		s.monitors, s.foreign, s.metadata, s.nextID = p.monitors, p.foreign, p.metadata, int64(len(p.monitors))
	}
	var out []monitor.Monitor
	for _, m := range p.monitors {
		m.Tags = []string{monitor.EnvTag(s.cfg.Env)}
		if r := m.Rule.Annotations[RecordAnnotation]; r != "" {
			m.Tags = append(m.Tags, monitor.RecordTag(r))
		}
		if f := m.Rule.Annotations[FileAnnotation]; f != "" {
			m.Tags = append(m.Tags, annotations.DatadogTag(monitor.FileTagPrefix+f))
		}
		if tag == "" || monitor.HasTag(m.Tags, tag) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Create adds an alerting rule; the file is written on Commit.
func (s *Store) Create(_ context.Context, m *monitor.Monitor) (int64, error) {
	if m.Rule == nil {
		return 0, fmt.Errorf("create rule %q: not an alerting rule", m.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	c := *m
	c.ID = s.nextID
	s.monitors = append(s.monitors, c)
	s.dirty = true
	return c.ID, nil
}

// Update replaces an alerting rule; the file is written on Commit.
func (s *Store) Update(_ context.Context, id int64, m *monitor.Monitor) error {
	if m.Rule == nil {
		return fmt.Errorf("update rule %q: not an alerting rule", m.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.monitors {
		if s.monitors[i].ID == id {
			c := *m
			c.ID = id
			s.monitors[i] = c
			s.dirty = true
			return nil
		}
	}
	return fmt.Errorf("update rule %q: no rule %d in %s", m.Name, id, s.path)
}

// Delete removes an alerting rule (and, with the last rule of its group,
// the group's recording rules); the file is written on Commit. A rule
// that is already gone is no error.
func (s *Store) Delete(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.monitors {
		if s.monitors[i].ID == id {
			s.monitors = append(s.monitors[:i], s.monitors[i+1:]...)
			s.dirty = true
			return nil
		}
	}
	return nil
}

// ApplyConcurrency is 1: the changes only touch memory.
func (s *Store) ApplyConcurrency() int { return 1 }

// Commit writes the rules file when the apply changed it, atomically
// (a temporary file in the directory, renamed over the file), and then,
// with a URL, asks Prometheus to reload its rules. The notes say what it
// did; a reload that fails is a note, not an error: the file is written.
func (s *Store) Commit(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil, nil
	}
	// Written or not, the changes are done with: the next List reads
	// the file again.
	defer func() { s.dirty = false }()
	var data []byte
	var err error
	if s.cfg.Format == FormatPrometheusRule {
		data, err = encodePrometheusRule(s.cfg.Env, s.metadata, s.monitors, s.foreign)
	} else {
		data, err = encodeRules(s.monitors, s.foreign)
	}
	if err != nil {
		return nil, fmt.Errorf("write rules: %w", err)
	}
	if err := writeAtomic(s.path, data); err != nil {
		return nil, fmt.Errorf("write rules: %w", err)
	}
	notes := []string{"wrote " + s.path}
	if s.cfg.Format == FormatPrometheusRule {
		return append(notes, "the Prometheus Operator loads the PrometheusRule once it is applied to the cluster (kubectl apply -k, or your GitOps tool)"), nil
	}
	if s.cfg.URL == "" {
		return append(notes, "Prometheus was not asked to reload its rules (no --prometheus-url): it reads them on SIGHUP or POST /-/reload"), nil
	}
	if err := s.Reload(ctx); err != nil {
		return append(notes, "Prometheus did not reload its rules: "+err.Error()), nil
	}
	return append(notes, "Prometheus at "+s.cfg.URL+" reloaded its rules"), nil
}

// Reload asks Prometheus to reload its configuration and rules: POST
// /-/reload (https://prometheus.io/docs/prometheus/latest/management_api/#reload),
// which answers 200 once the reload succeeded, and an error when the
// rules do not load or lifecycle endpoints are off.
func (s *Store) Reload(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL+"/-/reload", nil)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		if resp.StatusCode == http.StatusForbidden {
			msg += " (start Prometheus with --web.enable-lifecycle)"
		}
		return fmt.Errorf("POST %s/-/reload answered %s: %s", s.cfg.URL, resp.Status, msg)
	}
	return nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path: a reader sees the old file or the new one, never a part.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
