package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-github/v60/github"
)

// Delivery identifies one webhook delivery.
type Delivery struct {
	// ID is X-GitHub-Delivery, a GUID ("" when GitHub did not send one).
	ID string
	// Event is X-GitHub-Event, such as "issue_comment".
	Event string
	// Received is when the receiver read the delivery.
	Received time.Time
}

// Handler does the work of the deliveries the receiver hands off. Its
// methods run on the receiver's workers, one delivery each, with a
// context that ends at Config.JobTimeout or when the receiver shuts down;
// context.Cause tells which (ErrShutdown for the latter), so that a
// handler can say why its work was cut short.
type Handler interface {
	// IssueComment is called for a comment created on a pull request.
	IssueComment(ctx context.Context, d Delivery, e *github.IssueCommentEvent)
	// PullRequest is called for a pull request opened, synchronized
	// (pushed to) or reopened.
	PullRequest(ctx context.Context, d Delivery, e *github.PullRequestEvent)
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes = 25 << 20 // GitHub caps payloads at 25 MB
	DefaultWorkers      = 4
	DefaultQueue        = 64
	DefaultDedupSize    = 10000
	DefaultDedupTTL     = 24 * time.Hour
	DefaultJobTimeout   = 15 * time.Minute
	// DefaultMaxCommentAge is how old a comment may be when it arrives.
	// GitHub delivers within seconds; a comment older than this is a
	// replay of a captured delivery or a redelivery too late to act on.
	DefaultMaxCommentAge = 5 * time.Minute
)

// Config configures a Receiver.
type Config struct {
	// Secret is the webhook's shared secret (ESM_WEBHOOK_SECRET). Required.
	Secret []byte
	// Handler receives the events. Required.
	Handler Handler
	// MaxBodyBytes bounds a delivery's body (default 25 MiB).
	MaxBodyBytes int64
	// Workers is the number of deliveries handled at once (default 4).
	Workers int
	// Queue is the number of deliveries that may wait for a worker
	// (default 64); beyond it deliveries get 503.
	Queue int
	// DedupSize is the number of delivery IDs remembered (default 10000).
	DedupSize int
	// DedupTTL is how long a delivery ID is remembered (default 24 h).
	DedupTTL time.Duration
	// JobTimeout bounds the handling of one delivery (default 15 min).
	JobTimeout time.Duration
	// MaxCommentAge is how old a comment may be, by the created_at of the
	// signed body, when its delivery arrives (default 5 min); an older one
	// gets 200 and is not handed off. The delivery ID is not covered by
	// the signature, so this and the comment IDs remembered (DedupSize
	// of them, for DedupTTL) are what stop a captured delivery from being
	// replayed under a new ID.
	MaxCommentAge time.Duration
	// Logger receives a line per delivery; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Receiver is the webhook endpoint. It is an http.Handler serving
// POST /webhook and GET /healthz.
type Receiver struct {
	cfg    Config
	log    *slog.Logger
	router chi.Router
	seen   *deliveries // delivery IDs
	// handled holds the IDs of the comments handed off, so that a comment
	// is handed off once whatever delivery brings it.
	handled *deliveries

	queue  chan job
	ctx    context.Context // ends when Shutdown gives up waiting
	cancel context.CancelCauseFunc

	mu      sync.RWMutex // guards closed against sends on queue
	closed  bool
	workers sync.WaitGroup
}

// job is one delivery waiting for a worker.
type job struct {
	d   Delivery
	run func(ctx context.Context)
}

// New checks cfg, starts the workers and returns the receiver.
func New(cfg Config) (*Receiver, error) {
	var errs []error
	if len(cfg.Secret) == 0 {
		errs = append(errs, errors.New("webhook secret is required"))
	}
	if cfg.Handler == nil {
		errs = append(errs, errors.New("webhook handler is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.DedupSize <= 0 {
		cfg.DedupSize = DefaultDedupSize
	}
	if cfg.DedupTTL <= 0 {
		cfg.DedupTTL = DefaultDedupTTL
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.MaxCommentAge <= 0 {
		cfg.MaxCommentAge = DefaultMaxCommentAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		cfg:     cfg,
		log:     log,
		seen:    newDeliveries(cfg.DedupSize, cfg.DedupTTL, cfg.Now),
		handled: newDeliveries(cfg.DedupSize, max(cfg.DedupTTL, 2*cfg.MaxCommentAge), cfg.Now),
		queue:   make(chan job, cfg.Queue),
	}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	router := chi.NewRouter()
	router.Post("/webhook", r.serveWebhook)
	router.Get("/healthz", r.serveHealth)
	r.router = router
	for range cfg.Workers {
		r.workers.Add(1)
		go r.work()
	}
	return r, nil
}

// Deliveries returns the handler of POST /webhook alone, for a server
// that mounts it on its own router.
func (r *Receiver) Deliveries() http.Handler { return http.HandlerFunc(r.serveWebhook) }

// ServeHTTP routes the request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.router.ServeHTTP(w, req)
}

// Shutdown stops accepting deliveries and waits for the queued ones to be
// handled. When ctx ends first, the running handlers' contexts are
// cancelled and Shutdown returns ctx's error once they return.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.workers.Wait(); close(done) }()
	select {
	case <-done:
		r.cancel(ErrShutdown)
		return nil
	case <-ctx.Done():
		r.cancel(ErrShutdown)
		<-done
		return fmt.Errorf("shut down the webhook workers: %w", ctx.Err())
	}
}

func (r *Receiver) work() {
	defer r.workers.Done()
	for j := range r.queue {
		r.runJob(j)
	}
}

// ErrShutdown is the cause (context.Cause) of the end of a handler's
// context when the receiver shuts down before the handler returns.
var ErrShutdown = errors.New("esm is shutting down")

// runJob runs one job, logging a panic instead of dying with it.
func (r *Receiver) runJob(j job) {
	ctx, cancel := context.WithTimeoutCause(r.ctx, r.cfg.JobTimeout, fmt.Errorf("the delivery took longer than %s", r.cfg.JobTimeout))
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("webhook handler panicked", "delivery", j.d.ID, "event", j.d.Event, "panic", fmt.Sprint(v))
		}
	}()
	j.run(ctx)
}

