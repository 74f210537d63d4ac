package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
)

// SmokeHTTPKind checks a URL: the status and, optionally, a pattern in the body or the number of
// entries of an OData answer. The URL is given (url:) or is a path below an environment's
// EnvironmentEndpointBaseUrl, read from LCS when the step runs (environment: production, path:
// /data/SystemUsers?…): that is how a smoke test reaches production, whose database cutover
// cannot reach. It can send a bearer token: an Entra ID token got with the runbook's lcs sign-in
// (entra: true, through Ports.Tokens) for the URL's host, for the environment's URL without a
// trailing slash ("request token for the resource - which is the URI for your organization …
// do not add a trailing slash": data-entities/services-home-page.md), or for entra_resource; or
// one taken from an environment variable (bearer_env). A token is never sent over clear-text http
// to another machine, not even after a redirect. certificate adds a CA (PEM file) to the system's
// for a server behind an internal CA; with environment: the lcs section's certificate is trusted
// too, as it is for LCS.
type SmokeHTTPKind struct{}

// Name implements Kind.
func (SmokeHTTPKind) Name() string { return "smoke.http" }

// Mode implements Kind.
func (SmokeHTTPKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {url | environment + path, method, expect_status, expect_body,
// expect_json_count, entra, entra_resource, bearer_env, certificate, request_timeout}`. url and
// environment exclude each other; path needs environment; entra and bearer_env exclude each
// other; entra_resource needs entra; certificate must hold a PEM certificate (a relative path is
// beside the runbook).
func (SmokeHTTPKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &smokeHTTPAction{method: http.MethodGet, status: http.StatusOK, timeout: 30 * time.Second}
	present := d.Fields(with, where, map[string]runbook.Field{
		"url":         func(v *yaml.Node) { a.url = d.NonEmpty(v, where, "url") },
		"environment": func(v *yaml.Node) { a.env, _ = lcsEnv(d, s, v, "environment"); a.envLabel = v.Value },
		"path": func(v *yaml.Node) {
			a.path = d.NonEmpty(v, where, "path")
			if a.path == "" {
				return
			}
			p, err := url.Parse(a.path)
			if err != nil || p.Scheme != "" || p.Host != "" || p.Fragment != "" || !strings.HasPrefix(a.path, "/") {
				d.Errorf(v, where, "path: %q is not a path below the environment's URL: give one starting with /, such as /data/SystemUsers?$count=true", a.path)
				a.path = ""
			}
		},
		"expect_json_count": func(v *yaml.Node) { a.count = decodeJSONCount(d, v, where) },
		"method": func(v *yaml.Node) {
			a.method = strings.ToUpper(d.Enum(v, where, "method", "GET", "HEAD", "get", "head"))
		},
		"expect_status": func(v *yaml.Node) { a.status = d.Int(v, where, "expect_status", 100, 599) },
		"expect_body": func(v *yaml.Node) {
			pat := d.NonEmpty(v, where, "expect_body")
			re, err := regexp.Compile(pat)
			if err != nil {
				d.Errorf(v, where, "expect_body: not a regular expression: %v", err)
				return
			}
			a.body = re
		},
		"bearer_env":      func(v *yaml.Node) { a.bearerEnv = d.NonEmpty(v, where, "bearer_env") },
		"entra":           func(v *yaml.Node) { a.entra = d.Bool(v, where, "entra") },
		"entra_resource":  func(v *yaml.Node) { a.resource = entraResource(d, v, where) },
		"request_timeout": func(v *yaml.Node) { a.timeout = d.Duration(v, where, "request_timeout") },
		"certificate": func(v *yaml.Node) {
			file := d.NonEmpty(v, where, "certificate")
			if file == "" {
				return
			}
			if rb := d.Runbook(); rb != nil && !filepath.IsAbs(file) {
				file = filepath.Join(rb.Dir, file)
			}
			pool, err := trustedRoots(file)
			if err != nil {
				d.Errorf(v, where, "certificate: %v", err)
				return
			}
			a.roots = pool
		},
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind smoke.http needs `with: {url: https://…}` or `with: {environment: production, path: /…}`")
		return a
	}
	switch {
	case present["url"] != nil && present["environment"] != nil:
		d.Errorf(present["environment"], where, "environment: give either url (a fixed address) or environment with path (below the environment's URL in LCS), not both")
	case present["url"] == nil && present["environment"] == nil:
		d.Errorf(with, where, "give url (a fixed address) or environment with path (below the environment's EnvironmentEndpointBaseUrl in LCS)")
	case present["path"] != nil && present["environment"] == nil:
		d.Errorf(present["path"], where, "path: only used with environment: (it is appended to the environment's URL in LCS); with url: put it in the url")
	}
	if a.env != "" && a.path == "" && present["path"] == nil {
		a.path = "/"
	}
	if a.method == http.MethodHead && (a.body != nil || a.count != nil) {
		d.Errorf(present["method"], where, "method: HEAD gets no body, so expect_body and expect_json_count cannot be checked: use GET")
	}
	var u *url.URL
	if a.url != "" {
		var err error
		u, err = url.Parse(a.url)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			d.Errorf(present["url"], where, "url: %q is not an http(s) URL", a.url)
			u = nil
		}
	}
	switch {
	case a.entra && a.bearerEnv != "":
		d.Errorf(present["bearer_env"], where, "bearer_env: give either entra: true (an Entra ID token from the runbook's lcs sign-in) or bearer_env (a token from the environment), not both")
	case !a.entra && present["entra_resource"] != nil:
		d.Errorf(present["entra_resource"], where, "entra_resource: only used with entra: true")
	case a.entra && present["entra_resource"] == nil && u != nil:
		a.resource = u.Scheme + "://" + u.Host
	}
	// With environment:, the resource is the environment's URL, known when the step runs.
	if a.entra {
		if rb := d.Runbook(); rb != nil && rb.LCS == nil {
			d.Errorf(present["entra"], where, "entra: the token comes from the runbook's Entra ID sign-in: add an lcs section (or use bearer_env)")
		}
	}
	// A bearer token travels in clear text over http://: only to this machine.
	if u != nil && u.Scheme == "http" && (a.entra || a.bearerEnv != "") && !isLoopback(u.Hostname()) {
		d.Errorf(present["url"], where, "url: a bearer token would cross the network in clear text over %q: use https://", a.url)
	}
	// The lcs section's CA (a proxy, the simulator) is trusted for the environment's URL too.
	if rb := d.Runbook(); a.env != "" && a.roots == nil && rb != nil && rb.LCS != nil && rb.LCS.Certificate != "" {
		file := rb.LCS.Certificate
		if !filepath.IsAbs(file) {
			file = filepath.Join(rb.Dir, file)
		}
		pool, err := trustedRoots(file)
		if err != nil {
			d.Errorf(present["environment"], where, "environment: the lcs section's certificate, trusted for the environment's URL: %v", err)
		}
		a.roots = pool
	}
	a.http = a.client()
	return a
}

// jsonCount is expect_json_count: bounds on the number of entries of an OData collection.
type jsonCount struct {
	min, max       int
	hasMin, hasMax bool
}

func (c jsonCount) String() string {
	switch {
	case c.hasMin && c.hasMax:
		return fmt.Sprintf("between %d and %d", c.min, c.max)
	case c.hasMin:
		return fmt.Sprintf("at least %d", c.min)
	}
	return fmt.Sprintf("at most %d", c.max)
}

// decodeJSONCount reads expect_json_count: {min: N, max: M} (either or both).
func decodeJSONCount(d *runbook.Decoder, v *yaml.Node, where string) *jsonCount {
	c := &jsonCount{}
	const limit = 1 << 30
	present := d.Fields(v, where+" expect_json_count", map[string]runbook.Field{
		"min": func(n *yaml.Node) { c.min, c.hasMin = d.Int(n, where, "expect_json_count.min", 0, limit), true },
		"max": func(n *yaml.Node) { c.max, c.hasMax = d.Int(n, where, "expect_json_count.max", 0, limit), true },
	})
	switch {
	case len(present) == 0:
		d.Errorf(v, where, "expect_json_count: give min, max or both, e.g. {min: 2}")
		return nil
	case c.hasMin && c.hasMax && c.min > c.max:
		d.Errorf(v, where, "expect_json_count: min %d is above max %d", c.min, c.max)
	}
	return c
}

// isLoopback reports whether host names this machine (localhost or a loopback address).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// entraResource decodes entra_resource: an Entra ID resource (application ID URI) such as
// https://contoso.operations.dynamics.com, without a trailing slash or scope.
func entraResource(d *runbook.Decoder, v *yaml.Node, where string) string {
	s := strings.TrimSpace(d.NonEmpty(v, where, "entra_resource"))
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		d.Errorf(v, where, "entra_resource: %q is not an Entra ID resource: give its https URL, e.g. https://contoso.operations.dynamics.com", s)
		return ""
	case path.Base(u.Path) == ".default" || path.Base(u.Path) == "user_impersonation":
		d.Errorf(v, where, "entra_resource: give the resource (%s), not a scope: /.default is added", strings.TrimSuffix(s, "/"+path.Base(u.Path)))
		return ""
	}
	return strings.TrimRight(s, "/")
}

type smokeHTTPAction struct {
	url, method string
	// env, when set, is the LCS environment whose EnvironmentEndpointBaseUrl path is appended to.
	env, envLabel, path string
	// count bounds the entries of the OData answer (nil: not checked).
	count     *jsonCount
	status    int
	body      *regexp.Regexp
	bearerEnv string
	// entra: send an Entra ID token for resource, from Ports.Tokens.
	entra    bool
	resource string
	timeout  time.Duration
	// roots are the CAs trusted for https (nil: the system's).
	roots *x509.CertPool
	// http is the client (see client).
	http *http.Client
}

// errClearTextRedirect: a redirect would have sent a bearer token over clear-text http.
var errClearTextRedirect = errors.New("a bearer token is not sent over clear-text http")

// trustedRoots returns the system's CAs plus those in the PEM file.
func trustedRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read: %w", file, errors.Unwrap(err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// client returns the HTTP client for one check: the default transport (proxies from the
// environment), the runbook's CA when given, and redirects that never carry a bearer token
// over clear-text http to another machine (Go keeps the header on a redirect to the same host,
// whatever the scheme).
func (a *smokeHTTPAction) client() *http.Client {
	c := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.Header.Get("Authorization") != "" && req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()) {
			return fmt.Errorf("redirected to %s: %w", req.URL.Redacted(), errClearTextRedirect)
		}
		return nil
	}}
	if a.roots != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
		c.Transport = tr
	}
	return c
}

