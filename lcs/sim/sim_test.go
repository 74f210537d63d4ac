package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"cutover/lcs/internal/testclock"
	"cutover/lcs/sim"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	clock *testclock.Clock
	s     *sim.Server
	url   string
	hc    *http.Client
	tok   string
}

func start(t *testing.T, opts sim.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: testclock.New(t0)}
	opts.Clock = f.clock
	f.s = sim.New(opts)
	u, err := f.s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.s.Close() })
	f.url, f.hc = u, f.s.HTTPClient()
	return f
}

// token posts a form to the token endpoint and decodes the answer.
func (f *fixture) token(form url.Values) (int, map[string]any) {
	f.t.Helper()
	resp, err := f.hc.PostForm(f.s.Authority("")+"/oauth2/v2.0/token", form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, m
}

func (f *fixture) signIn() {
	f.t.Helper()
	code, m := f.token(url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
		"password": {sim.DefaultPassword}, "scope": {f.url + "//.default offline_access"}})
	if code != 200 {
		f.t.Fatalf("sign in: %d %v", code, m)
	}
	f.tok = m["access_token"].(string)
}

// call makes an LCS API request with the fixture's token and the documented headers.
func (f *fixture) call(method, path string) (int, http.Header, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, f.url+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tok)
	req.Header.Set("x-ms-version", "2017-09-15")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-ms-client-request-id", "test")
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header, m
}

const p = "/databasemovement/v1"

func TestDiscoveryDocuments(t *testing.T) {
	f := start(t, sim.Options{})
	resp, err := f.hc.Get(f.s.Authority("contoso.example") + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var oidc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&oidc)
	resp.Body.Close()
	if oidc["issuer"] != f.url+"/contoso.example/v2.0" || oidc["token_endpoint"] != f.url+"/contoso.example/oauth2/v2.0/token" {
		t.Fatalf("openid configuration = %v", oidc)
	}
	resp, err = f.hc.Get(f.url + "/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(f.url+"/organizations/oauth2/v2.0/authorize"))
	if err != nil {
		t.Fatal(err)
	}
	var inst map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&inst)
	resp.Body.Close()
	if inst["tenant_discovery_endpoint"] != f.url+"/organizations/v2.0/.well-known/openid-configuration" {
		t.Fatalf("instance discovery = %v", inst)
	}
	if len(f.s.CertPEM()) == 0 || f.s.CertPool() == nil {
		t.Fatal("no certificate exposed")
	}
	// A client without the certificate is refused.
	if _, err := (&http.Client{}).Get(f.url + "/common/discovery/instance"); err == nil {
		t.Fatal("an untrusting client connected")
	}
}

func TestDeviceCodeGrant(t *testing.T) {
	f := start(t, sim.Options{SlowDownPolls: 1, DeviceCodeTTL: 10 * time.Minute})
	resp, err := f.hc.PostForm(f.s.Authority("")+"/oauth2/v2.0/devicecode", url.Values{"client_id": {sim.DefaultClientID}, "scope": {f.url + "//.default openid"}})
	if err != nil {
		t.Fatal(err)
	}
	var dc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	userCode, device := dc["user_code"].(string), dc["device_code"].(string)
	if !strings.Contains(dc["message"].(string), userCode) || dc["interval"].(float64) != 5 {
		t.Fatalf("devicecode = %v", dc)
	}
	if got := f.s.PendingDeviceCodes(); len(got) != 1 || got[0] != userCode {
		t.Fatalf("pending = %v", got)
	}
	poll := url.Values{"grant_type": {"device_code"}, "client_id": {sim.DefaultClientID}, "device_code": {device}}
	for _, want := range []string{"slow_down", "authorization_pending"} {
		code, m := f.token(poll)
		if code != 400 || m["error"] != want || !strings.HasPrefix(m["error_description"].(string), "AADSTS70016") {
			t.Fatalf("poll: %d %v, want %s", code, m, want)
		}
	}
	if err := f.s.ApproveDeviceCode(userCode); err != nil {
		t.Fatal(err)
	}
	code, m := f.token(poll)
	if code != 200 || m["refresh_token"] == nil || m["id_token"] == nil || m["client_info"] == nil || m["expires_in"].(float64) != 3600 {
		t.Fatalf("approved poll: %d %v", code, m)
	}
	// Single use.
	if code, m = f.token(poll); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reused device code: %d %v", code, m)
	}
	// Expiry on the sim clock.
	resp, _ = f.hc.PostForm(f.s.Authority("")+"/oauth2/v2.0/devicecode", url.Values{"client_id": {sim.DefaultClientID}, "scope": {f.url + "//.default"}})
	_ = json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	f.clock.Advance(11 * time.Minute)
	poll.Set("device_code", dc["device_code"].(string))
	if code, m = f.token(poll); code != 400 || m["error"] != "expired_token" {
		t.Fatalf("expired code: %d %v", code, m)
	}
	// The approval page.
	resp, _ = f.hc.PostForm(f.s.Authority("")+"/oauth2/v2.0/devicecode", url.Values{"client_id": {sim.DefaultClientID}, "scope": {f.url + "//.default"}})
	_ = json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	resp, err = f.hc.PostForm(f.url+"/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("devicelogin page: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	poll.Set("device_code", dc["device_code"].(string))
	f.token(poll) // slow_down: the first poll of every code
	if code, _ = f.token(poll); code != 200 {
		t.Fatalf("code approved on the page: %d", code)
	}
}

