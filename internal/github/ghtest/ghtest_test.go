package ghtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string, auth bool) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if auth {
		req.Header.Set("Authorization", "token t")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAuthenticationIsRequired(t *testing.T) {
	s := NewServer(t)
	assert.Equal(t, http.StatusUnauthorized, get(t, s.URL+"user", false).StatusCode)
	assert.Equal(t, http.StatusOK, get(t, s.URL+"api/v3/user", true).StatusCode)
}

func TestPaginationLinks(t *testing.T) {
	s := NewServer(t)
	s.SetPullRequest("o/r", PullRequest{Number: 1})
	for i := range 5 {
		s.AddComment("o/r", 1, "u", fmt.Sprint(i))
	}
	resp := get(t, s.URL+"api/v3/repos/o/r/issues/1/comments?per_page=2&page=2", true)
	link := resp.Header.Get("Link")
	assert.Contains(t, link, `page=3&per_page=2>; rel="next"`)
	assert.Contains(t, link, `rel="last"`)
	assert.Contains(t, link, `rel="prev"`)
	resp = get(t, s.URL+"api/v3/repos/o/r/issues/1/comments?per_page=2&page=3", true)
	assert.False(t, strings.Contains(resp.Header.Get("Link"), `rel="next"`))
	assert.Equal(t, http.StatusNotFound, get(t, s.URL+"api/v3/repos/o/r/issues/2/comments", true).StatusCode)
	assert.Equal(t, http.StatusNotFound, get(t, s.URL+"api/v3/repos/o/r/contents/x.avdl?ref=main", true).StatusCode)
}
