// Package datadog is esm's monitor store on Datadog: monitor.Store
// implemented with datadog-api-client-go's MonitorsApi (API v1).
//
// The client's own retry is off (it would re-send a POST that may already
// have created a monitor); the Store retries 429, 5xx and transport errors
// itself, waiting as long as Datadog's rate-limit headers ask, and before
// re-sending a create it looks for the monitor the failed attempt may have
// made. Datadog has no lock, so creates converge instead: each looks for
// the monitor (same name and identity tag) just before and just after,
// and runs that raced keep the oldest (see Store.CreateConverged).
package datadog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/esm-dev/esm/internal/monitor"
)

// Defaults of Config, and Datadog's page limit.
const (
	// DefaultPageSize is the page size of list calls.
	DefaultPageSize = 1000
	// DefaultMaxRetries is how often a failed call is retried.
	DefaultMaxRetries = 5
	// DefaultRetryWait is the first wait before a retry when Datadog does
	// not say how long to wait.
	DefaultRetryWait = 500 * time.Millisecond
	// DefaultMaxRetryWait caps every wait before a retry.
	DefaultMaxRetryWait = 30 * time.Second
	// ApplyConcurrency is how many monitor writes monitor.Apply runs at
	// once against Datadog: enough that 2,000 creates take seconds, few
	// enough to stay clear of the monitor API's rate limit (429s are
	// retried as the rate-limit headers say anyway).
	ApplyConcurrency = 16
	// MaxPageSize is the largest page Datadog's ListMonitors serves.
	MaxPageSize = 1000
)

// Config configures a Store.
type Config struct {
	// APIKey and AppKey are Datadog's API and application keys (DD_API_KEY,
	// DD_APP_KEY). Both are required.
	APIKey string
	AppKey string
	// Site is the Datadog site, such as datadoghq.eu (DD_SITE); empty
	// means datadoghq.com.
	Site string
	// URL is a full base URL, such as http://127.0.0.1:8126, for a proxy or
	// a test server (ESM_DATADOG_URL). It overrides Site.
	URL string
	// PageSize is the number of monitors per list call (default and
	// maximum 1000).
	PageSize int
	// HTTPClient makes the requests; nil means a client with a 60 s
	// timeout that keeps enough idle connections for concurrent applies.
	HTTPClient *http.Client
	// MaxRetries is how many times a call is retried after a 429, a 5xx or
	// a transport error (default 5; negative means never).
	MaxRetries int
	// RetryWait is the first wait before a retry when Datadog does not say
	// how long to wait; it doubles with each retry (default 500 ms).
	RetryWait time.Duration
	// MaxRetryWait caps every wait, including the ones the rate-limit
	// headers ask for (default 30 s).
	MaxRetryWait time.Duration
	// Logger receives a line per retry; nil discards them. Keys are never
	// logged.
	Logger *slog.Logger
}

// Store is the Datadog monitor store. It is safe for concurrent use.
type Store struct {
	api          *datadogV1.MonitorsApi
	auth         *datadogV1.AuthenticationApi
	keys         map[string]datadog.APIKey
	serverVars   map[string]string // the site, when no URL is given
	pageSize     int
	maxRetries   int
	retryWait    time.Duration
	maxRetryWait time.Duration
	log          *slog.Logger
}

var (
	_ monitor.Store             = (*Store)(nil)
	_ monitor.ConvergingCreator = (*Store)(nil)
)

// New returns a Store for cfg after checking it; every problem is
// reported at once.
func New(cfg Config) (*Store, error) {
	var errs []error
	if strings.TrimSpace(cfg.APIKey) == "" {
		errs = append(errs, errors.New("datadog: the API key is required (DD_API_KEY)"))
	}
	if strings.TrimSpace(cfg.AppKey) == "" {
		errs = append(errs, errors.New("datadog: the application key is required (DD_APP_KEY)"))
	}
	if cfg.PageSize < 0 || cfg.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("datadog: page size %d is not between 1 and %d", cfg.PageSize, MaxPageSize))
	}

	s := &Store{
		keys: map[string]datadog.APIKey{
			"apiKeyAuth": {Key: cfg.APIKey},
			"appKeyAuth": {Key: cfg.AppKey},
		},
		pageSize:     orDefault(cfg.PageSize, DefaultPageSize),
		maxRetries:   orDefault(cfg.MaxRetries, DefaultMaxRetries),
		retryWait:    orDefault(cfg.RetryWait, DefaultRetryWait),
		maxRetryWait: orDefault(cfg.MaxRetryWait, DefaultMaxRetryWait),
		log:          cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = defaultHTTPClient()
	}
	client, vars, err := newAPIClient(cfg.Site, cfg.URL, httpClient, "v1.MonitorsApi.ListMonitors")
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.api, s.serverVars = datadogV1.NewMonitorsApi(client), vars
	s.auth = datadogV1.NewAuthenticationApi(client)
	return s, nil
}