func TestTokenGrants(t *testing.T) {
	f := start(t, sim.Options{TokenTTL: 10 * time.Minute})
	scope := f.url + "//.default offline_access"
	code, m := f.token(url.Values{"grant_type": {"password"}, "client_id": {"c"}, "username": {sim.DefaultUser}, "password": {"nope"}, "scope": {scope}})
	if code != 400 || m["error"] != "invalid_grant" || m["error_codes"].([]any)[0].(float64) != 50126 {
		t.Fatalf("wrong password: %d %v", code, m)
	}
	code, m = f.token(url.Values{"grant_type": {"password"}, "client_id": {"c"}, "username": {sim.DefaultUser}, "password": {sim.DefaultPassword}, "scope": {"https://elsewhere.example/.default"}})
	if code != 400 || m["error"] != "invalid_scope" {
		t.Fatalf("foreign scope: %d %v", code, m)
	}
	code, m = f.token(url.Values{"grant_type": {"password"}, "client_id": {"c"}, "username": {sim.DefaultUser}, "password": {sim.DefaultPassword}, "scope": {scope}})
	if code != 200 {
		t.Fatalf("password: %d %v", code, m)
	}
	rt := m["refresh_token"].(string)
	f.tok = m["access_token"].(string)
	if c, _, _ := f.call("GET", p+"/databases/project/"+sim.DefaultProjectID); c != 200 {
		t.Fatalf("fresh token refused: %d", c)
	}
	f.clock.Advance(11 * time.Minute)
	if c, h, _ := f.call("GET", p+"/databases/project/"+sim.DefaultProjectID); c != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired token: %d", c)
	}
	code, m = f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "refresh_token": {rt}, "scope": {scope}})
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, m)
	}
	f.tok = m["access_token"].(string)
	if c, _, _ := f.call("GET", p+"/databases/project/"+sim.DefaultProjectID); c != 200 {
		t.Fatalf("refreshed token refused: %d", c)
	}
	f.s.RevokeRefreshTokens()
	if code, m = f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "refresh_token": {rt}, "scope": {scope}}); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("revoked refresh token: %d %v", code, m)
	}
	code, m = f.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {sim.DefaultClientSecret}, "scope": {f.url + "//.default"}})
	if code != 200 || m["refresh_token"] != nil {
		t.Fatalf("client credentials: %d %v", code, m)
	}
	// Entra issues the app-only token, but LCS refuses it: Service Principal authentication isn't
	// supported (dbmovement-api-authentication.md).
	f.tok = m["access_token"].(string)
	if c, h, _ := f.call("GET", p+"/databases/project/"+sim.DefaultProjectID); c != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "app-only") {
		t.Fatalf("app-only token: %d %s", c, h.Get("WWW-Authenticate"))
	}
	// A token asked for with one slash before .default is issued, for the audience without the
	// trailing slash, which the API rejects (entra-docs, scopes-oidc.md).
	code, m = f.token(url.Values{"grant_type": {"password"}, "client_id": {"c"}, "username": {sim.DefaultUser}, "password": {sim.DefaultPassword}, "scope": {f.url + "/.default"}})
	if code != 200 {
		t.Fatalf("one slash: %d %v", code, m)
	}
	f.tok = m["access_token"].(string)
	if c, h, _ := f.call("GET", p+"/databases/project/"+sim.DefaultProjectID); c != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "audience") {
		t.Fatalf("token for the audience without the slash: %d %s", c, h.Get("WWW-Authenticate"))
	}
	code, m = f.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"wrong"}, "scope": {f.url + "//.default"}})
	if code != 400 || m["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", code, m)
	}
	if s := f.s.Stats(); s.TokensIssued["password"] != 2 || s.TokensIssued["refresh_token"] != 1 || s.TokensIssued["client_credentials"] != 1 {
		t.Fatalf("grants = %v", s.TokensIssued)
	}
}