// Describe implements Action.
func (a *smokeHTTPAction) Describe() string {
	target := a.url
	if a.env != "" {
		target = fmt.Sprintf("%s's URL in LCS (EnvironmentEndpointBaseUrl of %s) + %s", a.envLabel, a.env, a.path)
	}
	desc := fmt.Sprintf("%s %s expecting HTTP %d", a.method, target, a.status)
	if a.body != nil {
		desc += fmt.Sprintf(" and a body matching %q", a.body.String())
	}
	if a.count != nil {
		desc += fmt.Sprintf(" and an OData answer of %s entries", a.count)
	}
	switch {
	case a.entra && a.resource == "":
		desc += fmt.Sprintf(", signing in with Entra ID for %s's URL (the runbook's lcs sign-in)", a.envLabel)
	case a.entra:
		desc += fmt.Sprintf(", signing in with Entra ID for %s (the runbook's lcs sign-in)", a.resource)
	case a.bearerEnv != "":
		desc += fmt.Sprintf(", with the bearer token in $%s", a.bearerEnv)
	}
	return desc
}

// Rerunnable: it only reads.
func (a *smokeHTTPAction) Rerunnable() bool { return true }

// target is the URL to check and the Entra ID resource to sign in for: the step's url, or the
// environment's EnvironmentEndpointBaseUrl in LCS with path appended.
func (a *smokeHTTPAction) target(ctx context.Context, run *Run) (string, string, error) {
	if a.env == "" {
		u, err := url.Parse(a.url)
		if err != nil {
			return "", "", Permanent(err)
		}
		u.RawQuery = escapeQuery(u.RawQuery)
		return u.String(), a.resource, nil
	}
	api, err := needLCS(run)
	if err != nil {
		return "", "", err
	}
	env, err := api.Environment(ctx, a.env)
	what := fmt.Sprintf("reading %s's URL (EnvironmentEndpointBaseUrl) from LCS", a.envLabel)
	switch {
	case IsPermanent(err):
		return "", "", permanentRead(what, err, "retry this step")
	case err != nil:
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	raw := strings.TrimSpace(env.EndpointBaseURL)
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.User != nil {
		return "", "", Permanent(fmt.Errorf("LCS gives %s no usable URL (EnvironmentEndpointBaseUrl %q, “The base URL of the environment”): check the environment in LCS", a.envLabel, raw))
	}
	if base.Scheme == "http" && (a.entra || a.bearerEnv != "") && !isLoopback(base.Hostname()) {
		return "", "", Permanent(fmt.Errorf("%s's URL in LCS is %q: a bearer token would cross the network in clear text", a.envLabel, raw))
	}
	p, _ := url.Parse(a.path) // checked at load time
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + p.Path
	u.RawPath = ""
	u.RawQuery = escapeQuery(p.RawQuery)
	u.Fragment = ""
	resource := a.resource
	if resource == "" {
		// The environment's URL without a trailing slash (services-home-page.md).
		r := *base
		r.Path, r.RawPath, r.RawQuery, r.Fragment = strings.TrimRight(base.Path, "/"), "", "", ""
		resource = r.String()
	}
	return u.String(), resource, nil
}

// escapeQuery percent-encodes what a URL's query may not hold as written (spaces, quotes left to
// the runbook's author: "$filter=Enabled eq true"), leaving what is already encoded and the
// query's own delimiters as they are.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Run implements Runner. The Entra ID token is got before request_timeout starts: a sign-in may
// wait for the operator (a device code).
func (a *smokeHTTPAction) Run(ctx context.Context, run *Run) error {
	target, resource, err := a.target(ctx, run)
	if err != nil {
		return err
	}
	var bearer string
	if a.entra {
		tp := run.Ports().Tokens
		if tp == nil {
			return Permanent(errors.New("entra: true signs in with Entra ID through the runbook's lcs section (Entra ID sign-in); add one, or use bearer_env"))
		}
		tok, err := tp.Token(ctx, resource)
		if err != nil {
			return fmt.Errorf("get an Entra ID token for %s: %w", resource, err) // permanent if the port says so
		}
		bearer = tok
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.method, target, nil)
	if err != nil {
		return Permanent(err)
	}
	if a.count != nil {
		req.Header.Set("Accept", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if a.bearerEnv != "" {
		tok := os.Getenv(a.bearerEnv)
		if tok == "" {
			return Permanent(fmt.Errorf("environment variable %s (bearer_env) is not set", a.bearerEnv))
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := a.http.Do(req)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", a.method, target, err)
		if errors.Is(err, errClearTextRedirect) {
			return Permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	limit := int64(1 << 20)
	if a.count != nil {
		limit = 64 << 20 // an OData page holds up to 10,000 entries (odata.md)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	took := time.Since(start).Round(time.Millisecond)
	if resp.StatusCode != a.status {
		err := fmt.Errorf("%s %s: HTTP %d (expected %d) after %s", a.method, target, resp.StatusCode, a.status, took)
		if a.entra && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			err = fmt.Errorf("%w: the Entra ID token for %s was refused; check that the signed-in account may use it, is enabled in the environment, and that the app registration has that API's permission", err, resource)
		}
		return err
	}
	if a.body != nil && !a.body.Match(body) {
		return fmt.Errorf("%s %s: HTTP %d but the body does not match %q", a.method, target, resp.StatusCode, a.body.String())
	}
	msg := fmt.Sprintf("HTTP %d in %s", resp.StatusCode, took)
	if a.env != "" {
		msg = fmt.Sprintf("HTTP %d from %s in %s", resp.StatusCode, target, took)
	}
	if a.count != nil {
		n, note, err := odataCount(body)
		if err != nil {
			return fmt.Errorf("%s %s: HTTP %d but %w", a.method, target, resp.StatusCode, err)
		}
		if err := a.count.check(n, note); err != nil {
			return fmt.Errorf("%s %s: %w", a.method, target, err)
		}
		msg += fmt.Sprintf("; %d entries (%s)", n, a.count)
	}
	run.SetMessage(msg)
	return nil
}

// countNote says how an OData answer's number of entries was found.
type countNote int

// How the number of entries was found.
const (
	// countExact: @odata.count, the count of the whole collection the request asked for ($count=true).
	countExact countNote = iota
	// countPage: the entries of value, all of them (no @odata.nextLink).
	countPage
	// countAtLeast: the entries of value on a page that has a next one: a lower bound.
	countAtLeast
)

// odataCount is the number of entries of an OData JSON answer (OData v4: "value" holds the
// entries, "@odata.count" the collection's count when $count=true was asked, "@odata.nextLink"
// the next page — odata.md: "The OData service supports serving driven paging with a maximum page
// size of 10,000"). A bare JSON array is counted too.
func odataCount(body []byte) (int, countNote, error) {
	var arr []json.RawMessage
	if json.Unmarshal(body, &arr) == nil && arr != nil {
		return len(arr), countPage, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return 0, 0, fmt.Errorf("the answer is not JSON (%v), so its entries cannot be counted", err)
	}
	if raw, ok := obj["@odata.count"]; ok {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return 0, 0, fmt.Errorf("its @odata.count %s is not a count", raw)
		}
		return n, countExact, nil
	}
	raw, ok := obj["value"]
	if !ok {
		return 0, 0, errors.New("the answer has no value array (not an OData collection): ask for an entity set, e.g. /data/SystemUsers?$count=true")
	}
	if err := json.Unmarshal(raw, &arr); err != nil {
		return 0, 0, fmt.Errorf("its value is not an array: %w", err)
	}
	if _, more := obj["@odata.nextLink"]; more {
		return len(arr), countAtLeast, nil
	}
	return len(arr), countPage, nil
}

// check holds n to the bounds; a lower bound (a page with more after it) can prove only a minimum.
func (c jsonCount) check(n int, note countNote) error {
	if c.hasMin && n < c.min {
		return fmt.Errorf("%d entries, expected %s", n, c)
	}
	if c.hasMax {
		if note == countAtLeast {
			return fmt.Errorf("the answer is paged (@odata.nextLink) and has no @odata.count, so %s entries cannot be shown: add $count=true to the path", c)
		}
		if n > c.max {
			return fmt.Errorf("%d entries, expected %s", n, c)
		}
	}
	return nil
}

// SmokeSQLKind runs a query on a connection and checks its result: the first value, a pattern, or
// the number of rows.
type SmokeSQLKind struct{}

// Name implements Kind.
func (SmokeSQLKind) Name() string { return "smoke.sql" }

// Mode implements Kind.
func (SmokeSQLKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {connection, query, expect | expect_match | expect_rows}`.
func (SmokeSQLKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &smokeSQLAction{connection: "target", rows: -1}
	present := d.Fields(with, where, map[string]runbook.Field{
		"connection": func(v *yaml.Node) { a.connection = d.Enum(v, where, "connection", "source", "distribution", "target") },
		"query":      func(v *yaml.Node) { a.query = d.NonEmpty(v, where, "query") },
		"expect":     func(v *yaml.Node) { a.expect, a.hasExpect = d.String(v, where, "expect"), true },
		"expect_match": func(v *yaml.Node) {
			re, err := regexp.Compile(d.NonEmpty(v, where, "expect_match"))
			if err != nil {
				d.Errorf(v, where, "expect_match: not a regular expression: %v", err)
				return
			}
			a.match = re
		},
		"expect_rows": func(v *yaml.Node) { a.rows = d.Int(v, where, "expect_rows", 0, 1000) },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind smoke.sql needs `with: {connection: target, query: \"SELECT …\", expect: \"…\"}`")
		return a
	}
	d.Require(with, where, present, "query")
	if !a.hasExpect && a.match == nil && a.rows < 0 {
		d.Errorf(with, where, "give what the result must be: expect (the first value), expect_match (a pattern) or expect_rows")
	}
	if rb := d.Runbook(); rb != nil {
		c := map[string]*runbook.Connection{"source": rb.Connections.Source, "distribution": rb.Connections.Distribution, "target": rb.Connections.Target}
		if c[a.connection] == nil && a.connection != "" {
			d.Errorf(with, where, "connection: the runbook has no connections.%s", a.connection)
		}
	}
	return a
}

type smokeSQLAction struct {
	connection string
	query      string
	expect     string
	hasExpect  bool
	match      *regexp.Regexp
	rows       int
}

func (a *smokeSQLAction) Describe() string {
	desc := fmt.Sprintf("on %s run %s", a.connection, strings.Join(strings.Fields(a.query), " "))
	switch {
	case a.hasExpect:
		desc += fmt.Sprintf(", expecting %q", a.expect)
	case a.match != nil:
		desc += fmt.Sprintf(", expecting a match for %q", a.match.String())
	}
	if a.rows >= 0 {
		desc += fmt.Sprintf(", expecting %d row(s)", a.rows)
	}
	return desc
}

// Rerunnable: smoke queries only read.
func (a *smokeSQLAction) Rerunnable() bool { return true }

func (a *smokeSQLAction) Run(ctx context.Context, run *Run) error {
	q := run.Ports().SQL
	if q == nil {
		return Permanent(errors.New("no SQL connections"))
	}
	_, rows, err := q.Query(ctx, a.connection, a.query)
	if err != nil {
		return err
	}
	if a.rows >= 0 && len(rows) != a.rows {
		return fmt.Errorf("%d row(s), expected %d", len(rows), a.rows)
	}
	first := ""
	if len(rows) > 0 && len(rows[0]) > 0 {
		first = rows[0][0]
	}
	if a.hasExpect && first != a.expect {
		return fmt.Errorf("got %q, expected %q", first, a.expect)
	}
	if a.match != nil && !a.match.MatchString(first) {
		return fmt.Errorf("got %q, expected a match for %q", first, a.match.String())
	}
	run.SetMessage(fmt.Sprintf("%d row(s), first value %q", len(rows), first))
	return nil
}
