package collector

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// failingBody yields part of an event, then fails as a connection does.
type failingBody struct {
	r   io.Reader
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

// TestBodyThatDoesNotArrive: a body cut off by the server's read timeout
// gets 408, one cut off otherwise 400, and neither is counted as a
// rejected event (nor told to the rejection observer): no event was seen.
func TestBodyThatDoesNotArrive(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		err    error
		status int
	}{
		{"single, read timeout", "/v1/events/AddToCartEvent", os.ErrDeadlineExceeded, http.StatusRequestTimeout},
		{"batch, read timeout", "/v1/events", os.ErrDeadlineExceeded, http.StatusRequestTimeout},
		{"single, client went away", "/v1/events/AddToCartEvent", io.ErrUnexpectedEOF, http.StatusBadRequest},
		{"batch, connection reset", "/v1/events", errors.New("connection reset by peer"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &recordingObserver{}
			c, m := shopCollector(t, Options{Rejections: obs})
			req := httptest.NewRequest(http.MethodPost, tt.path, &failingBody{r: strings.NewReader(addToCart[:10]), err: tt.err})
			req.ContentLength = -1
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, "close", rec.Header().Get("Connection"))
			for _, typ := range []string{"AddToCartEvent", UnknownType} {
				for _, reason := range Reasons {
					assert.Zero(t, m.rej(typ, reason), "%s counted as rejected for %s", typ, reason)
				}
			}
			obs.mu.Lock()
			assert.Empty(t, obs.got, "told the rejection observer")
			obs.mu.Unlock()
		})
	}
}
