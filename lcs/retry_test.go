package lcs_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/sim"
)

// TestRetryAfter: a 429 is waited out for exactly the stated Retry-After on the client's clock.
func TestRetryAfter(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.clock.ResetSleeps()
	start := r.clock.Now()
	r.sim.ThrottleNext(2, 7*time.Second)
	if _, err := c.DatabaseBackups(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := r.clock.Sleeps(); !slices.Equal(got, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Fatalf("sleeps = %v, want two of 7s", got)
	}
	if got := r.clock.Now().Sub(start); got != 14*time.Second {
		t.Fatalf("clock advanced %v, want 14s", got)
	}
	if got := r.sim.Requests(sim.EndpointBackups); got != 3 {
		t.Fatalf("backups requests = %d, want 3", got)
	}

	// Beyond the retry budget: ErrThrottled with the time to come back.
	c2 := r.client(func(cfg *lcs.Config) { cfg.MaxThrottleRetries = 2 })
	r.sim.ThrottleNext(5, 3*time.Second)
	_, err := c2.DatabaseBackups(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrThrottled)
	if e.HTTPStatus != http.StatusTooManyRequests || e.RetryAt.IsZero() {
		t.Fatalf("throttled error = %+v", e)
	}

	// A Retry-After longer than the client will wait fails at once.
	r.sim.ThrottleNext(1, time.Hour)
	r.clock.ResetSleeps()
	_, err = c.DatabaseBackups(ctx(t))
	e = apiErr(t, r.saw(err), lcs.ErrThrottled)
	if len(r.clock.Sleeps()) != 0 || !e.RetryAt.Equal(r.clock.Now().Add(time.Hour)) {
		t.Fatalf("long Retry-After: sleeps %v, RetryAt %v", r.clock.Sleeps(), e.RetryAt)
	}
	r.sim.ThrottleNext(0, 0)

	// A wait is cancellable.
	cx, cancel := context.WithCancel(ctx(t))
	r.clock.OnSleep(func(time.Duration) { cancel() })
	defer r.clock.OnSleep(nil)
	r.sim.ThrottleNext(1, 5*time.Second)
	_, err = c.DatabaseBackups(cx)
	if !errors.Is(r.saw(err), context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// TestUnauthorized: a 401 makes the client get a fresh token (silently, with the refresh token)
// and retry once; a second 401 fails with ErrUnauthorized.
func TestUnauthorized(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	before := r.sim.Stats().TokensIssued["refresh_token"]
	r.sim.UnauthorizedNext(1)
	if _, err := c.Environments(ctx(t)); err != nil {
		t.Fatalf("after one 401: %v", err)
	}
	s := r.sim.Stats()
	if s.TokensIssued["refresh_token"] != before+1 || s.Unauthorized != 1 || s.DeviceCodes != 1 {
		t.Fatalf("after one 401: refresh grants %d→%d, 401s %d, device codes %d", before, s.TokensIssued["refresh_token"], s.Unauthorized, s.DeviceCodes)
	}

	r.sim.UnauthorizedNext(2)
	_, err := c.DatabaseBackups(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrUnauthorized)
	if e.HTTPStatus != http.StatusUnauthorized || !strings.Contains(e.Hint, "Project Owner") {
		t.Fatalf("two 401s: %+v", e)
	}
	s = r.sim.Stats()
	if s.Requests[sim.EndpointBackups] != 2 || s.TokensIssued["refresh_token"] != before+2 {
		t.Fatalf("two 401s: %d backups requests (want 2), refresh grants %d (want %d)", s.Requests[sim.EndpointBackups], s.TokensIssued["refresh_token"], before+2)
	}
	// Expired tokens at LCS (the sim's clock) are replaced the same way.
	r.sim.ExpireTokens()
	if _, err := c.DatabaseBackups(ctx(t)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if r.promptCount() != 1 {
		t.Fatalf("the user was asked to sign in %d times, want 1", r.promptCount())
	}
}

// TestServerErrors: a 5xx on a read backs off exponentially and retries, bounded; a 5xx or a lost
// answer on a POST that starts an operation is never retried and says the outcome is unknown.
func TestServerErrors(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.BackoffBase = time.Second
		cfg.BackoffMax = 3 * time.Second
		cfg.MaxAttempts = 4
	})
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.clock.ResetSleeps()
	r.sim.FailNext(2, http.StatusServiceUnavailable)
	if _, err := c.DatabaseBackups(ctx(t)); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	if got := r.clock.Sleeps(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("back-off = %v, want [1s 2s]", got)
	}

	r.clock.ResetSleeps()
	r.sim.FailNext(10, http.StatusInternalServerError)
	_, err := c.DatabaseBackups(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrServer)
	if e.HTTPStatus != 500 {
		t.Fatalf("persistent 500: %+v", e)
	}
	if got := r.clock.Sleeps(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}) {
		t.Fatalf("back-off = %v, want [1s 2s 3s] (4 attempts, capped)", got)
	}
	r.sim.FailNext(0, 0)

	// 5xx on the refresh POST: not retried, outcome unknown, nothing started (the sim failed
	// before doing anything), and the error says to look at history.
	r.sim.FailNext(1, http.StatusBadGateway)
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	e = apiErr(t, r.saw(err), lcs.ErrOutcomeUnknown)
	if !strings.Contains(e.Hint, "history") || r.sim.Requests(sim.EndpointRefresh) != 1 {
		t.Fatalf("5xx refresh: %v (requests %d)", err, r.sim.Requests(sim.EndpointRefresh))
	}

	// The answer is lost after LCS started the refresh: still one request, one refresh started.
	r.sim.LoseNextResponses(1)
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	apiErr(t, r.saw(err), lcs.ErrOutcomeUnknown)
	if got := r.sim.Requests(sim.EndpointRefresh); got != 2 {
		t.Fatalf("refresh requests = %d, want 2 (never retried)", got)
	}
	if got := r.sim.RefreshesStarted(sim.UATSandboxID); got != 1 {
		t.Fatalf("refreshes started = %d, want 1", got)
	}
	// The history shows it, as the error said.
	h, err := c.EnvironmentHistory(ctx(t), sim.UATSandboxID)
	if err != nil || h[0].Type != "SFSourceDbToSandbox" || h[0].Start.Before(r.clock.Now().Add(-time.Minute)) {
		t.Fatalf("history after lost answer = %+v, %v", h, err)
	}
}

// TestSlowAndUnreachable: per-attempt timeouts on reads are retried then reported; a POST that
// times out is an unknown outcome; a closed port is "unreachable, nothing started".
func TestSlowAndUnreachable(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) { cfg.RequestTimeout = 150 * time.Millisecond; cfg.MaxAttempts = 2 })
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.sim.SetLatency(10 * time.Second)
	_, err := c.DatabaseBackups(ctx(t))
	apiErr(t, r.saw(err), lcs.ErrUnreachable)
	if got := r.sim.Requests(sim.EndpointBackups); got != 2 {
		t.Fatalf("slow reads attempted %d times, want 2", got)
	}
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	apiErr(t, r.saw(err), lcs.ErrOutcomeUnknown)
	r.sim.SetLatency(0)

	// Nothing listens here any more (a fresh transport, so no connection is reused).
	_ = r.sim.Close()
	dead := r.client(func(cfg *lcs.Config) {
		cfg.HTTPClient = r.sim.HTTPClient()
		cfg.Auth.Mode = lcs.AuthStaticToken
		cfg.Auth.Getenv = func(string) string { return "opaque" }
	})
	_, err = dead.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	e := apiErr(t, r.saw(err), lcs.ErrUnreachable)
	if !strings.Contains(e.Hint, "nothing was started") {
		t.Fatalf("unreachable refresh: %v", err)
	}
}

