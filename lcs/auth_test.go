package lcs_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/sim"
)

// TestLongPollSurvivesTokenExpiry: a five-hour refresh polled every five minutes with one-hour
// tokens. The client refreshes the token silently with the refresh token before it expires; the
// user signs in once. A token LCS expires early (401) is replaced the same way.
func TestLongPollSurvivesTokenExpiry(t *testing.T) {
	r := newRig(t, sim.Options{TokenTTL: time.Hour, RefreshDuration: 5 * time.Hour})
	c := r.client(nil)
	cx := ctx(t)
	op, err := c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	polls := 0
	final, err := c.WaitOperation(cx, op, 5*time.Minute, func(lcs.OperationResult) { polls++ })
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("long poll = %+v, %v", final, err)
	}
	s := r.sim.Stats()
	if polls < 60 {
		t.Fatalf("only %d polls", polls)
	}
	if s.DeviceCodes != 1 || r.promptCount() != 1 {
		t.Fatalf("device codes %d, prompts %d: the user was asked again", s.DeviceCodes, r.promptCount())
	}
	if s.TokensIssued["refresh_token"] < 5 {
		t.Fatalf("silent refreshes = %d, want ≥ 5 over 5 h of 1 h tokens", s.TokensIssued["refresh_token"])
	}
	if s.Unauthorized != 0 {
		t.Fatalf("%d polls were refused: the token was not refreshed ahead of expiry", s.Unauthorized)
	}

	// LCS expires the tokens mid-poll: one 401, a silent refresh, and the poll goes on.
	r.clock.Advance(25 * time.Hour)
	op, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	polls = 0
	final, err = c.WaitOperation(cx, op, 5*time.Minute, func(lcs.OperationResult) {
		polls++
		if polls == 10 {
			r.sim.ExpireTokens()
		}
	})
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("poll across early expiry = %+v, %v", final, err)
	}
	if s := r.sim.Stats(); s.Unauthorized != 1 || s.DeviceCodes != 1 {
		t.Fatalf("early expiry: %d 401s (want 1), %d device codes (want 1)", s.Unauthorized, s.DeviceCodes)
	}
}

// TestDeviceCodeFlow: the prompt reaches the callback, approval signs in, the token is cached
// in a 0600 file, and a second client with the same cache signs in without asking.
func TestDeviceCodeFlow(t *testing.T) {
	r := newRig(t, sim.Options{SlowDownPolls: 1})
	dir := t.TempDir()
	var prompts atomic.Int32
	var approved atomic.Bool
	cfg := r.config()
	cfg.Auth.CacheDir = dir
	cfg.Auth.OnDeviceCode = func(p lcs.DeviceCodePrompt) {
		prompts.Add(1)
		if !strings.Contains(p.Message, p.UserCode) || !strings.Contains(p.Message, p.VerificationURL) || !strings.HasPrefix(p.VerificationURL, r.url) || p.ExpiresOn.IsZero() {
			t.Errorf("prompt = %+v", p)
		}
		// The user signs in on another device a moment later.
		go func() {
			if err := r.sim.ApproveDeviceCode(p.UserCode); err != nil {
				t.Errorf("approve: %v", err)
			}
			approved.Store(true)
		}()
	}
	c, err := lcs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.SignIn(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if who != sim.DefaultUser || prompts.Load() != 1 || !approved.Load() {
		t.Fatalf("signed in as %q after %d prompts", who, prompts.Load())
	}
	if s := r.sim.Stats(); s.TokensIssued["device_code"] != 1 || s.LastScope == "" || !strings.Contains(s.LastScope, r.url+"//.default") {
		t.Fatalf("sim stats = %+v", s)
	}
	if _, err := c.Environments(ctx(t)); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(dir, lcs.TokenCacheFile)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("token cache mode = %v, want 0600", st.Mode().Perm())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) || !strings.Contains(string(raw), "RefreshToken") {
		t.Fatalf("token cache is not an MSAL cache: %.200s", raw)
	}
	if strings.Contains(string(raw), sim.DefaultPassword) {
		t.Fatal("token cache holds the password")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("cache dir holds %d files (temporary files left behind?)", len(entries))
	}

	// A second client (a restarted cockpit) reuses the cache: no prompt.
	cfg2 := r.config()
	cfg2.Auth.CacheDir = dir
	cfg2.Auth.OnDeviceCode = func(lcs.DeviceCodePrompt) { t.Error("the restarted client asked for a device code") }
	c2, err := lcs.NewClient(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if who, err := c2.SignIn(ctx(t)); err != nil || who != sim.DefaultUser {
		t.Fatalf("restart sign-in = %q, %v", who, err)
	}
	if s := r.sim.Stats(); s.DeviceCodes != 1 {
		t.Fatalf("device codes = %d, want 1", s.DeviceCodes)
	}
}

// TestDeviceCodeDeclined: a declined code is a sign-in error that says so.
func TestDeviceCodeDeclined(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.Auth.OnDeviceCode = func(p lcs.DeviceCodePrompt) { _ = r.sim.DenyDeviceCode(p.UserCode) }
	})
	_, err := c.SignIn(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrSignIn)
	if !strings.Contains(e.Hint, "declined") {
		t.Fatalf("declined: %v", err)
	}
}

