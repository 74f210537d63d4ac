package lcs_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cutover/lcs"
	"cutover/lcs/internal/testclock"
)

// fixedServer answers every request with body and counts the requests.
func fixedServer(t *testing.T, body string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func staticClient(t *testing.T, srv *httptest.Server, warnings *[]lcs.Warning) *lcs.Client {
	t.Helper()
	var mu sync.Mutex
	c, err := lcs.NewClient(lcs.Config{BaseURL: srv.URL, ProjectID: "112233", HTTPClient: srv.Client(), Clock: testclock.New(t0),
		Auth: lcs.Auth{Mode: lcs.AuthStaticToken, Getenv: func(string) string { return "tok" }},
		OnWarning: func(w lcs.Warning) {
			mu.Lock()
			defer mu.Unlock()
			*warnings = append(*warnings, w)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOneOddFieldNeverFailsTheAnswer: a date in an unknown format, a boolean that is not one, a
// row that is not an object and a property the client does not know: the rest of the answer is
// read, the odd values are noted on their environment and warned about once per property.
func TestOneOddFieldNeverFailsTheAnswer(t *testing.T) {
	srv, _ := fixedServer(t, `{"ResultPageCurrent": 1, "ResultHasMorePages": false, "Data": [
		{"EnvironmentId": "d15ed3a8c2c14054840b946c93915da9", "EnvironmentName": "PROD", "DeployedOnUTC": "Thursday, 5 August 2021",
		 "CanStop": "sometimes", "DeploymentStatusDisplay": "Deployed", "SomethingNew": {"a": 1}},
		"not an environment",
		{"EnvironmentId": "60b557b2-fefb-4690-859e-f83caf98c17e", "EnvironmentName": "UAT", "DeployedOnUTC": 20210805,
		 "DeploymentStatusDisplay": ["Replicated"], "CanStart": true}
	], "IsSuccess": true, "OperationActivityId": "216ea45d-113d-445a-a393-f67041f7aafe", "ErrorMessage": null,
	"VersionEOL": "9999-12-31T23:59:59.9999999"}`)
	var warnings []lcs.Warning
	c := staticClient(t, srv, &warnings)
	envs, err := c.Environments(ctx(t))
	if err != nil {
		t.Fatalf("one odd field failed the whole answer: %v", err)
	}
	if len(envs) != 2 || envs[0].Name != "PROD" || envs[1].Name != "UAT" {
		t.Fatalf("environments = %+v", envs)
	}
	prod, uat := envs[0], envs[1]
	if prod.DeploymentStatus != lcs.DeploymentDeployed || !prod.DeployedOn.IsZero() || prod.CanStop || len(prod.Notes) != 2 ||
		!strings.Contains(prod.Notes[0]+prod.Notes[1], "DeployedOnUTC") || !strings.Contains(prod.Notes[0]+prod.Notes[1], "CanStop") {
		t.Errorf("production = %+v", prod)
	}
	if !uat.CanStart || uat.DeploymentStatus != "" || len(uat.Notes) != 2 {
		t.Errorf("UAT = %+v", uat)
	}
	var unreadable []string
	for _, w := range warnings {
		if w.Kind == lcs.WarnUnreadable {
			unreadable = append(unreadable, w.Message)
		}
	}
	// DeployedOnUTC (twice, warned once), CanStop, DeploymentStatusDisplay and the odd row.
	if len(unreadable) != 4 {
		t.Errorf("warnings = %q", unreadable)
	}
	// The environment is still found by id.
	if e, err := c.Environment(ctx(t), "60B557B2FEFB4690859EF83CAF98C17E"); err != nil || e.Name != "UAT" {
		t.Errorf("Environment = %+v, %v", e, err)
	}
}

// TestPagingStopsWhenTheServerIgnoresThePage: a server that answers page 1 to every page and
// always says there are more does not loop the client, and nothing is listed twice.
func TestPagingStopsWhenTheServerIgnoresThePage(t *testing.T) {
	srv, n := fixedServer(t, `{"ResultPageCurrent": 1, "ResultHasMorePages": true, "Data": [
		{"Name": "Refresh database", "Type": "SFSourceDbToSandbox", "StartDateTimeUtc": "2026-03-14T08:00:00.0", "Status": "InProgress",
		 "ActivityId": "34703e5c3d224d1685dbaa7f8677d237"}],
		"IsSuccess": true, "OperationActivityId": "x", "ErrorMessage": null, "VersionEOL": "9999-12-31T23:59:59.9999999"}`)
	var warnings []lcs.Warning
	c := staticClient(t, srv, &warnings)
	h, err := c.EnvironmentHistory(ctx(t), "9ba7fcc3e3b941e09eccd40abde85429")
	if err != nil || len(h) != 1 || h[0].Status != lcs.StatusInProgress {
		t.Fatalf("history = %+v, %v", h, err)
	}
	if *n != 2 {
		t.Errorf("%d requests, want 2 (page 2 answered as page 1 ends it)", *n)
	}
}

// TestAnAnswerThatIsNoObjectIsAnError: what cannot be read at all is an error, not an empty list.
func TestAnAnswerThatIsNoObjectIsAnError(t *testing.T) {
	for _, body := range []string{`[1, 2]`, `<html>`, `{"Data": "none", "IsSuccess": true}`} {
		srv, _ := fixedServer(t, body)
		var warnings []lcs.Warning
		c := staticClient(t, srv, &warnings)
		if _, err := c.Environments(ctx(t)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}
