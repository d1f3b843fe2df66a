package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
)

// APIError is an answer from Datadog with an error status.
type APIError struct {
	StatusCode int
	// Status is the status line, such as "400 Bad Request".
	Status string
	// Errors are the messages of Datadog's body {"errors": [...]}; when the
	// body is not that, its start.
	Errors []string
	// wait is how long the answer asks the client to wait before retrying
	// (X-RateLimit-Reset, Retry-After); 0 when it does not say.
	wait time.Duration
}

// Error returns one line: "datadog: 400 Bad Request: <Datadog's
// messages>". A message that only repeats the status is left out, and an
// answer that refuses the keys says which one to check.
func (e *APIError) Error() string {
	var msgs []string
	for _, m := range e.Errors {
		if !strings.EqualFold(strings.TrimSpace(m), http.StatusText(e.StatusCode)) {
			msgs = append(msgs, m)
		}
	}
	if h := keyHint(e.StatusCode); h != "" {
		msgs = append(msgs, h)
	}
	if len(msgs) == 0 {
		return "datadog: " + e.Status
	}
	return "datadog: " + e.Status + ": " + strings.Join(msgs, "; ")
}

// keyHint says which credential a 401 or 403 points at
// (https://docs.datadoghq.com/account_management/api-app-keys/): Datadog
// answers 403 when either key is wrong for the site or the application
// key lacks the scope of the call.
func keyHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "check DD_API_KEY: it is not a valid API key for this site (DD_SITE)"
	case http.StatusForbidden:
		return "check DD_API_KEY and DD_APP_KEY: both must belong to the organisation of this site (DD_SITE), and the application key needs the monitors_read scope (monitors_write to apply)"
	}
	return ""
}

// Temporary reports whether retrying may succeed: 429 and 5xx.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// apiError turns the result of a client call into nil, an *APIError for an
// error status, or the transport error.
func apiError(resp *http.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp == nil || resp.StatusCode < 300 {
		return err // transport error, or a body the client could not decode
	}
	e := &APIError{StatusCode: resp.StatusCode, Status: resp.Status, wait: serverWait(resp.Header, time.Now())}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	var oe datadog.GenericOpenAPIError
	if errors.As(err, &oe) {
		e.Errors = errorMessages(oe.Body())
	}
	return e
}

// errorMessages returns the messages of Datadog's error body
// {"errors": ["..."]}, or the start of any other body.
func errorMessages(body []byte) []string {
	var v struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &v) == nil && len(v.Errors) > 0 {
		out := make([]string, 0, len(v.Errors))
		for _, raw := range v.Errors {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				s = string(raw)
			}
			out = append(out, oneLine(s))
		}
		return out
	}
	if s := oneLine(string(body)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return []string{s}
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// serverWait returns how long Datadog asks to wait: X-RateLimit-Reset
// (seconds until the rate-limit window resets) or Retry-After (seconds or
// an HTTP date), whichever is longer; 0 when neither is there.
func serverWait(h http.Header, now time.Time) time.Duration {
	var wait time.Duration
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			wait = max(wait, seconds(secs))
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			wait = max(wait, seconds(secs))
		} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
			wait = max(wait, t.Sub(now))
		}
	}
	return wait
}

func seconds(s float64) time.Duration {
	const limit = float64(24 * time.Hour / time.Second)
	return time.Duration(min(s, limit) * float64(time.Second))
}

// permanent marks an error that must not be retried, such as a failed
// look-up that already used its own retries.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// retryable reports whether err is worth another attempt: a 429, a 5xx or
// a transport error, unless the context has ended.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.As(err, new(permanent)) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	return isTransport(err)
}

func isTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// mayHaveWritten reports whether a failed write may have taken effect: the
// server failed (5xx) or the answer was lost (transport error). A 429 is
// refused before anything is done.
func mayHaveWritten(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= 500
	}
	return isTransport(err)
}

// retry calls call until it succeeds, fails for good, or MaxRetries retries
// are used up, waiting between attempts as backoff says. The context given
// to call carries the keys and the site.
func (s *Store) retry(ctx context.Context, op string, call func(context.Context) error) error {
	ctx = s.context(ctx)
	for attempt := 0; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) {
			return err
		}
		if attempt >= s.maxRetries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		wait := s.backoff(attempt, err)
		s.log.WarnContext(ctx, "datadog: retrying", slog.String("op", op), slog.Int("attempt", attempt+1),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff returns the wait before retry number attempt+1. When Datadog
// says how long to wait (the rate-limit reset or Retry-After), that, plus
// up to one RetryWait of jitter so that concurrent callers do not all come
// back at once; otherwise RetryWait doubled per attempt, with equal jitter.
// Either way at most MaxRetryWait.
func (s *Store) backoff(attempt int, err error) time.Duration {
	var wait time.Duration
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.wait > 0 {
		wait = apiErr.wait + jitter(s.retryWait)
	} else {
		exp := s.retryWait << min(attempt, 30)
		if exp <= 0 || exp > s.maxRetryWait {
			exp = s.maxRetryWait
		}
		wait = exp/2 + jitter(exp/2)
	}
	return min(wait, s.maxRetryWait)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