// TestSignInModes covers password (ROPC), client secret with and without a username, and the
// errors Entra gives for MFA, missing secrets, wrong passwords and wrong secrets.
func TestSignInModes(t *testing.T) {
	password := func(cfg *lcs.Config) {
		cfg.Auth.Mode = lcs.AuthPassword
		cfg.Auth.Username = sim.DefaultUser
		cfg.Auth.Password = sim.DefaultPassword
	}
	secret := func(user bool) func(cfg *lcs.Config) {
		return func(cfg *lcs.Config) {
			cfg.Auth.Mode = lcs.AuthClientSecret
			cfg.Auth.ClientSecret = sim.DefaultClientSecret
			if user {
				cfg.Auth.Username = sim.DefaultUser
				cfg.Auth.Password = sim.DefaultPassword
			}
		}
	}
	t.Run("password", func(t *testing.T) {
		r := newRig(t, sim.Options{TokenTTL: time.Hour})
		c := r.client(password)
		if _, err := c.Environments(ctx(t)); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(58 * time.Minute) // inside the refresh margin
		if _, err := c.DatabaseBackups(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if s := r.sim.Stats(); s.TokensIssued["password"] != 1 || s.TokensIssued["refresh_token"] != 1 {
			t.Fatalf("grants = %v", s.TokensIssued)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		r := newRig(t, sim.Options{})
		c := r.client(func(cfg *lcs.Config) { password(cfg); cfg.Auth.Password = "Not-The-Password-42" })
		_, err := c.SignIn(ctx(t))
		e := apiErr(t, r.saw(err), lcs.ErrSignIn)
		if !strings.Contains(e.Hint, "password is wrong") || strings.Contains(err.Error(), "Not-The-Password-42") {
			t.Fatalf("wrong password: %v", err)
		}
	})
	t.Run("mfa", func(t *testing.T) {
		r := newRig(t, sim.Options{RequireMFA: true})
		_, err := r.client(password).SignIn(ctx(t))
		e := apiErr(t, r.saw(err), lcs.ErrSignIn)
		if !strings.Contains(e.Hint, "device-code") || !strings.Contains(e.Hint, "multi-factor") {
			t.Fatalf("MFA: %v", err)
		}
	})
	t.Run("secret required", func(t *testing.T) {
		r := newRig(t, sim.Options{RequireClientSecret: true})
		_, err := r.client(password).SignIn(ctx(t))
		e := apiErr(t, r.saw(err), lcs.ErrSignIn)
		if !strings.Contains(e.Hint, "client secret") {
			t.Fatalf("secret required: %v", err)
		}
		// The documented workaround: ROPC with the secret.
		c := r.client(secret(true))
		if _, err := c.Environments(ctx(t)); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(58 * time.Minute)
		if _, err := c.DatabaseBackups(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if s := r.sim.Stats(); s.TokensIssued["password"] != 1 || s.TokensIssued["refresh_token"] != 1 {
			t.Fatalf("grants = %v", s.TokensIssued)
		}
	})
	t.Run("no app-only sign-in", func(t *testing.T) {
		// "Service Principal authentication isn't supported" (dbmovement-api-authentication.md):
		// a client secret without a user is refused before anything is sent.
		r := newRig(t, sim.Options{})
		cfg := r.config()
		secret(false)(&cfg)
		if _, err := lcs.NewClient(cfg); err == nil || !strings.Contains(err.Error(), "Service Principal authentication") {
			t.Fatalf("client secret without a user: %v", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := newRig(t, sim.Options{})
		c := r.client(func(cfg *lcs.Config) { secret(true)(cfg); cfg.Auth.ClientSecret = "wrong-secret-value-123" })
		_, err := c.SignIn(ctx(t))
		e := apiErr(t, r.saw(err), lcs.ErrSignIn)
		if !strings.Contains(e.Hint, "secret is wrong") || strings.Contains(err.Error(), "wrong-secret-value-123") {
			t.Fatalf("wrong secret: %v", err)
		}
	})
	t.Run("config errors", func(t *testing.T) {
		r := newRig(t, sim.Options{})
		for _, mod := range []func(*lcs.Config){
			func(cfg *lcs.Config) { cfg.ProjectID = "" },
			func(cfg *lcs.Config) { cfg.BaseURL = "" },
			func(cfg *lcs.Config) { cfg.BaseURL = ""; cfg.Region = "mars" },
			func(cfg *lcs.Config) { cfg.Auth.ClientID = "" },
			func(cfg *lcs.Config) { cfg.Auth.OnDeviceCode = nil },
			func(cfg *lcs.Config) { cfg.Auth.Mode = lcs.AuthPassword },
			func(cfg *lcs.Config) { cfg.Auth.Mode = lcs.AuthClientSecret },
			func(cfg *lcs.Config) { cfg.Auth.Authority = "http://insecure.example/tenant" },
		} {
			cfg := r.config()
			mod(&cfg)
			if _, err := lcs.NewClient(cfg); err == nil {
				t.Errorf("config %+v accepted", cfg.Auth.Mode)
			}
		}
		if m, err := lcs.ParseAuthMode("Client-Secret"); err != nil || m != lcs.AuthClientSecret {
			t.Errorf("ParseAuthMode = %v, %v", m, err)
		}
		if _, err := lcs.ParseAuthMode("kerberos"); err == nil {
			t.Error("ParseAuthMode accepted kerberos")
		}
	})
}

// TestStaticToken: a bearer token from the environment is sent as is; when LCS refuses it the
// error says to put a fresh one in the variable.
func TestStaticToken(t *testing.T) {
	r := newRig(t, sim.Options{})
	tok := simToken(t, r)
	c := r.client(func(cfg *lcs.Config) {
		cfg.Auth = lcs.Auth{Mode: lcs.AuthStaticToken, TokenEnv: "LCS_TEST_TOKEN", Getenv: func(k string) string {
			if k == "LCS_TEST_TOKEN" {
				return "Bearer " + tok
			}
			return ""
		}}
	})
	if _, err := c.Environments(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.sim.ExpireTokens()
	_, err := c.Environments(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrUnauthorized)
	if !strings.Contains(e.Hint, "$LCS_TEST_TOKEN") || strings.Contains(err.Error(), tok) {
		t.Fatalf("refused static token: %v", err)
	}
	empty := r.client(func(cfg *lcs.Config) {
		cfg.Auth = lcs.Auth{Mode: lcs.AuthStaticToken, Getenv: func(string) string { return "" }}
	})
	_, err = empty.Environments(ctx(t))
	apiErr(t, r.saw(err), lcs.ErrSignIn)
}

// simToken gets an access token from the simulator's token endpoint directly.
func simToken(t *testing.T, r *rig) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
		"password": {sim.DefaultPassword}, "scope": {r.url + "//.default openid offline_access"}}
	resp, err := r.sim.HTTPClient().PostForm(r.sim.Authority("")+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// TestNoSecretsInOutput runs sign-ins in every mode, refreshes, 401s, failures and a wrong
// password, captures every log line, warning and error string, and checks that no access
// token, refresh token, password or client secret appears in them.
func TestNoSecretsInOutput(t *testing.T) {
	r := newRig(t, sim.Options{TokenTTL: time.Hour, RefreshDuration: 3 * time.Hour})
	cx := ctx(t)
	run := func(c *lcs.Client) {
		_, err := c.Environments(cx)
		r.saw(err)
		r.sim.UnauthorizedNext(1)
		_, err = c.DatabaseBackups(cx)
		r.saw(err)
		r.sim.UnauthorizedNext(2)
		_, err = c.DatabaseBackups(cx)
		r.saw(err)
		r.sim.FailNext(1, 500)
		_, err = c.EnvironmentHistory(cx, sim.SandboxID)
		r.saw(err)
		r.sim.RejectNext(1, "refused")
		_, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
		r.saw(err)
		r.clock.Advance(90 * time.Minute)
		r.sim.ExpireTokens()
		_, err = c.Environments(cx)
		r.saw(err)
		r.clock.Advance(25 * time.Hour)
	}
	run(r.client(nil))
	run(r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode = lcs.AuthPassword
		cfg.Auth.Username, cfg.Auth.Password = sim.DefaultUser, sim.DefaultPassword
	}))
	run(r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode = lcs.AuthClientSecret
		cfg.Auth.ClientSecret = sim.DefaultClientSecret
		cfg.Auth.Username, cfg.Auth.Password = sim.DefaultUser, sim.DefaultPassword
	}))
	bad := r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode = lcs.AuthPassword
		cfg.Auth.Username, cfg.Auth.Password = sim.DefaultUser, sim.DefaultPassword+"-typo"
	})
	_, err := bad.SignIn(cx)
	if r.saw(err) == nil {
		t.Fatal("wrong password accepted")
	}
	r.sim.RevokeRefreshTokens()
	r.sim.ExpireTokens()
	// With its refresh token revoked and its access token expired, a client that holds the
	// password signs in again.
	if _, err = r.client(nil).Environments(cx); r.saw(err) != nil {
		t.Errorf("after the refresh token was revoked, a client with the password must sign in again: %v", err)
	}

	var out strings.Builder
	out.WriteString(r.logs.String())
	r.mu.Lock()
	for _, e := range r.errs {
		out.WriteString(e + "\n")
	}
	for _, w := range r.warnings {
		out.WriteString(w.Message + "\n")
	}
	nErrs := len(r.errs)
	r.mu.Unlock()
	text := out.String()
	access, refresh := r.sim.IssuedTokens()
	if len(access) < 8 || len(refresh) < 4 || nErrs < 6 {
		t.Fatalf("the scenario did too little: %d access tokens, %d refresh tokens, %d errors", len(access), len(refresh), nErrs)
	}
	check := func(kind, secret string) {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("the %s appears in the output", kind)
		}
	}
	for _, a := range access {
		check("access token", a)
	}
	for _, rt := range refresh {
		check("refresh token", rt)
	}
	check("password", sim.DefaultPassword)
	check("client secret", sim.DefaultClientSecret)
	for _, marker := range []string{"simAT.", "simRT.", "Bearer sim"} {
		if strings.Contains(text, marker) {
			t.Errorf("token marker %q appears in the output", marker)
		}
	}
}