// Ping checks that Datadog answers and accepts the API key: GET
// /api/v1/validate (AuthenticationApi.Validate). esm serve's /readyz
// calls it.
func (s *Store) Ping(ctx context.Context) error {
	_, resp, err := s.auth.Validate(s.context(ctx))
	if err != nil {
		return fmt.Errorf("validate API key: %w", apiError(resp, err))
	}
	return nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	if v < 0 {
		return 0
	}
	return v
}

// context adds the keys and the site to ctx, as the client expects them.
func (s *Store) context(ctx context.Context) context.Context {
	return withAuth(ctx, s.keys, s.serverVars)
}

// List calls GET /api/v1/monitor (ListMonitors) with monitor_tags=tag, page
// by page, and returns every monitor carrying tag, whatever its type. An
// empty tag lists every monitor.
func (s *Store) List(ctx context.Context, tag string) ([]monitor.Monitor, error) {
	ms, err := s.list(ctx, "", tag)
	if err != nil {
		return nil, fmt.Errorf("list monitors: %w", err)
	}
	return ms, nil
}

// list pages through ListMonitors until a page holds fewer than the page
// size.
func (s *Store) list(ctx context.Context, name, tags string) ([]monitor.Monitor, error) {
	var out []monitor.Monitor
	seen := make(map[int64]bool)
	for page := int64(0); ; page++ {
		params := datadogV1.NewListMonitorsOptionalParameters().WithPage(page).WithPageSize(int32(s.pageSize))
		if tags != "" {
			params.WithMonitorTags(tags)
		}
		if name != "" {
			params.WithName(name)
		}
		var got []datadogV1.Monitor
		err := s.retry(ctx, "list", func(ctx context.Context) error {
			var resp *http.Response
			var err error
			got, resp, err = s.api.ListMonitors(ctx, *params)
			return apiError(resp, err)
		})
		if err != nil {
			if page == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		fresh := 0
		for i := range got {
			m := fromAPI(&got[i])
			if !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
				fresh++
			}
		}
		if len(got) < s.pageSize {
			return out, nil
		}
		if fresh == 0 {
			return nil, fmt.Errorf("page %d repeats earlier pages: pagination does not advance", page)
		}
	}
}

// Create creates m as CreateConverged does and returns the ID of the
// monitor that stands for it.
func (s *Store) Create(ctx context.Context, m *monitor.Monitor) (int64, error) {
	c, err := s.CreateConverged(ctx, m)
	return c.ID, err
}

// CreateConverged calls POST /api/v1/monitor (CreateMonitor) so that runs
// racing on one Datadog, which has no lock, end with one monitor per name
// and identity tag (m's first "esm-" tag):
//
//   - just before the create, it lists the monitors with m's name and tag
//     (ListMonitors with name= and monitor_tags=); when there is one, a
//     concurrent run made it: the oldest is updated to m instead and any
//     newer twins are deleted;
//   - just after, it lists them again; when a concurrent run created one
//     first (a lower ID), that one is kept and updated to m and the others,
//     the one just created included, are deleted.
//
// When an attempt fails in a way that may have created the monitor anyway
// (a 5xx or a transport error), the retry first looks for it the same way
// and takes what it finds instead of creating a duplicate. The note says
// what happened when it was not a plain create.
func (s *Store) CreateConverged(ctx context.Context, m *monitor.Monitor) (monitor.Created, error) {
	keep, deleted, updated, err := s.converge(ctx, m, 0)
	if err != nil {
		return monitor.Created{}, fmt.Errorf("create monitor: look for a monitor of the same name and tag: %w", err)
	}
	if keep != 0 {
		s.log.InfoContext(ctx, "datadog: the monitor exists already; took it instead of creating one", slog.String("name", m.Name), slog.Int64("id", keep))
		return monitor.Created{ID: keep, Note: fmt.Sprintf("monitor %d of the same name and tag exists (made by a concurrent run): %s instead of creating one%s", keep, tookIt(updated), deletedNote(deleted))}, nil
	}
	body := newMonitor(m)
	var id int64
	uncertain := false // an earlier attempt may have created the monitor
	found := false     // a failed attempt had created it
	err = s.retry(ctx, "create", func(ctx context.Context) error {
		if uncertain {
			keep, _, _, err := s.converge(ctx, m, 0)
			if err != nil {
				return permanent{fmt.Errorf("look for the monitor a failed attempt may have created: %w", err)}
			}
			if keep != 0 {
				s.log.InfoContext(ctx, "datadog: a failed create had created the monitor", slog.String("name", m.Name), slog.Int64("id", keep))
				id, found = keep, true
				return nil
			}
		}
		created, resp, err := s.api.CreateMonitor(ctx, body)
		if err := apiError(resp, err); err != nil {
			uncertain = uncertain || mayHaveWritten(err)
			return err
		}
		id = created.GetId()
		return nil
	})
	if err != nil {
		return monitor.Created{}, fmt.Errorf("create monitor: %w", err)
	}
	if found {
		return monitor.Created{ID: id}, nil
	}
	keep, deleted, updated, err = s.converge(ctx, m, id)
	switch {
	case err != nil:
		return monitor.Created{ID: id}, fmt.Errorf("create monitor: created %d, then look for twins a concurrent run created: %w", id, err)
	case keep != 0 && keep != id:
		s.log.InfoContext(ctx, "datadog: a concurrent run created the monitor first; kept its monitor", slog.String("name", m.Name), slog.Int64("id", keep), slog.Int64("deleted", id))
		return monitor.Created{ID: keep, Note: fmt.Sprintf("a concurrent run created monitor %d first: %s and deleted %s", keep, tookIt(updated), idList(deleted))}, nil
	case len(deleted) > 0:
		return monitor.Created{ID: id, Note: "deleted the newer twins " + idList(deleted) + " a concurrent run created"}, nil
	}
	return monitor.Created{ID: id}, nil
}

