package redact

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://user:secret@127.0.0.1:8126", "http://user:xxxxx@127.0.0.1:8126"},
		{"https://secret@ghe.example.com/api/v3/", "https://xxxxx@ghe.example.com/api/v3/"},
		{"http://user:@host", "http://user:xxxxx@host"},
		{"http://127.0.0.1:8126", "http://127.0.0.1:8126"},
		{"datadoghq.eu", "datadoghq.eu"},
		{"", ""},
		// Strings that do not parse keep nothing of their credentials.
		{"http://user:secret@host:port", "http://xxxxx@host:port"},
		{"http://us er:secret@host/path@x", "http://xxxxx@host/path@x"},
		{"user:secret@host", "xxxxx@host"},
		{"http://a@b:secret@host", "http://a%40b:xxxxx@host"},
		{"ftp://user:p%zz@host", "ftp://xxxxx@host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := URL(tt.in)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "secret")
		})
	}
}

func TestUserinfo(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name, url, auth, wantURL, wantAuth string
	}{
		{name: "user and password", url: "http://user:secret@" + host, wantURL: srv.URL, wantAuth: "Basic dXNlcjpzZWNyZXQ="},
		{name: "token as user", url: "http://secret@" + host + "/api/", wantURL: srv.URL + "/api/", wantAuth: "Basic c2VjcmV0Og=="},
		{name: "the request's own authorization wins", url: "http://user:secret@" + host, auth: "Bearer t", wantURL: srv.URL, wantAuth: "Bearer t"},
		{name: "none", url: srv.URL, wantURL: srv.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			clean, hc := Userinfo(tt.url, &http.Client{})
			assert.Equal(t, tt.wantURL, clean)
			req, err := http.NewRequest(http.MethodGet, clean, nil)
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, []string{tt.wantAuth}, got)
		})
	}
}
