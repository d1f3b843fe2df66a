// Package redact keeps the credentials that users write into URLs
// (http://user:secret@proxy, https://token@ghe.example.com) out of
// everything esm prints and logs. URL hides them in a URL that is shown;
// Userinfo takes them out of a URL that is handed to an HTTP client
// library and sends them as basic authentication instead, so that no
// error message or log line the library makes can carry them.
package redact

import (
	"net/http"
	"net/url"
	"strings"
)

// Mask replaces what is hidden.
const Mask = "xxxxx"

// URL returns raw with its credentials hidden: the password of
// user:password (as url.URL.Redacted does), or a user name that stands
// alone, which is how tokens are written into URLs. A string that does not
// parse as a URL gets everything between "//" and the last "@" of its
// authority hidden. Strings without credentials come back unchanged.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && (u.Host != "" || u.User != nil) {
		switch {
		case u.User == nil:
			return raw
		case hasPassword(u.User):
			return u.Redacted()
		default:
			u.User = url.User(Mask)
			return u.String()
		}
	}
	// Not a URL: find the authority by hand.
	start := strings.Index(raw, "//") + 2 // 1 without "//": the whole string
	if start == 1 {
		start = 0
	}
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return raw
	}
	return raw[:start] + Mask + raw[start+at:]
}

func hasPassword(u *url.Userinfo) bool {
	_, ok := u.Password()
	return ok
}

// Userinfo returns rawURL without its credentials and an HTTP client that
// sends them as basic authentication on every request that carries no
// Authorization of its own, as net/http does for credentials in a URL.
// Without credentials, or when rawURL does not parse, it returns both
// unchanged. hc nil means http.DefaultClient.
func Userinfo(rawURL string, hc *http.Client) (string, *http.Client) {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL, hc
	}
	user := u.User
	u.User = nil
	if hc == nil {
		hc = http.DefaultClient
	}
	with := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	with.Transport = basicAuth{base: base, user: user}
	return u.String(), &with
}

// basicAuth adds the credentials taken out of a URL to each request.
type basicAuth struct {
	base http.RoundTripper
	user *url.Userinfo
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		return b.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	pass, _ := b.user.Password()
	r.SetBasicAuth(b.user.Username(), pass)
	return b.base.RoundTrip(r)
}
