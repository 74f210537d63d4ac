package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"cutover/lcs/sim"
)

// frontToken signs in for resource (an environment's URL, no trailing slash) with the password grant.
func (f *fixture) frontToken(resource string) string {
	f.t.Helper()
	code, m := f.token(url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
		"password": {sim.DefaultPassword}, "scope": {resource + "/.default"}})
	if code != 200 {
		f.t.Fatalf("token for %s: %d %v", resource, code, m)
	}
	return m["access_token"].(string)
}

// get reads url from a front with a bearer token ("" for none).
func (f *fixture) get(u, token string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// baseURL is the EnvironmentEndpointBaseUrl LCS's metadata gives for env.
func (f *fixture) baseURL(env string) string {
	f.t.Helper()
	code, _, m := f.call(http.MethodGet, "/environmentinfo/v1/detail/project/"+sim.DefaultProjectID+"/?environmentId="+env)
	data, _ := m["Data"].([]any)
	if code != 200 || len(data) != 1 {
		f.t.Fatalf("metadata of %s: %d %v", env, code, m)
	}
	u, _ := data[0].(map[string]any)["EnvironmentEndpointBaseUrl"].(string)
	return u
}

// enabledCount asks the users entity how many users are enabled.
func (f *fixture) enabledCount(base, token, filter string) (int, map[string]any) {
	f.t.Helper()
	code, body := f.get(base+"data/SystemUsers?$filter="+url.QueryEscape(filter)+"&$count=true&$select=UserID,Enabled", token)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != 200 {
		f.t.Fatalf("SystemUsers: %d %s", code, body)
	}
	n, _ := m["@odata.count"].(float64)
	return int(n), m
}

// TestFrontAnswersOnlyTheEnvironmentsToken: each environment's EnvironmentEndpointBaseUrl is a
// front the simulator serves; it answers 200 to a token issued for that environment's URL (the
// resource without a trailing slash) and 401 to no token, to an LCS API token and to another
// environment's.
func TestFrontAnswersOnlyTheEnvironmentsToken(t *testing.T) {
	f := start(t, sim.Options{})
	f.signIn()
	prod, uat := f.baseURL(sim.ProductionID), f.baseURL(sim.UATSandboxID)
	if prod != f.url+"/fno/contoso-prod/" || uat != f.url+"/fno/contoso-uat/" {
		t.Fatalf("base URLs %q %q", prod, uat)
	}
	if got := f.s.EndpointBaseURL(sim.ProductionID); got != prod {
		t.Fatalf("EndpointBaseURL %q, metadata %q", got, prod)
	}
	prodTok := f.frontToken(strings.TrimSuffix(prod, "/"))
	uatTok := f.frontToken(strings.TrimSuffix(uat, "/"))
	for _, c := range []struct {
		name, token string
		code        int
	}{{"no token", "", 401}, {"LCS API token", f.tok, 401}, {"another environment's", uatTok, 401}, {"production's", prodTok, 200}} {
		code, body := f.get(prod, c.token)
		if code != c.code {
			t.Errorf("%s: %d, want %d", c.name, code, c.code)
		}
		if code == 200 && !strings.Contains(body, "<title>Finance and Operations</title>") {
			t.Errorf("%s: %q", c.name, body)
		}
	}
	if code, _ := f.get(uat+"data", uatTok); code != 200 {
		t.Errorf("the UAT sandbox's OData root with its own token: %d", code)
	}
	if f.s.Stats().FrontRefused != 3 {
		t.Errorf("refused %d, want 3", f.s.Stats().FrontRefused)
	}
}

// TestFrontUsersAfterARefresh: a refresh into production takes it offline while it runs, then
// leaves only Admin enabled ("All users except the Admin user and other internal service user
// accounts are unavailable": database-refresh.md) until the users are enabled again.
func TestFrontUsersAfterARefresh(t *testing.T) {
	f := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour})
	f.signIn()
	base := f.baseURL(sim.ProductionID)
	tok := f.frontToken(strings.TrimSuffix(base, "/"))
	if n, _ := f.enabledCount(base, tok, "Enabled eq true"); n != 13 {
		t.Fatalf("before the refresh %d users enabled, want 13", n)
	}
	if _, err := f.s.StartPortalRefresh(sim.SandboxID, sim.ProductionID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	if code, _ := f.get(base+"data/SystemUsers", tok); code != http.StatusServiceUnavailable {
		t.Fatalf("during the refresh: %d, want 503", code)
	}
	f.clock.Advance(time.Hour)
	if code, _ := f.get(base, tok); code != http.StatusUnauthorized {
		t.Fatalf("a token past its hour: %d, want 401", code)
	}
	tok = f.frontToken(strings.TrimSuffix(base, "/"))
	n, m := f.enabledCount(base, tok, "Enabled eq true")
	if n != 1 {
		t.Fatalf("after the refresh %d users enabled, want 1 (Admin): %v", n, m)
	}
	value, _ := m["value"].([]any)
	if len(value) != 1 || value[0].(map[string]any)["UserID"] != "Admin" || len(value[0].(map[string]any)) != 2 {
		t.Fatalf("value %v: want Admin alone, with the selected properties only", value)
	}
	if ctx, _ := m["@odata.context"].(string); ctx != base+"data/$metadata#SystemUsers(UserID,Enabled)" {
		t.Errorf("@odata.context %q", ctx)
	}
	if n, _ := f.enabledCount(base, tok, "Enabled eq Microsoft.Dynamics.DataEntities.NoYes'No'"); n != 12 {
		t.Errorf("disabled as the NoYes enum: %d, want 12", n)
	}
	if en, total := f.s.EnabledUsers(sim.ProductionID); en != 1 || total != 13 {
		t.Errorf("EnabledUsers %d of %d", en, total)
	}
	if err := f.s.EnableUsers(sim.ProductionID); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.enabledCount(base, tok, "Enabled eq true"); n != 13 {
		t.Fatalf("after enabling them %d users enabled, want 13", n)
	}
	// A restarted simulator keeps that the users were enabled after the refresh.
	saved := f.s.Save()
	g := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour})
	g.clock.Advance(f.clock.Now().Sub(g.clock.Now()))
	if err := g.s.Restore(saved); err != nil {
		t.Fatal(err)
	}
	if en, _ := g.s.EnabledUsers(sim.ProductionID); en != 13 {
		t.Fatalf("after a restart %d users enabled, want 13", en)
	}
}

