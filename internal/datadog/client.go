package datadog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"

	"github.com/esm-dev/esm/internal/redact"
)

// newAPIClient returns a datadog-api-client-go client with the client's
// own retry off that sends every operation to rawURL when it is set, or
// else to the API of site (empty: datadoghq.com). For a site it also
// returns the server variables each call's context must carry (see
// withAuth); operation, such as "v1.MonitorsApi.ListMonitors", is the one
// the site is checked against.
//
// A URL replaces the client's server list with one server without
// variables; a site is the "site" variable of the client's default server,
// which accepts only Datadog's sites.
func newAPIClient(site, rawURL string, httpClient *http.Client, operation string) (*datadog.APIClient, map[string]string, error) {
	cfg := datadog.NewConfiguration()
	cfg.RetryConfiguration.EnableRetry = false
	cfg.HTTPClient = httpClient
	var vars map[string]string
	switch {
	case rawURL != "":
		base, err := baseURL(rawURL)
		if err != nil {
			return nil, nil, err
		}
		// Credentials in the URL go as basic authentication, so that no
		// error or log line of the client can print them.
		base, cfg.HTTPClient = redact.Userinfo(base, httpClient)
		cfg.Servers = datadog.ServerConfigurations{{URL: base, Description: "ESM_DATADOG_URL"}}
		cfg.OperationServers = nil
	case site != "":
		vars = map[string]string{"site": site}
		if _, err := cfg.ServerURLWithContext(withAuth(context.Background(), nil, vars), operation); err != nil {
			return nil, nil, fmt.Errorf("datadog: site %q: %w", site, err)
		}
	}
	return datadog.NewAPIClient(cfg), vars, nil
}

// withAuth adds the keys and the server variables to ctx, where the
// client looks for them.
func withAuth(ctx context.Context, keys map[string]datadog.APIKey, vars map[string]string) context.Context {
	if keys != nil {
		ctx = context.WithValue(ctx, datadog.ContextAPIKeys, keys)
	}
	if vars != nil {
		ctx = context.WithValue(ctx, datadog.ContextServerVariables, vars)
	}
	return ctx
}

// baseURL checks a base URL and returns it without a trailing slash.
func baseURL(raw string) (string, error) {
	const want = "want an absolute http or https URL such as http://127.0.0.1:8126"
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("datadog: URL %q: %w; %s", redact.URL(raw), err, want)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "", fmt.Errorf("datadog: URL %q: %s", redact.URL(raw), want)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("datadog: URL %q: a base URL has no query or fragment", redact.URL(raw))
	}
	return strings.TrimRight(u.String(), "/"), nil
}