// converge lists the monitors named exactly like m that carry m's identity
// tag, keeps the oldest (lowest ID) and deletes the others. created is the
// monitor this run has just created (0 before the create): when it is not
// the one kept and the kept one differs from m in a field esm owns or in
// its fingerprint, the kept one is updated to m, since the run's create
// stood for that change.
// converge returns the kept ID (0 when there is none), the IDs it deleted
// and whether it updated the kept one.
func (s *Store) converge(ctx context.Context, m *monitor.Monitor, created int64) (keep int64, deleted []int64, updated bool, err error) {
	twins, err := s.twins(ctx, &m.Definition)
	if err != nil || len(twins) == 0 {
		return 0, nil, false, err
	}
	keep = twins[0].ID
	for _, t := range twins[1:] {
		if err := s.Delete(ctx, t.ID); err != nil {
			return keep, deleted, false, fmt.Errorf("delete twin: %w", err)
		}
		deleted = append(deleted, t.ID)
	}
	if keep != created && (!slices.Equal(monitor.Fields(&twins[0].Definition), monitor.Fields(&m.Definition)) || twins[0].Fingerprint != m.Fingerprint) {
		if err := s.Update(ctx, keep, m); err != nil {
			return keep, deleted, false, err
		}
		updated = true
	}
	return keep, deleted, updated, nil
}

// tookIt says what a create did with the monitor it found.
func tookIt(updated bool) string {
	if updated {
		return "updated it"
	}
	return "kept it (already as desired)"
}

// twins returns the monitors, lowest ID first, named exactly like m that
// carry m's identity tag (the first tag starting with "esm-", or all of
// m's tags when it has none).
func (s *Store) twins(ctx context.Context, m *monitor.Definition) ([]monitor.Monitor, error) {
	want := identityTags(m.Tags)
	ms, err := s.list(ctx, m.Name, strings.Join(want, ","))
	if err != nil {
		return nil, err
	}
	var out []monitor.Monitor
	for _, c := range ms {
		if c.Name == m.Name && hasAll(c.Tags, want) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b monitor.Monitor) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// idList writes IDs as "12" or "12, 15".
func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// deletedNote is "; deleted its newer twins 12, 15" or "".
func deletedNote(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	return "; deleted its newer twins " + idList(ids)
}

func identityTags(tags []string) []string {
	for _, t := range tags {
		if t = strings.ToLower(t); strings.HasPrefix(t, "esm-") {
			return []string{t}
		}
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = strings.ToLower(t)
	}
	return out
}

func hasAll(tags, want []string) bool {
	for _, w := range want {
		if !monitor.HasTag(tags, w) {
			return false
		}
	}
	return true
}

// Update calls PUT /api/v1/monitor/{monitor_id} (UpdateMonitor) with every
// field esm owns and the whole options object, which Datadog replaces as a
// whole: an option left out of m is removed from the monitor.
func (s *Store) Update(ctx context.Context, id int64, m *monitor.Monitor) error {
	body := updateRequest(m)
	err := s.retry(ctx, "update", func(ctx context.Context) error {
		_, resp, err := s.api.UpdateMonitor(ctx, id, body)
		return apiError(resp, err)
	})
	if err != nil {
		return fmt.Errorf("update monitor: %w", err)
	}
	return nil
}

// Delete calls DELETE /api/v1/monitor/{monitor_id} (DeleteMonitor). A
// monitor that is already gone (404) counts as deleted.
func (s *Store) Delete(ctx context.Context, id int64) error {
	err := s.retry(ctx, "delete", func(ctx context.Context) error {
		_, resp, err := s.api.DeleteMonitor(ctx, id)
		return apiError(resp, err)
	})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete monitor: %w", err)
	}
	return nil
}

// ApplyConcurrency tells monitor.Apply how many changes to run at once.
func (s *Store) ApplyConcurrency() int { return ApplyConcurrency }