// TestSignInNeedsTheTenant: the app registration Microsoft documents for LCS is single-tenant,
// and Entra refuses it at the shared authority (AADSTS50194): the client wants the tenant, and
// an authority without one fails with the hint to give it.
func TestSignInNeedsTheTenant(t *testing.T) {
	_, err := lcs.NewClient(lcs.Config{BaseURL: "https://lcsapi.lcs.dynamics.com", ProjectID: "1",
		Auth: lcs.Auth{Mode: lcs.AuthPassword, ClientID: "c", Username: "u", Password: "p"}})
	if err == nil || !strings.Contains(err.Error(), "TenantID is required") || !strings.Contains(err.Error(), "AADSTS50194") {
		t.Fatalf("no tenant: %v", err)
	}

	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) { cfg.Auth.Authority = r.sim.Authority("organizations") })
	_, err = c.SignIn(ctx(t))
	ae := apiErr(t, r.saw(err), lcs.ErrSignIn)
	if !strings.Contains(ae.Message, "AADSTS50194") || !strings.Contains(ae.Hint, "single-tenant") || !strings.Contains(ae.Hint, "tenant_id") {
		t.Errorf("organizations authority: %v", ae)
	}
	if lcs.IsPermanent(err) == false {
		t.Error("a refused authority is not worth waiting for")
	}

	// A multi-tenant registration signs in at the shared authority.
	r = newRig(t, sim.Options{MultiTenantApp: true})
	c = r.client(func(cfg *lcs.Config) { cfg.Auth.Authority = r.sim.Authority("organizations") })
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatalf("multi-tenant app at organizations: %v", err)
	}
}

