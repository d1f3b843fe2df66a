package github

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/esm-dev/esm/internal/github/ghtest"
)

func TestCredentialsOfTheURLAreSentButNeverPrinted(t *testing.T) {
	srv := ghtest.NewServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	tests := []struct {
		name, baseURL, wantErr string
	}{
		{name: "password, 404", baseURL: strings.Replace(srv.URL, "http://", "http://user:secret@", 1), wantErr: "404"},
		{name: "token as user, 404", baseURL: strings.Replace(srv.URL, "http://", "http://secret@", 1), wantErr: "404"},
		{name: "password, unreachable", baseURL: "http://user:secret@" + closed, wantErr: "connection refused"},
		{name: "token as user, unreachable", baseURL: "http://secret@" + closed, wantErr: "connection refused"},
		{name: "URL that does not parse", baseURL: "http://user:secret@" + closed + "x", wantErr: "github url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			c, err := New(Config{Token: "ghp_test", BaseURL: tt.baseURL, MaxRetries: 1, RetryWait: time.Millisecond, MaxRetryWait: time.Second,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err == nil {
				_, err = c.PullRequest(context.Background(), shop, 4242)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "secret")
			assert.NotContains(t, logs.String(), "secret")
		})
	}

	// The credentials still go with the requests, as net/http sends them.
	var auth []string
	proxy := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		http.NotFound(w, r)
	})}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = proxy.Serve(pln) }()
	defer proxy.Close()
	c, err := New(Config{Token: "ghp_test", BaseURL: "http://user:secret@" + pln.Addr().String(), MaxRetries: -1})
	require.NoError(t, err)
	_, err = c.PullRequest(context.Background(), shop, 1)
	require.Error(t, err)
	assert.Equal(t, []string{"Bearer ghp_test"}, auth, "the token's Authorization wins, as before")
}