func TestPerMinuteQuotas(t *testing.T) {
	f := start(t, sim.Options{})
	f.signIn()
	md := "/environmentinfo/v1/detail/project/" + sim.DefaultProjectID + "/"
	for i := range 6 {
		if c, _, _ := f.call("GET", md); c != 200 {
			t.Fatalf("metadata call %d: %d", i+1, c)
		}
		f.clock.Advance(5 * time.Second)
	}
	c, h, _ := f.call("GET", md)
	if c != 429 {
		t.Fatalf("7th metadata call in a minute: %d", c)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra != 30 {
		t.Fatalf("Retry-After = %q, want 30 (the first call leaves the window in 30 s)", h.Get("Retry-After"))
	}
	f.clock.Advance(30 * time.Second)
	if c, _, _ := f.call("GET", md); c != 200 {
		t.Fatalf("after Retry-After: %d", c)
	}
	hist := "/environmentinfo/v1/history/project/" + sim.DefaultProjectID + "/environment/" + sim.SandboxID + "/"
	for range 6 {
		if c, _, _ := f.call("GET", hist); c != 200 {
			t.Fatal(c)
		}
	}
	// Both windows are full: the per-project minute is the longer wait.
	if c, h, _ := f.call("GET", hist); c != 429 || h.Get("Retry-After") != "60" {
		t.Fatalf("7th history call: %d %q", c, h.Get("Retry-After"))
	}
	if f.s.Stats().Throttled != 2 {
		t.Fatalf("throttled = %d", f.s.Stats().Throttled)
	}
}

func TestDatabaseMovementRules(t *testing.T) {
	f := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour, TokenTTL: 48 * time.Hour})
	f.signIn()
	refresh := func(src, tgt string) (int, map[string]any) {
		c, _, m := f.call("POST", p+"/refresh/project/"+sim.DefaultProjectID+"/source/"+src+"/target/"+tgt)
		return c, m
	}
	// Production target: refused like LCS, nothing started.
	c, m := refresh(sim.SandboxID, sim.ProductionID)
	if c != 200 || m["IsSuccess"] != false || !strings.Contains(m["ErrorMessage"].(string), "production") {
		t.Fatalf("production target: %d %v", c, m)
	}
	// Unknown project.
	c, _, m = f.call("GET", p+"/databases/project/999")
	if c != 200 || m["IsSuccess"] != false {
		t.Fatalf("unknown project: %v", m)
	}
	var ids []string
	for i := range 3 {
		c, m = refresh(sim.SandboxID, sim.UATSandboxID)
		if c != 200 || m["IsSuccess"] != true || m["OperationActivityId"] == "" {
			t.Fatalf("refresh %d: %v", i+1, m)
		}
		ids = append(ids, m["OperationActivityId"].(string))
		// busy while running
		if _, m2 := refresh(sim.SandboxID, sim.UATSandboxID); m2["IsSuccess"] != false || !strings.Contains(m2["ErrorMessage"].(string), "in progress") {
			t.Fatalf("refresh while busy: %v", m2)
		}
		f.clock.Advance(2 * time.Hour)
	}
	c, m = refresh(sim.SandboxID, sim.UATSandboxID)
	from := f.clock.Now().Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04:05.0000000")
	if c != 200 || m["IsSuccess"] != false || m["ErrorMessage"] != "Maximum allowed API operations are 3 from "+from {
		t.Fatalf("4th operation: %v", m)
	}
	if f.s.RefreshesStarted(sim.UATSandboxID) != 3 {
		t.Fatalf("refreshes = %d", f.s.RefreshesStarted(sim.UATSandboxID))
	}
	// Status is read on the target; history shows the operations newest first.
	c, _, m = f.call("GET", p+"/fetchstatus/project/"+sim.DefaultProjectID+"/environment/"+sim.UATSandboxID+"/operationactivity/"+ids[0])
	if c != 200 || m["OperationStatus"] != "Completed" || m["CompletionDate"] == nil || m["ProjectId"].(float64) != 1234567 {
		t.Fatalf("status = %v", m)
	}
	h := f.s.History(sim.UATSandboxID)
	if h[0].ActivityID != ids[2] || h[0].Type != sim.TypeRefreshSandbox || h[0].Status != "Completed" {
		t.Fatalf("history = %+v", h[0])
	}
	// The portal is not limited by the API's rule.
	if _, err := f.s.StartPortalRefresh(sim.SandboxID, sim.ProductionID); err != nil {
		t.Fatal(err)
	}
	if f.s.Stats().PortalRefreshes[sim.ProductionID] != 1 || f.s.History(sim.ProductionID)[0].Type != sim.TypeRefreshProduction {
		t.Fatal("portal refresh not recorded")
	}
	// Export: sandboxes only; the backup appears when it completes.
	c, _, m = f.call("POST", p+"/export/project/"+sim.DefaultProjectID+"/environment/"+sim.ProductionID+"/backupName/prod")
	if c != 200 || m["IsSuccess"] != false {
		t.Fatalf("production export: %v", m)
	}
	c, _, m = f.call("POST", p+"/export/project/"+sim.DefaultProjectID+"/environment/"+sim.SandboxID+"/backupName/golden")
	if c != 200 || m["IsSuccess"] != true {
		t.Fatalf("export: %v", m)
	}
	_, _, m = f.call("GET", p+"/databases/project/"+sim.DefaultProjectID)
	if n := len(m["DatabaseAssets"].([]any)); n != 1 {
		t.Fatalf("backups while exporting = %d", n)
	}
	f.clock.Advance(2 * time.Hour)
	_, _, m = f.call("GET", p+"/databases/project/"+sim.DefaultProjectID)
	if n := len(m["DatabaseAssets"].([]any)); n != 2 {
		t.Fatalf("backups after export = %d", n)
	}
}

