package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// permanent marks an error that no retry can fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// retryPolicy says which failures a call may be retried after.
type retryPolicy int

const (
	// anyTemporary retries rate limits, 5xx and transport errors.
	anyTemporary retryPolicy = iota
	// onlyRateLimits retries only the answers that say the request was
	// refused unprocessed: rate limits. For writes that must not happen
	// twice.
	onlyRateLimits
)

// retry runs call until it succeeds, fails for good, or the retries or
// ctx run out.
func (c *Client) retry(ctx context.Context, op string, call func() (*gh.Response, error)) error {
	return c.retryIf(ctx, op, anyTemporary, call)
}

func (c *Client) retryIf(ctx context.Context, op string, policy retryPolicy, call func() (*gh.Response, error)) error {
	for attempt := 0; ; attempt++ {
		_, err := call()
		if err == nil {
			return nil
		}
		wait, ok := c.retryWait(err, attempt, policy)
		if !ok || attempt >= c.cfg.MaxRetries || ctx.Err() != nil {
			return err
		}
		c.log.WarnContext(ctx, "github call failed; retrying", "op", op, "attempt", attempt+1, "wait", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// retryWait returns how long to wait before retrying after err, and
// whether to retry at all.
func (c *Client) retryWait(err error, attempt int, policy retryPolicy) (time.Duration, bool) {
	backoff := c.cfg.RetryWait << attempt
	if backoff > c.cfg.MaxRetryWait || backoff <= 0 {
		backoff = c.cfg.MaxRetryWait
	}
	// A rate limit asking for a wait beyond MaxRetryWait fails the call.
	within := func(d time.Duration) (time.Duration, bool) {
		if d > c.cfg.MaxRetryWait {
			return 0, false
		}
		return max(d, 0), true
	}
	var (
		p     permanent
		abuse *gh.AbuseRateLimitError
		rate  *gh.RateLimitError
		resp  *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &p), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 0, false
	case errors.As(err, &abuse):
		// GitHub's secondary rate limit: Retry-After, else at least a
		// minute by its documentation; here the backoff, bounded.
		if abuse.RetryAfter != nil {
			return within(*abuse.RetryAfter)
		}
		return backoff, true
	case errors.As(err, &rate):
		return within(time.Until(rate.Rate.Reset.Time) + time.Second)
	case errors.As(err, &resp):
		status := resp.Response.StatusCode
		if ra := retryAfter(resp.Response.Header); ra >= 0 && (status == http.StatusTooManyRequests || status == http.StatusForbidden) {
			return within(ra)
		}
		if status == http.StatusTooManyRequests || status == http.StatusForbidden && isAbuseMessage(resp.Message) {
			return backoff, true
		}
		if status >= 500 && policy == anyTemporary {
			return backoff, true
		}
		return 0, false
	}
	var ue *url.Error
	if errors.As(err, &ue) && policy == anyTemporary {
		return backoff, true // a transport error
	}
	return 0, false
}

// isAbuseMessage reports whether a 403's message is GitHub's secondary
// rate limit (older servers call it abuse detection) when its
// documentation_url does not say so.
func isAbuseMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "secondary rate limit") || strings.Contains(m, "abuse detection")
}

// retryAfter reads a Retry-After header in seconds; -1 when absent.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return time.Duration(n) * time.Second
}

// isStatus reports whether err is GitHub's answer with the given status.
func isStatus(err error, status int) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == status
}

func pathEscape(s string) string  { return url.PathEscape(s) }
func queryEscape(s string) string { return url.QueryEscape(s) }