// TestFrontRefusesWhatItDoesNotAnswer: a property SystemUser lacks, an operator OData refuses
// ("The operators 'has' and 'in' are not supported": odata.md) or the simulator does not answer,
// and a query option it does not serve, are refused with an OData error, never ignored.
func TestFrontRefusesWhatItDoesNotAnswer(t *testing.T) {
	f := start(t, sim.Options{})
	f.signIn()
	base := f.baseURL(sim.SandboxID)
	tok := f.frontToken(strings.TrimSuffix(base, "/"))
	for _, q := range []string{
		"$filter=" + url.QueryEscape("IsEnabled eq true"),
		"$filter=" + url.QueryEscape("Enabled in (true)"),
		"$filter=" + url.QueryEscape("UserID gt 'a'"),
		"$filter=" + url.QueryEscape("Enabled eq 'yes'"),
		"$select=UserID,Theme",
		"$expand=UserInfo",
		"$count=maybe",
	} {
		code, body := f.get(base+"data/SystemUsers?"+q, tok)
		var m map[string]map[string]any
		if code != 400 || json.Unmarshal([]byte(body), &m) != nil || m["error"]["message"] == "" {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if code, _ := f.get(base+"data/Customers", tok); code != 404 {
		t.Errorf("an entity the simulator does not serve: %d", code)
	}
	code, body := f.get(base+"data/SystemUsers?cross-company=true&$filter="+url.QueryEscape("UserID eq 'admin' and Enabled eq true")+"&$top=5", tok)
	if code != 200 || !strings.Contains(body, `"UserID":"Admin"`) {
		t.Errorf("a custom query option and a key filter: %d %s", code, body)
	}
}

// TestUpdateEnvironmentChangesTheMetadata: a test can change what LCS reports for an environment.
func TestUpdateEnvironmentChangesTheMetadata(t *testing.T) {
	f := start(t, sim.Options{})
	f.signIn()
	if err := f.s.UpdateEnvironment(sim.ProductionID, func(e *sim.Environment) {
		e.ApplicationRelease, e.CloudStorageLocation, e.Infrastructure, e.ID = "10.0.40", "North Europe", "MicrosoftManaged", "changed"
	}); err != nil {
		t.Fatal(err)
	}
	_, _, m := f.call(http.MethodGet, "/environmentinfo/v1/detail/project/"+sim.DefaultProjectID+"/?environmentId="+sim.ProductionID)
	e := m["Data"].([]any)[0].(map[string]any)
	if e["CurrentApplicationReleaseName"] != "10.0.40" || e["CloudStorageLocation"] != "North Europe" || e["EnvironmentInfrastructure"] != "MicrosoftManaged" {
		t.Fatalf("%v", e)
	}
	if err := f.s.UpdateEnvironment("no-such-environment", func(*sim.Environment) {}); err == nil {
		t.Fatal("an unknown environment was updated")
	}
}