func (r *Receiver) serveHealth(w http.ResponseWriter, _ *http.Request) {
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// reply writes a short plain-text answer.
func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

func (r *Receiver) serveWebhook(w http.ResponseWriter, req *http.Request) {
	d := Delivery{
		ID:       req.Header.Get("X-GitHub-Delivery"),
		Event:    req.Header.Get("X-GitHub-Event"),
		Received: r.cfg.Now(),
	}
	log := r.log.With("delivery", d.ID, "event", d.Event)

	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("webhook refused: body too large", "limit", tooBig.Limit)
			reply(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		log.Warn("webhook refused: cannot read the body", "error", err)
		reply(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	if err := verifySignature(req.Header.Get("X-Hub-Signature-256"), body, r.cfg.Secret); err != nil {
		log.Warn("webhook refused: "+err.Error(), "remote", req.RemoteAddr)
		reply(w, http.StatusUnauthorized, "bad signature")
		return
	}
	if d.Event == "" {
		reply(w, http.StatusBadRequest, "missing X-GitHub-Event")
		return
	}
	payload, err := formPayload(req.Header.Get("Content-Type"), body)
	if err != nil {
		log.Warn("webhook refused: " + err.Error())
		reply(w, http.StatusBadRequest, err.Error())
		return
	}
	if d.Event == "ping" {
		log.Info("webhook ping")
		reply(w, http.StatusOK, "pong")
		return
	}
	run, what, comment := r.route(d, payload)
	if run == nil {
		log.Debug("webhook ignored: " + what)
		reply(w, http.StatusOK, "ignored: "+what)
		return
	}
	var commentKey string
	if comment != nil {
		log = log.With("comment", comment.GetID(), "created_at", comment.GetCreatedAt().Time)
		if why := r.commentRefusal(d, comment); why != "" {
			log.Warn("webhook ignored: " + why)
			reply(w, http.StatusOK, "ignored: "+why)
			return
		}
		commentKey = strconv.FormatInt(comment.GetID(), 10)
	}
	if d.ID != "" && !r.seen.reserve(d.ID) {
		log.Info("webhook ignored: delivery already received")
		reply(w, http.StatusOK, "duplicate delivery")
		return
	}
	if commentKey != "" && !r.handled.reserve(commentKey) {
		log.Warn("webhook ignored: comment already handled, delivered again under another delivery id (a replay or a redelivery)")
		reply(w, http.StatusOK, "ignored: comment already handled")
		return
	}
	if !r.enqueue(job{d: d, run: run}) {
		r.seen.release(d.ID)
		if commentKey != "" {
			r.handled.release(commentKey)
		}
		log.Warn("webhook refused: queue full", "queue", r.cfg.Queue)
		reply(w, http.StatusServiceUnavailable, "busy: retry later")
		return
	}
	log.Info("webhook queued: " + what)
	reply(w, http.StatusAccepted, "queued")
}

// enqueue queues j unless the queue is full or closed.
func (r *Receiver) enqueue(j job) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return false
	}
	select {
	case r.queue <- j:
		return true
	default:
		return false
	}
}

// route decodes the payload and returns the work it asks for, or nil and
// why it is ignored; for a comment, the comment too.
func (r *Receiver) route(d Delivery, payload []byte) (func(context.Context), string, *github.IssueComment) {
	switch d.Event {
	case "issue_comment", "pull_request":
	default:
		return nil, "event " + d.Event, nil
	}
	v, err := github.ParseWebHook(d.Event, payload)
	if err != nil {
		return nil, fmt.Sprintf("cannot decode %s: %v", d.Event, err), nil
	}
	switch e := v.(type) {
	case *github.IssueCommentEvent:
		if a := e.GetAction(); a != "created" {
			return nil, "issue_comment action " + a, nil
		}
		if !e.GetIssue().IsPullRequest() {
			return nil, "comment on an issue, not a pull request", nil
		}
		return func(ctx context.Context) { r.cfg.Handler.IssueComment(ctx, d, e) }, "issue_comment created", e.GetComment()
	case *github.PullRequestEvent:
		switch a := e.GetAction(); a {
		case "opened", "synchronize", "reopened":
			return func(ctx context.Context) { r.cfg.Handler.PullRequest(ctx, d, e) }, "pull_request " + a, nil
		default:
			return nil, "pull_request action " + a, nil
		}
	}
	return nil, "event " + d.Event, nil
}

// commentRefusal returns why a comment is not acted upon, by its age or
// identity, or "". Its id and created_at are in the signed body, unlike
// the delivery ID.
func (r *Receiver) commentRefusal(d Delivery, c *github.IssueComment) string {
	if c.GetID() == 0 {
		return "comment without an id"
	}
	created := c.GetCreatedAt().Time
	if created.IsZero() {
		return "comment without created_at"
	}
	if age := d.Received.Sub(created); age > r.cfg.MaxCommentAge {
		return fmt.Sprintf("comment created %s before it arrived, more than the %s allowed (a replay or a late redelivery)", age.Round(time.Second), r.cfg.MaxCommentAge)
	}
	return ""
}

// verifySignature checks X-Hub-Signature-256: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret. The error never holds the secret
// nor the expected signature.
func verifySignature(header string, body, secret []byte) error {
	if header == "" {
		return errors.New("missing X-Hub-Signature-256")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return errors.New("X-Hub-Signature-256 is not sha256=<hex>")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errors.New("X-Hub-Signature-256 is not sha256=<hex>")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("X-Hub-Signature-256 does not match the body")
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value of body keyed with secret,
// as GitHub computes it; for tests and tools that send deliveries.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// formPayload returns the JSON of a delivery: the body itself, or its
// "payload" field when the webhook sends application/x-www-form-urlencoded.
func formPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("decode form body: %w", err)
	}
	return []byte(form.Get("payload")), nil
}
