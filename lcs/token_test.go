package lcs_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/sim"
)

// TestTokenForAnotherResource: after the device-code sign-in for LCS, a token for another
// resource (a Finance and Operations environment) comes silently from the same account's refresh
// token — no second device code — is cached per scope, and is refreshed before it expires on the
// client clock and again once the simulator has expired it. No token reaches the log.
func TestTokenForAnotherResource(t *testing.T) {
	r := newRig(t, sim.Options{TokenTTL: time.Hour})
	c := r.client(nil)
	cx := ctx(t)
	if _, err := c.SignIn(cx); err != nil {
		t.Fatal(err)
	}
	const scope = "https://contoso-upgrade.sandbox.operations.dynamics.com/.default"
	issued := func(tok string) bool {
		access, _ := r.sim.IssuedTokens()
		return slices.Contains(access, tok)
	}
	tokens := func() int {
		n := 0
		for _, v := range r.sim.Stats().TokensIssued {
			n += v
		}
		return n
	}

	first, err := c.Token(cx, scope)
	if err != nil {
		t.Fatal(err)
	}
	s := r.sim.Stats()
	if !issued(first) || s.DeviceCodes != 1 || r.promptCount() != 1 || s.TokensIssued["refresh_token"] != 1 {
		t.Fatalf("first token: issued by the sim %v, %d device codes, %d prompts, %d silent grants (want 1, 1, 1)",
			issued(first), s.DeviceCodes, r.promptCount(), s.TokensIssued["refresh_token"])
	}
	if !strings.Contains(s.LastScope, scope) {
		t.Fatalf("the token was asked for scope %q, want %q", s.LastScope, scope)
	}

	// Cached: the same token, no request to Entra ID; the LCS token is a different one.
	before := tokens()
	again, err := c.Token(cx, scope)
	if err != nil || again != first || tokens() != before {
		t.Fatalf("second call: same token %v, %v, %d new tokens", again == first, err, tokens()-before)
	}
	lcsTok, err := c.Token(cx, lcs.DefaultScope(r.url))
	if err != nil || lcsTok == first || !issued(lcsTok) || tokens() != before {
		t.Fatalf("the LCS scope: distinct %v, %v, %d new tokens", lcsTok != first, err, tokens()-before)
	}

	// Within RefreshBefore (5 minutes) of its expiry it is replaced, silently.
	r.clock.Advance(56 * time.Minute)
	second, err := c.Token(cx, scope)
	if err != nil || second == first || !issued(second) {
		t.Fatalf("refresh ahead of expiry: new %v, issued %v, %v", second != first, issued(second), err)
	}
	// The simulator expires every token; past the client's expiry too, a fresh one comes.
	r.sim.ExpireTokens()
	r.clock.Advance(time.Hour)
	third, err := c.Token(cx, scope)
	if err != nil || third == second || !issued(third) {
		t.Fatalf("after expiry: new %v, issued %v, %v", third != second, issued(third), err)
	}
	if s := r.sim.Stats(); s.DeviceCodes != 1 || r.promptCount() != 1 || s.TokensIssued["refresh_token"] != 3 {
		t.Fatalf("%d device codes, %d prompts, %d silent grants (want 1, 1, 3)", s.DeviceCodes, r.promptCount(), s.TokensIssued["refresh_token"])
	}
	logs := r.logs.String()
	for _, tok := range []string{first, second, third, lcsTok} {
		if strings.Contains(logs, tok) {
			t.Fatal("a token appears in the log")
		}
	}
	if !strings.Contains(logs, scope) {
		t.Fatalf("the log does not say which scope the token is for:\n%s", logs)
	}
}

// TestTokenForAnotherResourceSignsInFirst: with no sign-in yet, Token signs in (password) and then
// gets the other resource's token from the same account.
func TestTokenForAnotherResourceSignsInFirst(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode, cfg.Auth.Username, cfg.Auth.Password = lcs.AuthPassword, sim.DefaultUser, sim.DefaultPassword
	})
	tok, err := c.Token(ctx(t), "https://contoso.operations.dynamics.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	s := r.sim.Stats()
	if access, _ := r.sim.IssuedTokens(); !slices.Contains(access, tok) || s.TokensIssued["password"] != 1 || s.TokensIssued["refresh_token"] != 1 {
		t.Fatalf("issued by the sim %v, grants %v", slices.Contains(access, tok), s.TokensIssued)
	}
}

