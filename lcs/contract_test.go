package lcs_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/contract"
	"cutover/lcs/internal/testclock"
)

// docServer serves one documented example's bytes, unchanged, over HTTPS to every request, and
// records the requests.
type docServer struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	reqs []string // "METHOD /path?query"
	hdrs []http.Header
}

func serveExample(t *testing.T, file string) *docServer {
	t.Helper()
	body, err := contract.Bytes(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &docServer{t: t}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.reqs = append(d.reqs, r.Method+" "+r.URL.RequestURI())
		d.hdrs = append(d.hdrs, r.Header.Clone())
		d.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer doc-token" || r.Header.Get("x-ms-version") != "2017-09-15" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *docServer) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reqs...)
}

// client is an LCS client for project against the example server, signed in with a static
// token, on a fake clock; warnings are collected.
func (d *docServer) client(project string, warnings *[]lcs.Warning) *lcs.Client {
	d.t.Helper()
	var mu sync.Mutex
	c, err := lcs.NewClient(lcs.Config{BaseURL: d.srv.URL, ProjectID: project, HTTPClient: d.srv.Client(),
		Clock: testclock.New(t0),
		Auth:  lcs.Auth{Mode: lcs.AuthStaticToken, Getenv: func(string) string { return "doc-token" }},
		OnWarning: func(w lcs.Warning) {
			mu.Lock()
			defer mu.Unlock()
			if warnings != nil {
				*warnings = append(*warnings, w)
			}
		}})
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// requestLine is a documented example request's first line.
func requestLine(t *testing.T, file string) string {
	t.Helper()
	b, err := contract.Bytes(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestClientReadsTheDocumentedMetadataExample: Microsoft's example answer of the environment
// metadata endpoint (reference-environment-metadata.md), served verbatim, decodes completely:
// its "M/D/YYYY h:mm AM/PM" date, its undashed id and its numeric project id. An id given in
// another spelling (dashed, upper case, in braces) finds the same environment, and the example's
// "more pages" (served again for page 2) does not loop the client.
func TestClientReadsTheDocumentedMetadataExample(t *testing.T) {
	d := serveExample(t, "environment-metadata.json")
	var warnings []lcs.Warning
	c := d.client("112233", &warnings)
	cx := ctx(t)
	envs, err := c.Environments(cx)
	if err != nil {
		t.Fatalf("the documented example does not decode: %v", err)
	}
	if len(envs) != 2 {
		t.Fatalf("%d environments, want the example's 2: %+v", len(envs), envs)
	}
	prod := envs[0]
	want := lcs.Environment{ID: "d15ed3a8c2c14054840b946c93915da9", Name: "ProdEnvironment1", ProjectID: "112233",
		Infrastructure: "MicrosoftManaged", Type: lcs.EnvironmentProduction, Group: "Primary", Product: "Finance and Operations",
		EndpointBaseURL: "<example>", DeploymentState: "Finished", DeploymentStatus: lcs.DeploymentDeployed,
		TopologyDisplayName:     "Finance and Operations - High Availability (10.0.20 with Platform update 44)",
		ApplicationBuildVersion: "10.0.886.48", ApplicationReleaseName: "10.0.20", PlatformReleaseName: "Update44",
		PlatformVersion: "7.0.6060.45", DeployedOn: utc("2021-08-05 23:00:00"), CloudStorageLocation: "East US",
		DisasterRecoveryLocation: "West US"}
	if !sameEnvironment(prod, want) {
		t.Errorf("production:\n got %+v\nwant %+v", prod, want)
	}
	sbx := envs[1]
	if sbx.ID != "60b557b2-fefb-4690-859e-f83caf98c17e" || sbx.DeploymentStatus != lcs.DeploymentFailed || !sbx.DeployedOn.Equal(utc("2021-08-05 12:42:00")) ||
		!sbx.CanStop || sbx.CanStart || sbx.Type != lcs.EnvironmentSandbox || sbx.PlatformVersion != "7.0.6129.19" {
		t.Errorf("sandbox: %+v", sbx)
	}
	if n := len(d.requests()); n > 2 {
		t.Errorf("%d metadata requests for one page served again: %q", n, d.requests())
	}
	for _, id := range []string{"d15ed3a8-c2c1-4054-840b-946c93915da9", "D15ED3A8C2C14054840B946C93915DA9", "{d15ed3a8-c2c1-4054-840b-946c93915da9}"} {
		e, err := c.Environment(cx, id)
		if err != nil || e.Name != "ProdEnvironment1" {
			t.Errorf("Environment(%s) = %+v, %v", id, e, err)
		}
	}
	e, err := c.Environment(cx, "60B557B2FEFB4690859EF83CAF98C17E")
	if err != nil || e.Name != "SandboxEnvironment1" {
		t.Errorf("the sandbox by its undashed upper-case id: %+v, %v", e, err)
	}
	if len(warnings) != 0 {
		t.Errorf("the documented example is not worth a warning: %+v", warnings)
	}
}

// sameEnvironment compares the documented fields (DeployedOn as an instant).
func sameEnvironment(a, b lcs.Environment) bool {
	at, bt := a.DeployedOn, b.DeployedOn
	a.DeployedOn, b.DeployedOn = time.Time{}, time.Time{}
	a.Notes, b.Notes = nil, nil
	return at.Equal(bt) && a.ID == b.ID && a.Name == b.Name && a.ProjectID == b.ProjectID && a.Infrastructure == b.Infrastructure &&
		a.Type == b.Type && a.Group == b.Group && a.Product == b.Product && a.EndpointBaseURL == b.EndpointBaseURL &&
		a.DeploymentState == b.DeploymentState && a.DeploymentStatus == b.DeploymentStatus && a.TopologyDisplayName == b.TopologyDisplayName &&
		a.ApplicationBuildVersion == b.ApplicationBuildVersion && a.ApplicationReleaseName == b.ApplicationReleaseName &&
		a.PlatformReleaseName == b.PlatformReleaseName && a.PlatformVersion == b.PlatformVersion &&
		a.CloudStorageLocation == b.CloudStorageLocation && a.DisasterRecoveryLocation == b.DisasterRecoveryLocation &&
		a.CanStart == b.CanStart && a.CanStop == b.CanStop
}

// TestClientReadsTheTutorialsMetadataAnswer: the tutorial's answer to ?environmentId= carries
// two environments and two properties the reference lacks; the client asks as the tutorial's
// request does and picks the environment asked for.
func TestClientReadsTheTutorialsMetadataAnswer(t *testing.T) {
	d := serveExample(t, "environment-metadata-tutorial.json")
	c := d.client("112233", nil)
	e, err := c.Environment(ctx(t), "60b557b2-fefb-4690-859e-f83caf98c17e")
	if err != nil || e.Name != "SandboxEnvironment1" || e.Product != "finance and operations" || e.CloudStorageLocation != "East US" {
		t.Fatalf("Environment = %+v, %v", e, err)
	}
	// The documented request: GET .../environmentinfo/v1/detail/project/{projectId}/?environmentId={environmentId}
	tmpl := requestLine(t, "environment-metadata-tutorial.request.http")
	want := strings.NewReplacer("https://lcsapi.lcs.dynamics.com", "", "{projectId}", "112233", "{environmentId}", "60b557b2-fefb-4690-859e-f83caf98c17e").Replace(tmpl)
	if got := d.requests()[0]; got != want {
		t.Errorf("request %q is not the documented %q", got, want)
	}
}

// TestClientReadsTheDocumentedHistoryExamples: both versions of the history example (StartDateTimeUTC
// and StartDateTimeUtc) decode, dates without a zone as UTC.
func TestClientReadsTheDocumentedHistoryExamples(t *testing.T) {
	for _, file := range []string{"environment-history.json", "environment-history-2021-08.json"} {
		t.Run(file, func(t *testing.T) {
			d := serveExample(t, file)
			c := d.client("112233", nil)
			h, err := c.EnvironmentHistory(ctx(t), "9ba7fcc3-e3b9-41e0-9ecc-d40abde85429")
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 2 {
				t.Fatalf("%d rows: %+v", len(h), h)
			}
			first := h[0]
			if first.Name != "Finance insights" || first.Type != "InstallAddin" || first.TypeDisplay != "Install addin" ||
				!first.Start.Equal(utc("2021-06-03 15:10:00")) || !first.End.Equal(utc("2021-06-03 15:11:00")) ||
				first.Status != lcs.StatusCompleted || first.ActivityID != "0924ecdd-1b80-40cc-8158-172785841c15" ||
				first.EnvironmentID != "9ba7fcc3e3b941e09eccd40abde85429" || first.ProjectID != "112233" {
				t.Errorf("first row: %+v", first)
			}
			if h[1].ActivityID != "34703e5c3d224d1685dbaa7f8677d237" || !h[1].Start.Equal(utc("2021-06-03 10:10:00")) {
				t.Errorf("second row: %+v", h[1])
			}
		})
	}
}

// TestClientReadsTheDocumentedStatusExample: the get-status example, asked for with the
// documented request.
func TestClientReadsTheDocumentedStatusExample(t *testing.T) {
	d := serveExample(t, "operation-status.json")
	c := d.client("12345", nil)
	r, err := c.OperationStatus(ctx(t), "5362377c-bc37-4f92-b30e-fe0c1e664cc0", "55eb4327-9346-4c7b-82bd-fe8ef15112c6")
	if err != nil {
		t.Fatal(err)
	}
	if r.ProjectID != "12345" || r.EnvironmentID != "5362377c-bc37-4f92-b30e-fe0c1e664cc0" || r.ActivityID != "55eb4327-9346-4c7b-82bd-fe8ef15112c6" ||
		r.Status != lcs.StatusInProgress || !r.CompletionDate.IsZero() {
		t.Errorf("status = %+v", r)
	}
	if got, want := d.requests()[0], requestLine(t, "operation-status.request.http"); got != want {
		t.Errorf("request %q, documented %q", got, want)
	}
}

// TestClientSendsTheDocumentedRefreshAndExport: the refresh and export requests are the
// documented ones, and their documented answers give the operation's activity id.
func TestClientSendsTheDocumentedRefreshAndExport(t *testing.T) {
	d := serveExample(t, "database-refresh.json")
	c := d.client("12345", nil)
	op, err := c.RefreshDatabase(ctx(t), "5362377c-bc37-4f92-b30e-fe0c1e664cc0", "6a90b45f-1764-4077-b924-3f4671540237")
	if err != nil || op.ActivityID != "55eb4327-9346-4c7b-82bd-fe8ef15112c6" || op.EnvironmentID != "6a90b45f-1764-4077-b924-3f4671540237" {
		t.Fatalf("refresh = %+v, %v", op, err)
	}
	if got, want := d.requests()[0], requestLine(t, "database-refresh.request.http"); got != want {
		t.Errorf("refresh request %q, documented %q", got, want)
	}
	d = serveExample(t, "database-export.json")
	c = d.client("12345", nil)
	op, err = c.ExportDatabase(ctx(t), "5362377c-bc37-4f92-b30e-fe0c1e664cc0", "TestBackupViaAPI")
	if err != nil || op.ActivityID != "55eb4327-9346-4c7b-82bd-fe8ef15112c6" {
		t.Fatalf("export = %+v, %v", op, err)
	}
	if got, want := d.requests()[0], requestLine(t, "database-export.request.http"); got != want {
		t.Errorf("export request %q, documented %q", got, want)
	}
}

// TestClientReadsTheDocumentedBackupsExample: the list-backups example, nulls and all.
func TestClientReadsTheDocumentedBackupsExample(t *testing.T) {
	d := serveExample(t, "database-backups.json")
	c := d.client("12345", nil)
	b, err := c.DatabaseBackups(ctx(t))
	if err != nil || len(b) != 1 {
		t.Fatalf("backups = %+v, %v", b, err)
	}
	got := b[0]
	if got.ID != "4a2c52d4-49ca-4606-94a9-92b3a6b42985" || got.ProjectID != "12345" || got.OrganizationID != "1" || got.Name != "LanesBackupRecord" ||
		got.FileName != "RandomFile.bacpac" || got.FileDescription != "" || !strings.HasPrefix(got.FileLocation, "https://scrubbed.blob.core.windows.net/") ||
		!got.Created.Equal(utc("2019-09-27 15:17:35.867")) || !got.Modified.Equal(utc("2019-09-27 15:17:35.867")) || got.CreatedBy != "" || got.ModifiedBy != "" {
		t.Errorf("backup = %+v", got)
	}
	if got, want := d.requests()[0], requestLine(t, "database-backups.request.http"); got != want {
		t.Errorf("request %q, documented %q", got, want)
	}
}

// TestClientReadsTheDocumentedThrottlingAnswer: the throttling document's answer over the limit
// is the quota error, with LCS's own message.
func TestClientReadsTheDocumentedThrottlingAnswer(t *testing.T) {
	d := serveExample(t, "throttling-limit-reached.json")
	c := d.client("12345", nil)
	_, err := c.RefreshDatabase(ctx(t), "5362377c-bc37-4f92-b30e-fe0c1e664cc0", "6a90b45f-1764-4077-b924-3f4671540237")
	ae := apiErr(t, err, lcs.ErrQuotaExhausted)
	if !strings.Contains(ae.Message, "Maximum allowed API operations are 3 from 2019-09-30T04:01:01.9999999") || ae.ActivityID != "55eb4327-9346-4c7b-82bd-fe8ef15112c6" {
		t.Errorf("quota error = %+v", ae)
	}
}

// TestEveryDocumentedResponseIsReadByATest: no documented example of an endpoint the client
// uses is left out of the tests above.
func TestEveryDocumentedResponseIsReadByATest(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{"environment-metadata.json": true, "environment-metadata-tutorial.json": true, "environment-history.json": true,
		"environment-history-2021-08.json": true, "operation-status.json": true, "database-refresh.json": true, "database-export.json": true,
		"database-backups.json": true, "throttling-limit-reached.json": true,
		// The versioning document's envelope is the refresh example's, byte for byte.
		"versioning-envelope.json": true,
		// The Entra examples are held against the simulator's Entra (lcs/sim, contract_test.go);
		// the client signs in through MSAL, whose reading of them is MSAL's.
		"entra-error.json": true, "entra-token-response.schema.json": true, "entra-token-response.json": true}
	for _, ex := range c.Examples {
		if ex.Kind != "request" && !read[ex.File] {
			t.Errorf("documented example %s is read by no client test", ex.File)
		}
	}
	a, _ := contract.Bytes("versioning-envelope.json")
	b, _ := contract.Bytes("database-refresh.json")
	if string(a) != string(b) {
		t.Error("the versioning envelope is no longer the refresh example: give it its own test")
	}
}

// TestClientRequestsFollowTheTemplates: every request the client sends to a documented endpoint
// has the endpoint's method, matches its URL template and carries only documented query
// parameters and the documented headers.
func TestClientRequestsFollowTheTemplates(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		endpoint, example string
		do                func(cl *lcs.Client) error
	}
	const env, act = "5362377c-bc37-4f92-b30e-fe0c1e664cc0", "55eb4327-9346-4c7b-82bd-fe8ef15112c6"
	calls := []call{
		{"environment-metadata", "environment-metadata.json", func(cl *lcs.Client) error { _, err := cl.Environments(ctx(t)); return err }},
		{"environment-metadata", "environment-metadata.json", func(cl *lcs.Client) error {
			_, err := cl.Environment(ctx(t), "d15ed3a8c2c14054840b946c93915da9")
			return err
		}},
		{"environment-metadata", "environment-metadata.json", func(cl *lcs.Client) error {
			_, err := cl.EnvironmentByName(ctx(t), "ProdEnvironment1")
			return err
		}},
		{"environment-history", "environment-history.json", func(cl *lcs.Client) error { _, err := cl.EnvironmentHistory(ctx(t), env); return err }},
		{"environment-history", "environment-history.json", func(cl *lcs.Client) error { _, err := cl.DatabaseMovementQuota(ctx(t), env); return err }},
		{"operation-status", "operation-status.json", func(cl *lcs.Client) error { _, err := cl.OperationStatus(ctx(t), env, act); return err }},
		{"database-refresh", "database-refresh.json", func(cl *lcs.Client) error {
			_, err := cl.RefreshDatabase(ctx(t), env, "6a90b45f-1764-4077-b924-3f4671540237")
			return err
		}},
		{"database-export", "database-export.json", func(cl *lcs.Client) error { _, err := cl.ExportDatabase(ctx(t), env, "backup-1"); return err }},
		{"database-backups", "database-backups.json", func(cl *lcs.Client) error { _, err := cl.DatabaseBackups(ctx(t)); return err }},
	}
	for _, cl := range calls {
		ep, ok := c.Endpoint(cl.endpoint)
		if !ok {
			t.Fatalf("no endpoint %s", cl.endpoint)
		}
		pattern := "^" + regexp.MustCompile(`\\\{[A-Za-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(ep.Path), `[^/]+`) + "$"
		re := regexp.MustCompile(pattern)
		d := serveExample(t, cl.example)
		if err := cl.do(d.client("12345", nil)); err != nil {
			t.Fatalf("%s: %v", cl.endpoint, err)
		}
		d.mu.Lock()
		hdrs := append([]http.Header(nil), d.hdrs...)
		d.mu.Unlock()
		for i, r := range d.requests() {
			method, uri, _ := strings.Cut(r, " ")
			path, query, _ := strings.Cut(uri, "?")
			if method != ep.Method || !re.MatchString(path) {
				t.Errorf("%s: %s does not follow %s %s", cl.endpoint, r, ep.Method, ep.Path)
			}
			q, _ := url.ParseQuery(query)
			for k := range q {
				documented := false
				for _, p := range ep.Query {
					documented = documented || p.Name == k
				}
				if !documented {
					t.Errorf("%s: query parameter %s is not documented", cl.endpoint, k)
				}
			}
			for _, h := range ep.Headers {
				if got := hdrs[i].Get(h.Name); h.Required && (got == "" || h.Name == "x-ms-version" && got != h.Value) {
					t.Errorf("%s: header %s = %q, documented %q", cl.endpoint, h.Name, got, h.Value)
				}
				if h.Name == "Content-Type" && hdrs[i].Get(h.Name) != h.Value {
					t.Errorf("%s: Content-Type %q, documented %q", cl.endpoint, hdrs[i].Get(h.Name), h.Value)
				}
			}
		}
	}
}