func TestFaultsAndEnvelope(t *testing.T) {
	f := start(t, sim.Options{})
	f.signIn()
	path := p + "/databases/project/" + sim.DefaultProjectID
	_, _, m := f.call("GET", path)
	if m["VersionEOL"] != "9999-12-31T23:59:59.9999999" || m["IsSuccess"] != true || m["ErrorMessage"] != nil {
		t.Fatalf("envelope = %v", m)
	}
	f.s.SetVersionEOL(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC))
	if _, _, m = f.call("GET", path); m["VersionEOL"] != "2027-01-31T00:00:00.0000000" {
		t.Fatalf("VersionEOL = %v", m["VersionEOL"])
	}
	f.s.UnauthorizedNext(1)
	f.s.ThrottleNext(1, 2*time.Second)
	f.s.FailNext(1, 503)
	f.s.RejectNext(1, "nope")
	f.s.LoseNextResponses(1)
	var got []string
	for range 6 {
		c, h, m := f.call("GET", path)
		got = append(got, strconv.Itoa(c)+h.Get("Retry-After")+func() string {
			if m != nil && m["IsSuccess"] == false {
				return "!"
			}
			return ""
		}())
	}
	want := []string{"401", "4292", "503", "200!", "502", "200"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fault sequence = %v, want %v", got, want)
	}
	if s := f.s.Stats(); s.BadHeaders != 0 || s.Requests[sim.EndpointBackups] != 8 {
		t.Fatalf("stats = %+v", s)
	}
	// Missing headers are counted (not refused: d365fo.tools sends only Authorization).
	req, _ := http.NewRequest("GET", f.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || f.s.Stats().BadHeaders != 1 {
		t.Fatalf("bare request: %d, bad headers %d", resp.StatusCode, f.s.Stats().BadHeaders)
	}
	// A steady share of requests throttled, then none.
	f.s.ThrottleEvery(3, time.Second)
	got = got[:0]
	for range 6 {
		c, _, _ := f.call("GET", path)
		got = append(got, strconv.Itoa(c))
	}
	f.s.ThrottleEvery(0, 0)
	if c, _, _ := f.call("GET", path); c != 200 || strings.Join(got, " ") != "200 200 429 200 200 429" {
		t.Fatalf("throttle every 3rd: %v, then %d", got, c)
	}
}