// TestGCCSignsInAtThePublicCloud: LCS for GCC (gov.lcs.microsoftdynamics.us) signs its users in
// with public Azure AD ("GCC ... leverages Public Azure AD": power-platform,
// microsoft-dynamics-365-government.md); only GCC High uses Azure AD Government.
func TestGCCSignsInAtThePublicCloud(t *testing.T) {
	host, ok := lcs.AuthorityHost("gov")
	if !ok || host != "https://login.microsoftonline.com" {
		t.Fatalf("gov authority host = %q", host)
	}
	base, _ := lcs.BaseURL("gov")
	if base != "https://lcsapi.gov.lcs.microsoftdynamics.us" {
		t.Fatalf("gov API = %q", base)
	}
}

// TestDocumentedScope: the scope is written as the authentication document writes it, with two
// slashes before .default, for the public and the regional instances.
func TestDocumentedScope(t *testing.T) {
	for base, want := range map[string]string{
		"https://lcsapi.lcs.dynamics.com":     "https://lcsapi.lcs.dynamics.com//.default",
		"https://lcsapi.eu.lcs.dynamics.com/": "https://lcsapi.eu.lcs.dynamics.com//.default",
	} {
		if got := lcs.DefaultScope(base); got != want {
			t.Errorf("DefaultScope(%s) = %s, want %s", base, got, want)
		}
	}
}