// TestUntrustedCertificate: without the simulator's certificate the client fails with a hint,
// and never skips verification.
func TestUntrustedCertificate(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.HTTPClient = &http.Client{}
		cfg.Auth.Mode = lcs.AuthStaticToken
		cfg.Auth.Getenv = func(string) string { return "opaque" }
	})
	_, err := c.DatabaseBackups(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrUnreachable)
	if !strings.Contains(e.Hint, "certificate") {
		t.Fatalf("untrusted cert: %v", err)
	}
}

// TestPagingAndLimits: history is read through every page while the client keeps under the
// documented quotas (6 per environment per 30 s, 6 per project per minute) on its own clock, so
// the simulator, which enforces them, never answers 429.
func TestPagingAndLimits(t *testing.T) {
	r := newRig(t, sim.Options{PageSize: 1})
	for i := range 10 {
		if err := r.sim.AddHistory(sim.SandboxID, sim.HistoryEntry{Name: "Package", Type: "SFApplicationHotfix", TypeDisplay: "Application deployable package",
			Start: t0.Add(-time.Duration(30+i) * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	c := r.client(nil)
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	start := r.clock.Now()
	h, err := c.EnvironmentHistory(ctx(t), sim.SandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 13 {
		t.Fatalf("history rows = %d, want 13", len(h))
	}
	s := r.sim.Stats()
	if s.Requests[sim.EndpointHistory] != 13 || s.Throttled != 0 {
		t.Fatalf("history requests %d (want 13), throttled %d (want 0)", s.Requests[sim.EndpointHistory], s.Throttled)
	}
	// 13 calls at 6 per minute need two waits of a minute.
	if got := r.clock.Now().Sub(start); got < 2*time.Minute || got > 2*time.Minute+time.Second {
		t.Fatalf("paging took %v on the clock, want 2m", got)
	}
	// Metadata: 8 lookups at 6 per minute.
	r.clock.Advance(time.Hour)
	for range 8 {
		if _, err := c.Environment(ctx(t), sim.SandboxID); err != nil {
			t.Fatal(err)
		}
	}
	if s := r.sim.Stats(); s.Throttled != 0 {
		t.Fatalf("metadata throttled %d times", s.Throttled)
	}
}

// TestVersionEOL: a VersionEOL other than 9999-12-31 warns once per API.
func TestVersionEOL(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	if _, err := c.DatabaseBackups(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.warningsOf(lcs.WarnVersionEOL)); n != 0 {
		t.Fatalf("%d EOL warnings with the default date", n)
	}
	r.sim.SetVersionEOL(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC))
	for range 3 {
		if _, err := c.DatabaseBackups(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Environments(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	ws := r.warningsOf(lcs.WarnVersionEOL)
	if len(ws) != 2 {
		t.Fatalf("EOL warnings = %+v, want one per API (2)", ws)
	}
	for _, w := range ws {
		if !strings.Contains(w.Message, "2027-06-30") {
			t.Errorf("warning %q lacks the date", w.Message)
		}
	}
	if !strings.Contains(r.logs.String(), "2027-06-30") {
		t.Error("the EOL warning did not reach the logger")
	}
}

// TestPermanentErrors: the errors waiting cannot fix say so (an unknown environment, a refresh the
// API does not offer, a request LCS refuses, a failed sign-in); throttling given up on, server
// errors and lost answers do not.
func TestPermanentErrors(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(func(cfg *lcs.Config) {
		cfg.BackoffBase = time.Second
		cfg.BackoffMax = time.Second
		cfg.MaxAttempts = 2
	})
	if _, err := c.SignIn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Environment(ctx(t), "no-such-environment")
	if !lcs.IsPermanent(r.saw(err)) {
		t.Errorf("an unknown environment: %v", err)
	}
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.ProductionID)
	if !lcs.IsPermanent(r.saw(err)) {
		t.Errorf("a refresh into production: %v", err)
	}
	r.sim.RejectNext(1, "The environment is not in a state that allows this operation")
	_, err = c.DatabaseBackups(ctx(t))
	if err == nil || lcs.IsPermanent(r.saw(err)) {
		t.Errorf("an IsSuccess false answer may pass: %v", err)
	}
	r.sim.FailNext(5, http.StatusServiceUnavailable)
	_, err = c.DatabaseBackups(ctx(t))
	if err == nil || lcs.IsPermanent(r.saw(err)) {
		t.Errorf("server errors may pass: %v", err)
	}
	r.sim.FailNext(0, 0)
	r.sim.FailNext(1, http.StatusForbidden)
	_, err = c.DatabaseBackups(ctx(t))
	if !lcs.IsPermanent(r.saw(err)) {
		t.Errorf("403: %v", err)
	}
	r.sim.FailNext(0, 0)
	r.sim.LoseNextResponses(1)
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	if !errors.Is(err, lcs.ErrOutcomeUnknown) || lcs.IsPermanent(err) {
		t.Errorf("a lost answer: %v", err)
	}
	if lcs.IsPermanent(context.Canceled) || lcs.IsPermanent(nil) {
		t.Error("errors that are not LCS's are not permanent")
	}

	// Sign-in: a wrong password is final; Entra ID out of reach is not (the network may come back).
	wrong := r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode, cfg.Auth.Username, cfg.Auth.Password = lcs.AuthPassword, sim.DefaultUser, "not the password"
	})
	_, err = wrong.SignIn(ctx(t))
	if !errors.Is(err, lcs.ErrSignIn) || !lcs.IsPermanent(err) {
		t.Errorf("a wrong password: %v (permanent %v)", err, lcs.IsPermanent(err))
	}
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	gone := "https://" + ln.Addr().String() + "/organizations"
	ln.Close()
	away := r.client(func(cfg *lcs.Config) {
		cfg.Auth.Mode, cfg.Auth.Username, cfg.Auth.Password = lcs.AuthPassword, sim.DefaultUser, sim.DefaultPassword
		cfg.Auth.Authority = gone
	})
	_, err = away.SignIn(ctx(t))
	if !errors.Is(err, lcs.ErrSignIn) || lcs.IsPermanent(err) {
		t.Errorf("Entra ID unreachable: %v (permanent %v)", err, lcs.IsPermanent(err))
	}
}
