package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cutover/engine"
)

// odataFront is a stand-in for an environment's front below /env/: it records what it was asked
// and answers the users entity with a count set by the test.
type odataFront struct {
	mu      sync.Mutex
	queries []string // path?decoded query of each request
	enabled int
	paged   bool
}

func (f *odataFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.Path+"?"+r.URL.Query().Get("$filter"))
	switch r.URL.Path {
	case "/env/data/SystemUsers":
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$count") == "true" {
			fmt.Fprintf(w, `{"@odata.context":"x","@odata.count":%d,"value":[]}`, f.enabled)
			return
		}
		entries := strings.TrimSuffix(strings.Repeat(`{"UserID":"u"},`, f.enabled), ",")
		next := ""
		if f.paged {
			next = `,"@odata.nextLink":"next"`
		}
		fmt.Fprintf(w, `{"value":[%s]%s}`, entries, next)
	case "/env/data/Nothing":
		fmt.Fprint(w, `{"@odata.context":"x"}`)
	case "/env/html":
		fmt.Fprint(w, "<html>")
	default:
		http.NotFound(w, r)
	}
}

// TestSmokeHTTPReachesAnEnvironmentThroughLCS: environment: production takes the base URL from
// LCS's EnvironmentEndpointBaseUrl and appends path (its query made safe to send); with entra: true
// the token is asked for the environment's URL without a trailing slash (services-home-page.md);
// expect_json_count counts the OData answer's entries.
func TestSmokeHTTPReachesAnEnvironmentThroughLCS(t *testing.T) {
	front := &odataFront{enabled: 1}
	srv := httptest.NewServer(front)
	defer srv.Close()
	api := newMetaLCS()
	api.set("PROD", func(e *engine.LCSEnvironment) { e.EndpointBaseURL = srv.URL + "/env/" })
	tokens := &fakeTokens{}
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: users, title: Users enabled, kind: smoke.http, with: {environment: production, path: "/data/SystemUsers?$filter=Enabled eq true&$count=true", entra: true, expect_json_count: {min: 2}}}
`)
	h.opts.Ports.LCS, h.opts.Ports.Tokens = api, tokens
	h.start()
	st := h.waitStep("users", engine.StateFailed)
	if !strings.Contains(st.LastError, "GET "+srv.URL+"/env/data/SystemUsers?$filter=Enabled%20eq%20true&$count=true: 1 entries, expected at least 2") {
		t.Fatalf("%q", st.LastError)
	}
	front.mu.Lock()
	if len(front.queries) != 1 || front.queries[0] != "/env/data/SystemUsers?Enabled eq true" {
		t.Fatalf("the front was asked %q", front.queries)
	}
	front.enabled = 13
	front.mu.Unlock()
	tokens.mu.Lock()
	if len(tokens.asked) != 1 || tokens.asked[0] != srv.URL+"/env" {
		t.Fatalf("tokens asked for %q, want the environment's URL without its trailing slash", tokens.asked)
	}
	tokens.mu.Unlock()
	if err := h.e.Retry("users", ana); err != nil {
		t.Fatal(err)
	}
	st = h.waitStep("users", engine.StateSucceeded)
	if !strings.HasPrefix(st.Message, "HTTP 200 from "+srv.URL+"/env/data/SystemUsers?") || !strings.HasSuffix(st.Message, "; 13 entries (at least 2)") {
		t.Fatalf("message %q", st.Message)
	}
	d := h.rb.Steps[0].Spec.(engine.Action).Describe()
	if want := "GET production's URL in LCS (EnvironmentEndpointBaseUrl of PROD) + /data/SystemUsers?$filter=Enabled eq true&$count=true expecting HTTP 200 and an OData answer of at least 2 entries, signing in with Entra ID for production's URL (the runbook's lcs sign-in)"; d != want {
		t.Fatalf("Describe:\n%s\nwant\n%s", d, want)
	}
}

// TestSmokeHTTPCountsODataEntries: without $count the entries of value are counted; a page with a
// next one proves only a minimum; an answer that is no OData collection fails, saying so.
func TestSmokeHTTPCountsODataEntries(t *testing.T) {
	front := &odataFront{enabled: 3, paged: true}
	srv := httptest.NewServer(front)
	defer srv.Close()
	api := newMetaLCS()
	api.set("SBX", func(e *engine.LCSEnvironment) { e.EndpointBaseURL = srv.URL + "/env" })
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: least, title: At least, kind: smoke.http, with: {environment: sandbox, path: /data/SystemUsers, expect_json_count: {min: 3}}}
  - {id: most, title: At most, kind: smoke.http, with: {environment: sandbox, path: /data/SystemUsers, expect_json_count: {max: 5}}}
  - {id: none, title: No collection, kind: smoke.http, with: {environment: sandbox, path: /data/Nothing, expect_json_count: {min: 0}}}
  - {id: html, title: Not JSON, kind: smoke.http, with: {environment: sandbox, path: /html, expect_json_count: {min: 0}}}
  - {id: root, title: Root, kind: smoke.http, with: {environment: sandbox}}
`)
	h.opts.Ports.LCS = api
	h.start()
	if st := h.waitStep("least", engine.StateSucceeded); !strings.HasSuffix(st.Message, "; 3 entries (at least 3)") {
		t.Errorf("least: %q", st.Message)
	}
	if st := h.waitStep("most", engine.StateFailed); !strings.Contains(st.LastError, "the answer is paged (@odata.nextLink) and has no @odata.count") {
		t.Errorf("most: %q", st.LastError)
	}
	if st := h.waitStep("none", engine.StateFailed); !strings.Contains(st.LastError, "the answer has no value array (not an OData collection)") {
		t.Errorf("none: %q", st.LastError)
	}
	if st := h.waitStep("html", engine.StateFailed); !strings.Contains(st.LastError, "the answer is not JSON") {
		t.Errorf("html: %q", st.LastError)
	}
	if st := h.waitStep("root", engine.StateFailed); !strings.Contains(st.LastError, "GET "+srv.URL+"/env/: HTTP 404 (expected 200)") {
		t.Errorf("root: %q", st.LastError)
	}
}

