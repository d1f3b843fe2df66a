package datadog

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventClientPost(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/api/v1/events", r.URL.Path)
		assert.Equal(t, "key", r.Header.Get("DD-API-KEY"))
		assert.Empty(t, r.Header.Get("DD-APPLICATION-KEY"))
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &got))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status": "ok", "event": {"id": 42, "title": "t"}}`)
	}))
	defer srv.Close()

	c, err := NewEventClient(EventClientConfig{APIKey: "key", URL: srv.URL + "/"})
	require.NoError(t, err)
	id, err := c.Post(context.Background(), EventRequest{
		Title: "esm: burst", Text: "text", Tags: []string{"event_type:X", "env:prod", "source:esm"},
		AggregationKey: "esm-rejections-prod-X", AlertType: "warning",
	})
	require.NoError(t, err)
	assert.Equal(t, int64(42), id)
	assert.Equal(t, map[string]any{
		"title": "esm: burst", "text": "text", "tags": []any{"event_type:x", "env:prod", "source:esm"},
		"aggregation_key": "esm-rejections-prod-X", "alert_type": "warning", "source_type_name": "esm",
	}, got)
}

func TestEventClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors": ["Forbidden"]}`)
	}))
	defer srv.Close()
	c, err := NewEventClient(EventClientConfig{APIKey: "key", URL: srv.URL})
	require.NoError(t, err)
	_, err = c.Post(context.Background(), EventRequest{Title: "t", Text: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `create event "t" (HTTP 403 Forbidden)`)
	assert.Contains(t, err.Error(), "Forbidden")

	_, err = c.Post(context.Background(), EventRequest{Title: "t", AlertType: "loud"})
	require.Error(t, err)

	_, err = NewEventClient(EventClientConfig{URL: "ftp://x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "API key is required")
	assert.Contains(t, err.Error(), `URL "ftp://x"`)

	_, err = NewEventClient(EventClientConfig{APIKey: "k", Site: "datadoghq.eu"})
	require.NoError(t, err)
}