func TestOutcomesAndStates(t *testing.T) {
	f := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour, RollbackDuration: 30 * time.Minute})
	f.s.SetOutcome(sim.OutcomeRollbackFailed)
	id, err := f.s.StartPortalRefresh(sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after time.Duration
		want  string
	}{{0, "NotStarted"}, {2 * time.Minute, "InProgress"}, {time.Hour, "RollbackInProgress"}, {time.Hour, "RollbackFailed"}} {
		f.clock.Advance(step.after)
		if got := f.s.OperationStatus(id); got != step.want {
			t.Fatalf("after %v: %s, want %s", step.after, got, step.want)
		}
	}
	if err := f.s.SignOff(id); err == nil {
		t.Fatal("signed off a failed operation")
	}
	f.s.SetSandboxState(sim.StateReadyForReplication)
	if f.s.SandboxState() != sim.StateReadyForReplication {
		t.Fatal("state not set")
	}
	f.s.SetSandboxStateSource(src(sim.StateDataUpgradeInProgress))
	if f.s.SandboxState() != sim.StateDataUpgradeInProgress {
		t.Fatal("state source ignored")
	}
	f.s.SetSandboxStateSource(src(""))
	if f.s.SandboxState() != sim.StateReadyForReplication {
		t.Fatal("empty source state should fall back")
	}
}

type src string

func (s src) SandboxState() string { return string(s) }

// TestSingleTenantApp: like the app registration Microsoft documents for LCS, the simulated app
// is single-tenant: Entra refuses it at the shared authorities with AADSTS50194, serves it at its
// tenant (by id or by a verified domain), and does not know other tenants (AADSTS90002).
func TestSingleTenantApp(t *testing.T) {
	for _, c := range []struct {
		opts   sim.Options
		tenant string
		code   int
		aadsts string
	}{
		{sim.Options{}, "organizations", 400, "AADSTS50194"},
		{sim.Options{}, "common", 400, "AADSTS50194"},
		{sim.Options{}, sim.DefaultTenantID, 200, ""},
		{sim.Options{}, "contoso.example", 200, ""},
		{sim.Options{}, "fabrikam.example", 400, "AADSTS90002"},
		{sim.Options{MultiTenantApp: true}, "organizations", 200, ""},
	} {
		f := start(t, c.opts)
		form := url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
			"password": {sim.DefaultPassword}, "scope": {f.url + "//.default"}}
		for _, ep := range []string{"/oauth2/v2.0/token", "/oauth2/v2.0/devicecode"} {
			resp, err := f.hc.PostForm(f.s.Authority(c.tenant)+ep, form)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			desc, _ := m["error_description"].(string)
			if resp.StatusCode != c.code || !strings.HasPrefix(desc, c.aadsts) {
				t.Errorf("%s%s (multi-tenant %v): %d %q, want %d %s", c.tenant, ep, c.opts.MultiTenantApp, resp.StatusCode, desc, c.code, c.aadsts)
			}
		}
	}
}
