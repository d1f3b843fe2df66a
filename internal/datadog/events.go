package datadog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/esm-dev/esm/annotations"
)

// EventClientConfig configures an EventClient.
type EventClientConfig struct {
	// APIKey is Datadog's API key (DD_API_KEY); events need no
	// application key.
	APIKey string
	// Site is the Datadog site, such as datadoghq.eu (DD_SITE); empty
	// means datadoghq.com.
	Site string
	// URL is a full base URL, such as http://127.0.0.1:8126, for a proxy or
	// a test server (ESM_DATADOG_URL). It overrides Site.
	URL string
	// HTTPClient makes the requests; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
}

// EventRequest is one event to post.
type EventRequest struct {
	Title string
	// Text is the body; Datadog takes at most 4,000 characters.
	Text string
	// Tags route the event, e.g. event_type:AddToCartEvent, env:prod; they
	// are sent as Datadog stores them (event_type:addtocartevent).
	Tags []string
	// AggregationKey groups related events (at most 100 characters).
	AggregationKey string
	// AlertType is error, warning, info or success; empty means info.
	AlertType string
}

// EventClient posts Datadog events with datadog-api-client-go's
// EventsApi. It is safe for concurrent use.
type EventClient struct {
	api        *datadogV1.EventsApi
	keys       map[string]datadog.APIKey
	serverVars map[string]string
}

// NewEventClient returns an EventClient for cfg after checking it; every
// problem is reported at once. It points the client at cfg.URL or the
// site as the monitor store does (newAPIClient).
func NewEventClient(cfg EventClientConfig) (*EventClient, error) {
	var errs []error
	if strings.TrimSpace(cfg.APIKey) == "" {
		errs = append(errs, errors.New("datadog events: the API key is required (DD_API_KEY)"))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	client, vars, err := newAPIClient(cfg.Site, cfg.URL, hc, "v1.EventsApi.CreateEvent")
	if err != nil {
		errs = append(errs, fmt.Errorf("datadog events: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &EventClient{
		api:        datadogV1.NewEventsApi(client),
		keys:       map[string]datadog.APIKey{"apiKeyAuth": {Key: cfg.APIKey}},
		serverVars: vars,
	}, nil
}

// Post calls POST /api/v1/events (CreateEvent) and returns the event's id.
func (c *EventClient) Post(ctx context.Context, e EventRequest) (int64, error) {
	ctx = withAuth(ctx, c.keys, c.serverVars)
	// Tags go in the form Datadog stores them (lowercase), so that the
	// event is found by the same filters as the metrics.
	tags := make([]string, 0, len(e.Tags))
	for _, t := range e.Tags {
		if t = annotations.DatadogTag(t); t != "" {
			tags = append(tags, t)
		}
	}
	body := datadogV1.EventCreateRequest{Title: e.Title, Text: e.Text, Tags: tags}
	if e.AggregationKey != "" {
		body.AggregationKey = datadog.PtrString(e.AggregationKey)
	}
	if e.AlertType != "" {
		at, err := datadogV1.NewEventAlertTypeFromValue(e.AlertType)
		if err != nil {
			return 0, fmt.Errorf("create event %q: %w", e.Title, err)
		}
		body.AlertType = at
	}
	body.SourceTypeName = datadog.PtrString("esm")
	resp, httpResp, err := c.api.CreateEvent(ctx, body)
	if err != nil {
		status := ""
		if httpResp != nil {
			status = " (HTTP " + httpResp.Status + ")"
		}
		var oerr datadog.GenericOpenAPIError
		if errors.As(err, &oerr) && len(oerr.ErrorBody) > 0 {
			return 0, fmt.Errorf("create event %q%s: %w: %s", e.Title, status, err, strings.TrimSpace(string(oerr.ErrorBody)))
		}
		return 0, fmt.Errorf("create event %q%s: %w", e.Title, status, err)
	}
	if resp.Event != nil && resp.Event.Id != nil {
		return *resp.Event.Id, nil
	}
	return 0, nil
}