// TestTokenStaticMode: static-token sign-in has no account to reuse: Token fails permanently and
// says to give the step its own token.
func TestTokenStaticMode(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.Auth = lcs.Auth{Mode: lcs.AuthStaticToken, Getenv: func(string) string { return "static-token" }}
	})
	_, err := c.Token(ctx(t), "https://contoso.operations.dynamics.com/.default")
	if err == nil || !errors.Is(err, lcs.ErrSignIn) || !lcs.IsPermanent(err) || !strings.Contains(err.Error(), "bearer_env") ||
		strings.Contains(err.Error(), "static-token") {
		t.Fatalf("static mode: %v", err)
	}
	if _, err := c.Token(ctx(t), " "); err == nil {
		t.Fatal("an empty scope was accepted")
	}
}

// TestSignInForAnotherResourceDoesNotHoldUpLCS: while a device-code prompt for another resource
// waits for someone to answer it, LCS calls go on with the LCS token, and the prompt's answer
// completes the other sign-in.
func TestSignInForAnotherResourceDoesNotHoldUpLCS(t *testing.T) {
	r := newRig(t, sim.Options{TokenTTL: time.Hour})
	waiting, release := make(chan struct{}), make(chan struct{})
	prompts := 0
	c := r.client(func(cfg *lcs.Config) {
		cfg.Auth.OnDeviceCode = func(p lcs.DeviceCodePrompt) {
			prompts++ // prompts come one at a time
			if prompts > 1 {
				close(waiting)
				<-release
			}
			if err := r.sim.ApproveDeviceCode(p.UserCode); err != nil {
				t.Errorf("approve: %v", err)
			}
		}
	})
	cx := ctx(t)
	if _, err := c.SignIn(cx); err != nil {
		t.Fatal(err)
	}
	// The other resource's silent sign-in cannot work: a second prompt is needed.
	r.sim.RevokeRefreshTokens()
	done := make(chan error, 1)
	go func() {
		// Another resource the simulator accepts (same port, another host name): no cached token.
		_, err := c.Token(cx, strings.Replace(r.url, "127.0.0.1", "localhost", 1)+"/.default")
		done <- err
	}()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("the other resource's sign-in ended without a prompt: %v", err)
	}
	backups := make(chan error, 1)
	go func() {
		_, err := c.DatabaseBackups(cx)
		backups <- err
	}()
	select {
	case err := <-backups:
		if err != nil {
			t.Fatalf("an LCS call while another resource's prompt waits: %v", err)
		}
	case <-time.After(10 * time.Second): // a hang detector, not a timing assertion
		close(release)
		t.Fatal("an LCS call waited for another resource's device-code prompt")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the other resource's sign-in after the prompt was answered: %v", err)
	}
}

// failScope is a RoundTripper that fails, as the network would, every token request for one scope.
type failScope struct {
	next  http.RoundTripper
	scope string
}

func (f failScope) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			body, _ := io.ReadAll(b)
			if strings.Contains(string(body), url.QueryEscape(f.scope)) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			}
		}
	}
	return f.next.RoundTrip(req)
}

// TestTokenSignInsRaceNoOne: a sign-in for one resource failing on the network (its error message
// redacted with every token held) while tokens for other resources arrive; run with -race.
func TestTokenSignInsRaceNoOne(t *testing.T) {
	r := newRig(t, sim.Options{})
	const bad = "https://unreachable.example/.default"
	c := r.client(func(cfg *lcs.Config) {
		hc := *cfg.HTTPClient
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		hc.Transport = failScope{next: next, scope: bad}
		cfg.HTTPClient = &hc
	})
	cx := ctx(t)
	if _, err := c.SignIn(cx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 20 {
			if _, err := c.Token(cx, bad); err == nil || lcs.IsPermanent(err) {
				t.Errorf("a sign-in cut off by the network: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 20 {
			if _, err := c.Token(cx, fmt.Sprintf("https://env%d.example/.default", i)); err != nil {
				t.Errorf("token %d: %v", i, err)
				return
			}
		}
	})
	wg.Wait()
}