// TestSmokeHTTPEnvironmentWithoutAUsableURL: LCS's documented example gives EnvironmentEndpointBaseUrl
// as "<example>"; a URL that is none fails at once, naming it; a token is not sent over clear-text
// http to another machine; LCS not answering is retried.
func TestSmokeHTTPEnvironmentWithoutAUsableURL(t *testing.T) {
	for _, c := range []struct {
		base, want string
		attempt    int
	}{
		{"<example>", `LCS gives production no usable URL (EnvironmentEndpointBaseUrl "<example>"`, 1},
		{"", `LCS gives production no usable URL (EnvironmentEndpointBaseUrl ""`, 1},
		{"http://contoso.operations.dynamics.com/", "a bearer token would cross the network in clear text", 1},
	} {
		api := newMetaLCS()
		api.set("PROD", func(e *engine.LCSEnvironment) { e.EndpointBaseURL = c.base })
		h := newHarness(t, "name: t\n"+lcsSection+"steps:\n  - {id: web, title: Web, kind: smoke.http, retries: 2, with: {environment: production, entra: true}}\n")
		h.opts.Ports.LCS, h.opts.Ports.Tokens = api, &fakeTokens{}
		h.start()
		if st := h.waitStep("web", engine.StateFailed); st.Attempt != c.attempt || !strings.Contains(st.LastError, c.want) {
			t.Errorf("%q: attempt %d: %q", c.base, st.Attempt, st.LastError)
		}
	}
	api := newMetaLCS()
	api.errs = []error{errLCSDown}
	h := newHarness(t, "name: t\n"+lcsSection+"steps:\n  - {id: web, title: Web, kind: smoke.http, retries: 2, with: {environment: production}}\n")
	h.opts.Ports.LCS = api
	h.start()
	if st := h.waitStep("web", engine.StateRetrying); !strings.Contains(st.LastError, "reading production's URL (EnvironmentEndpointBaseUrl) from LCS") {
		t.Errorf("%q", st.LastError)
	}
}

// TestSmokeHTTPSendsAQueryWithSpaces: a url whose query holds spaces (an OData $filter as a person
// writes it) reaches the server with the query it meant.
func TestSmokeHTTPSendsAQueryWithSpaces(t *testing.T) {
	front := &odataFront{enabled: 2}
	srv := httptest.NewServer(front)
	defer srv.Close()
	h := newHarness(t, "name: t\nsteps:\n  - {id: web, title: Web, kind: smoke.http, with: {url: \""+srv.URL+"/env/data/SystemUsers?$filter=UserID eq 'admin'\", expect_body: UserID}}\n")
	h.start()
	h.waitStep("web", engine.StateSucceeded)
	front.mu.Lock()
	defer front.mu.Unlock()
	if len(front.queries) != 1 || front.queries[0] != "/env/data/SystemUsers?UserID eq 'admin'" {
		t.Fatalf("the server was asked %q", front.queries)
	}
}

// TestSmokeHTTPEnvironmentDecoding: url and environment exclude each other, path needs environment
// and starts with /, expect_json_count needs a bound; each problem at its position.
func TestSmokeHTTPEnvironmentDecoding(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	for _, c := range []struct{ with, want string }{
		{"{url: https://contoso.example/, environment: production}", "environment: give either url (a fixed address) or environment with path"},
		{"{expect_status: 200}", "give url (a fixed address) or environment with path"},
		{"{url: https://contoso.example/, path: /data}", "path: only used with environment:"},
		{"{environment: production, path: data/SystemUsers}", `path: "data/SystemUsers" is not a path below the environment's URL`},
		{"{environment: production, path: \"https://elsewhere.example/data\"}", "is not a path below the environment's URL"},
		{"{environment: production, expect_json_count: {}}", "expect_json_count: give min, max or both"},
		{"{environment: production, expect_json_count: {min: 5, max: 2}}", "expect_json_count: min 5 is above max 2"},
		{"{environment: production, expect_json_count: {least: 2}}", `unknown key "least"`},
		{"{environment: production, method: HEAD, expect_json_count: {min: 1}}", "method: HEAD gets no body"},
		{"{url: https://contoso.example/, method: head, expect_body: Finance}", "method: HEAD gets no body"},
	} {
		h.src = "name: t\n" + lcsSection + "steps:\n  - {id: web, title: Web, kind: smoke.http, with: " + c.with + "}\n"
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.with, c.want, err)
		}
	}
	h.src = "name: t\nsteps:\n  - {id: web, title: Web, kind: smoke.http, with: {environment: production}}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), "the runbook has no lcs: section") {
		t.Errorf("environment without an lcs section: %v", err)
	}
}
