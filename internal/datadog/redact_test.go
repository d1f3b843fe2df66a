package datadog

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/datadog/ddtest"
)

func TestCredentialsOfTheURLAreSentButNeverPrinted(t *testing.T) {
	dd := ddtest.NewServer(t)
	target, err := url.Parse(dd.URL)
	require.NoError(t, err)
	var mu sync.Mutex
	var auth []string
	// A proxy in front of Datadog that wants basic authentication.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	tests := []struct {
		name, url, wantAuth, wantErr string
	}{
		{name: "password, through the proxy", url: "http://user:secret@" + proxyHost, wantAuth: "Basic dXNlcjpzZWNyZXQ="},
		{name: "token as user, through the proxy", url: "http://secret@" + proxyHost, wantAuth: "Basic c2VjcmV0Og=="},
		{name: "password, unreachable", url: "http://user:secret@" + closed, wantErr: "connection refused"},
		{name: "token as user, unreachable", url: "http://secret@" + closed, wantErr: "connection refused"},
		{name: "URL that does not parse", url: "http://user:secret@" + closed + "x", wantErr: `datadog: URL "http://xxxxx@` + closed + `x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			auth = nil
			mu.Unlock()
			var logs strings.Builder
			cfg := Config{APIKey: "k", AppKey: "a", URL: tt.url, MaxRetries: 1, RetryWait: time.Millisecond, MaxRetryWait: time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			s, err := New(cfg)
			var errs []error
			if err == nil {
				errs = append(errs, s.Ping(context.Background()))
				_, lerr := s.List(context.Background(), "esm-prod")
				errs = append(errs, lerr)
				ec, eerr := NewEventClient(EventClientConfig{APIKey: "k", URL: tt.url})
				require.NoError(t, eerr)
				_, perr := ec.Post(context.Background(), EventRequest{Title: "t", Text: "x"})
				errs = append(errs, perr)
			} else {
				errs = append(errs, err)
			}
			for _, err := range errs {
				if tt.wantErr == "" {
					continue
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "secret")
			}
			assert.NotContains(t, logs.String(), "secret")
			if tt.wantAuth != "" {
				require.NoError(t, errs[0])
				require.NoError(t, errs[1])
				mu.Lock()
				defer mu.Unlock()
				require.NotEmpty(t, auth)
				for _, a := range auth {
					assert.Equal(t, tt.wantAuth, a, "the credentials go to the proxy as net/http sends them")
				}
			}
		})
	}
}
