package lcs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// AuthMode is how the client signs in to Entra ID.
type AuthMode int

// The sign-in modes.
const (
	// AuthDeviceCode (the default) shows a code the user enters at a Microsoft page on any device;
	// it works with MFA and conditional access. Needs "Allow public client flows" on the app.
	AuthDeviceCode AuthMode = iota
	// AuthPassword is the resource owner password grant (ROPC) as d365fo.tools does it, for a
	// public client. It cannot do MFA and cannot sign in federated (ADFS) accounts.
	AuthPassword
	// AuthClientSecret uses a confidential client: ROPC (Username and Password) with the secret,
	// the workaround for tenants that require a client secret. It needs a user: LCS takes only
	// delegated permissions, and "Service Principal authentication isn't supported"
	// (database/api/dbmovement-api-authentication.md), so an app-only sign-in is refused.
	AuthClientSecret
	// AuthStaticToken sends a bearer token read from an environment variable (automation that
	// signs in elsewhere). The client cannot refresh it.
	AuthStaticToken
)

// String is the runbook spelling of the mode.
func (m AuthMode) String() string {
	switch m {
	case AuthDeviceCode:
		return "device-code"
	case AuthPassword:
		return "password"
	case AuthClientSecret:
		return "client-secret"
	case AuthStaticToken:
		return "token"
	}
	return "AuthMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseAuthMode reads a runbook's auth mode: device-code, password, client-secret or token.
func ParseAuthMode(s string) (AuthMode, error) {
	for _, m := range []AuthMode{AuthDeviceCode, AuthPassword, AuthClientSecret, AuthStaticToken} {
		if strings.EqualFold(strings.TrimSpace(s), m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown LCS auth mode %q: use device-code, password, client-secret or token", s)
}

// DefaultTokenEnv is the environment variable AuthStaticToken reads when Auth.TokenEnv is empty.
const DefaultTokenEnv = "CUTOVER_LCS_TOKEN"

// DeviceCodePrompt is what the user needs to finish a device-code sign-in.
type DeviceCodePrompt struct {
	// Message is Entra ID's own instruction, e.g. "To sign in, use a web browser to open the page
	// https://microsoft.com/devicelogin and enter the code ABCD1234 to authenticate."
	Message         string
	VerificationURL string
	UserCode        string
	ExpiresOn       time.Time
}

// Auth configures sign-in. Secrets are passed in by the caller (read from the environment or a
// file as the runbook says) and never logged.
type Auth struct {
	Mode AuthMode
	// TenantID is the directory (GUID or verified domain) of the app registration. Every mode
	// but AuthStaticToken needs it (or an Authority naming it): the registration Microsoft
	// documents for LCS is single-tenant (database/api/dbmovement-api-authentication.md), and
	// Entra refuses a single-tenant app at the shared "organizations" and "common" authorities
	// with AADSTS50194.
	TenantID string
	// ClientID is the app registration's application id (needed by every mode but token).
	ClientID string
	// Authority overrides the authority URL; the default is the region's sign-in host plus the
	// tenant, e.g. https://login.microsoftonline.com/organizations. It must be https.
	Authority string
	// DisableInstanceDiscovery turns off MSAL's authority validation, which asks
	// login.microsoftonline.com about the host. Set it for private authorities (the simulator).
	DisableInstanceDiscovery bool
	// Scope overrides the requested scope; the default is "<API base URL>//.default", with the two
	// slashes the documents show ("https://lcsapi.lcs.dynamics.com//.default", and
	// "https://lcsapi.eu.lcs.dynamics.com//.default" for the EU instance:
	// database/api/dbmovement-api-authentication.md): the resource's identifier ends with a slash,
	// and a token asked for with one slash has another audience, which the API rejects
	// (entra-docs, identity-platform/scopes-oidc.md, "Trailing slash and .default").
	Scope string
	// Username is the account for AuthPassword and for ROPC with AuthClientSecret; with
	// AuthDeviceCode it picks the cached account to reuse.
	Username string
	// Password is the account's password (AuthPassword, AuthClientSecret with Username).
	Password string
	// ClientSecret is the confidential client's secret (AuthClientSecret).
	ClientSecret string
	// TokenEnv names the environment variable holding the bearer token for AuthStaticToken;
	// "" means DefaultTokenEnv.
	TokenEnv string
	// CacheDir is where the token cache file lives (the cockpit's state directory); "" keeps
	// tokens in memory only.
	CacheDir string
	// OnDeviceCode shows the device-code prompt to the user. It must return promptly; the client
	// then waits for the user to finish signing in. Required for AuthDeviceCode.
	OnDeviceCode func(DeviceCodePrompt)
	// Getenv reads environment variables (tests); nil means os.Getenv.
	Getenv func(string) string
}

// authenticator owns the current access token and gets new ones from MSAL.
type authenticator struct {
	cfg           Auth
	scopes        []string
	clock         Clock
	log           *slog.Logger
	warn          func(Warning)
	refreshBefore time.Duration
	cache         *tokenCache
	pub           *public.Client
	conf          *confidential.Client

	mu      sync.Mutex
	account public.Account
	cur     string    // current access token
	exp     time.Time // its expiry on the client clock
	stale   bool      // cur was refused by LCS

	// others are the tokens for resources other than LCS, by scope (see tokenFor), guarded by
	// mu (redact reads them). othersMu serialises their sign-ins (a one-slot semaphore, so a wait
	// honours its context); an interactive sign-in for another resource never holds mu, so LCS
	// calls go on.
	others   map[string]scopedToken
	othersMu chan struct{}
}

// scopedToken is an access token for a resource other than LCS, with its expiry on the client
// clock.
type scopedToken struct {
	tok string
	exp time.Time
}

func newAuthenticator(cfg Auth, baseURL, authorityHost string, hc *http.Client, clock Clock, log *slog.Logger, warn func(Warning), refreshBefore time.Duration) (*authenticator, error) {
	a := &authenticator{cfg: cfg, clock: clock, log: log, warn: warn, refreshBefore: refreshBefore,
		others: map[string]scopedToken{}, othersMu: make(chan struct{}, 1)}
	if a.cfg.Getenv == nil {
		a.cfg.Getenv = os.Getenv
	}
	if a.cfg.TokenEnv == "" {
		a.cfg.TokenEnv = DefaultTokenEnv
	}
	if cfg.Mode == AuthStaticToken {
		return a, nil
	}
	if cfg.ClientID == "" {
		return nil, errors.New("lcs: Auth.ClientID is required: register an app in Entra ID with the Dynamics Lifecycle services user_impersonation permission and give its application id")
	}
	scope := cfg.Scope
	if scope == "" {
		scope = DefaultScope(baseURL)
	}
	a.scopes = []string{scope}
	authority := cfg.Authority
	if authority == "" {
		tenant := strings.TrimSpace(cfg.TenantID)
		if tenant == "" {
			return nil, errors.New("lcs: Auth.TenantID is required: " + tenantHint)
		}
		authority = strings.TrimRight(authorityHost, "/") + "/" + tenant
	}
	tc, err := newTokenCache(cfg.CacheDir, func(msg string) { a.emit(Warning{Kind: WarnTokenCache, API: "sign in", Message: msg}) })
	if err != nil {
		return nil, fmt.Errorf("lcs: %w", err)
	}
	a.cache = tc
	switch cfg.Mode {
	case AuthDeviceCode, AuthPassword:
		if cfg.Mode == AuthDeviceCode && cfg.OnDeviceCode == nil {
			return nil, errors.New("lcs: device-code sign-in needs Auth.OnDeviceCode to show the code to the user")
		}
		if cfg.Mode == AuthPassword && (cfg.Username == "" || cfg.Password == "") {
			return nil, errors.New("lcs: password sign-in needs Auth.Username and Auth.Password")
		}
		p, err := public.New(cfg.ClientID, public.WithAuthority(authority), public.WithCache(tc),
			public.WithHTTPClient(hc), public.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery))
		if err != nil {
			return nil, fmt.Errorf("lcs: sign-in setup (authority %s): %w", authority, err)
		}
		a.pub = &p
	case AuthClientSecret:
		if cfg.ClientSecret == "" {
			return nil, errors.New("lcs: client-secret sign-in needs Auth.ClientSecret")
		}
		if cfg.Username == "" || cfg.Password == "" {
			return nil, errors.New("lcs: client-secret sign-in needs Auth.Username and Auth.Password: " + delegatedOnly)
		}
		cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
		if err != nil {
			return nil, errors.New("lcs: the client secret is empty or invalid")
		}
		// MSAL's confidential ROPC does not send the client secret (MSAL libraries treat ROPC as a
		// public-client flow), which defeats the point of this mode: add it to the password grant
		// sent to the authority's token endpoint, and nowhere else.
		u, err := url.Parse(authority)
		if err != nil {
			return nil, fmt.Errorf("lcs: authority %q: %w", authority, err)
		}
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		withSecret := *hc
		withSecret.Transport = &secretInjector{next: next, host: u.Host, secret: cfg.ClientSecret}
		msalHC := &withSecret
		c, err := confidential.New(authority, cfg.ClientID, cred, confidential.WithCache(tc),
			confidential.WithHTTPClient(msalHC), confidential.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery))
		if err != nil {
			return nil, fmt.Errorf("lcs: sign-in setup (authority %s): %w", authority, err)
		}
		a.conf = &c
	default:
		return nil, fmt.Errorf("lcs: unknown auth mode %v", cfg.Mode)
	}
	return a, nil
}

func (a *authenticator) emit(w Warning) {
	if a.warn != nil {
		a.warn(w)
	}
}

// invalidate marks tok as refused by LCS: the next token call gets a fresh one.
func (a *authenticator) invalidate(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok == a.cur {
		a.stale = true
	}
}

// token returns a usable access token, refreshing it silently when it has less than
// refreshBefore left on the client clock or LCS refused it.
func (a *authenticator) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	if a.cur != "" && !a.stale && now.Before(a.exp.Add(-a.refreshBefore)) {
		return a.cur, nil
	}
	force := a.cur != ""
	tok, exp, err := a.acquire(ctx, force)
	if err != nil {
		if a.cur != "" && !a.stale && now.Before(a.exp) {
			// The refresh failed but the token still works for a while: use it, say so.
			a.emit(Warning{Kind: WarnTokenRefresh, API: "sign in", Message: "could not refresh the LCS token ahead of its expiry; using the current one until " + a.exp.Format(time.RFC3339) + ": " + err.Error()})
			return a.cur, nil
		}
		return "", err
	}
	a.cur, a.exp, a.stale = tok, exp, false
	a.log.Debug("lcs: token acquired", "mode", a.cfg.Mode.String(), "expires", exp.Format(time.RFC3339))
	return tok, nil
}

// signIn makes sure there is a token (prompting for a device code if needed) and returns the
// signed-in account name, if known.
func (a *authenticator) signIn(ctx context.Context) (string, error) {
	if _, err := a.token(ctx); err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.account.PreferredUsername, nil
}

// tokenFor returns an access token for scope, a resource other than LCS (say
// "https://contoso.operations.dynamics.com/.default"), for the same account and app registration.
// Once signed in (for LCS, first, when no account is known yet) it comes silently from the
// account's refresh token; when that fails, the mode signs in again for that scope (device code:
// a new prompt through OnDeviceCode). Tokens are kept per scope and refreshed refreshBefore their
// expiry on the client clock, like the LCS token. AuthStaticToken cannot get one.
func (a *authenticator) tokenFor(ctx context.Context, scope string) (string, error) {
	scope = strings.TrimSpace(scope)
	if scope == "" {
		return "", errors.New("lcs: a token for another resource needs its scope, e.g. https://contoso.operations.dynamics.com/.default")
	}
	if a.cfg.Mode == AuthStaticToken {
		return "", &APIError{Op: "sign in for " + scope, kind: ErrSignIn, Message: "token sign-in only holds the LCS bearer token from $" + a.cfg.TokenEnv,
			Hint: "give the step its own bearer token in an environment variable (smoke.http: bearer_env), or sign in to LCS with device-code, password or client-secret"}
	}
	if strings.EqualFold(scope, a.scopes[0]) {
		return a.token(ctx)
	}
	if a.needsAccount() {
		// Sign in as LCS needs it (the prompt the operator expects); the other resource's token
		// then comes silently from the same account.
		if _, err := a.token(ctx); err != nil {
			return "", err
		}
	}
	select {
	case a.othersMu <- struct{}{}:
		defer func() { <-a.othersMu }()
	case <-ctx.Done():
		return "", a.signInError(ctx.Err(), scope)
	}
	now := a.clock.Now()
	// a.mu guards others too (redact reads it while a sign-in for LCS holds a.mu); othersMu
	// only makes these sign-ins take turns without holding a.mu through one.
	a.mu.Lock()
	cur, ok := a.others[scope]
	known := a.account
	a.mu.Unlock()
	if ok && now.Before(cur.exp.Add(-a.refreshBefore)) {
		return cur.tok, nil
	}
	if ok {
		// MSAL judges expiry on the wall clock: make it redeem the refresh token.
		a.cache.dropAccessTokens()
	}
	ar, err := a.msal(ctx, []string{scope}, known)
	if err != nil {
		a.mu.Lock()
		err = a.signInError(err, scope) // redacts with the current tokens
		a.mu.Unlock()
		if ok && now.Before(cur.exp) {
			a.emit(Warning{Kind: WarnTokenRefresh, API: "sign in", Message: "could not refresh the token for " + scope + " ahead of its expiry; using the current one until " + cur.exp.Format(time.RFC3339) + ": " + err.Error()})
			return cur.tok, nil
		}
		return "", err
	}
	if known.HomeAccountID != "" && ar.Account.HomeAccountID != "" && ar.Account.HomeAccountID != known.HomeAccountID {
		// Someone else answered the prompt: this run acts as one person.
		return "", &APIError{Op: "sign in for " + scope, kind: ErrSignIn,
			Message: "signed in as " + ar.Account.PreferredUsername + ", not as " + known.PreferredUsername + " who signed in to LCS",
			Hint:    "sign in for " + scope + " as " + known.PreferredUsername}
	}
	exp := a.clock.Now().Add(time.Until(ar.ExpiresOn))
	a.mu.Lock()
	if a.account.HomeAccountID == "" && ar.Account.HomeAccountID != "" {
		a.account = ar.Account
	}
	a.others[scope] = scopedToken{tok: ar.AccessToken, exp: exp}
	a.mu.Unlock()
	a.log.Debug("lcs: token acquired", "scope", scope, "mode", a.cfg.Mode.String(), "expires", exp.Format(time.RFC3339))
	return ar.AccessToken, nil
}

// needsAccount reports whether a user sign-in has not happened yet in this run.
func (a *authenticator) needsAccount() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.account.HomeAccountID == ""
}

// acquire gets a token from MSAL (or the environment), with its expiry on the client clock.
// force means the current token must not be returned again.
func (a *authenticator) acquire(ctx context.Context, force bool) (string, time.Time, error) {
	if a.cfg.Mode == AuthStaticToken {
		return a.staticToken(a.stale)
	}
	if force {
		a.cache.dropAccessTokens()
	}
	ar, err := a.msal(ctx, a.scopes, a.account)
	if err != nil {
		return "", time.Time{}, a.signInError(err, "")
	}
	if ar.Account.HomeAccountID != "" {
		a.account = ar.Account
	}
	// MSAL computes ExpiresOn on the wall clock; carry the remaining lifetime over to ours.
	exp := a.clock.Now().Add(time.Until(ar.ExpiresOn))
	if a.stale && ar.AccessToken == a.cur {
		return "", time.Time{}, &APIError{Op: "sign in", kind: ErrSignIn, Message: "Entra ID returned the token LCS refused", Hint: "sign in again"}
	}
	return ar.AccessToken, exp, nil
}

// msal gets a token for scopes from MSAL: silently with the signed-in account (known, else one in
// the token cache) when it can, else by the mode's sign-in (which, for device code, prompts
// through OnDeviceCode). It reads no field under mu.
func (a *authenticator) msal(ctx context.Context, scopes []string, known public.Account) (public.AuthResult, error) {
	switch {
	case a.conf != nil:
		if known.HomeAccountID != "" {
			if ar, err := a.conf.AcquireTokenSilent(ctx, scopes, confidential.WithSilentAccount(known)); err == nil {
				return ar, nil
			}
		}
		return a.conf.AcquireTokenByUsernamePassword(ctx, scopes, a.cfg.Username, a.cfg.Password)
	}
	if acct, ok := a.cachedAccount(ctx, known); ok {
		ar, err := a.pub.AcquireTokenSilent(ctx, scopes, public.WithSilentAccount(acct))
		if err == nil {
			return ar, nil
		}
		a.log.Debug("lcs: silent token refresh failed, signing in again", "mode", a.cfg.Mode.String(), "scope", strings.Join(scopes, " "))
	}
	if a.cfg.Mode == AuthPassword {
		//lint:ignore SA1019 ROPC is what LCS automation has used for years (d365fo.tools); device code is the default.
		return a.pub.AcquireTokenByUsernamePassword(ctx, scopes, a.cfg.Username, a.cfg.Password)
	}
	dc, err := a.pub.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		return public.AuthResult{}, err
	}
	a.cfg.OnDeviceCode(DeviceCodePrompt{
		Message:         dc.Result.Message,
		VerificationURL: dc.Result.VerificationURL,
		UserCode:        dc.Result.UserCode,
		ExpiresOn:       dc.Result.ExpiresOn,
	})
	return dc.AuthenticationResult(ctx)
}

// cachedAccount is the account to refresh silently: known (signed in during this run), or one
// found in the token cache (matching Username when given).
func (a *authenticator) cachedAccount(ctx context.Context, known public.Account) (public.Account, bool) {
	if known.HomeAccountID != "" {
		return known, true
	}
	accts, err := a.pub.Accounts(ctx)
	if err != nil {
		return public.Account{}, false
	}
	for _, acct := range accts {
		if a.cfg.Username == "" || strings.EqualFold(acct.PreferredUsername, a.cfg.Username) {
			return acct, true
		}
	}
	return public.Account{}, false
}

// staticToken reads the bearer token from the environment (again each time, so automation can
// rotate it). Its expiry comes from the token's exp claim when it is a JWT, else one hour.
// refused means LCS refused the current token: the same token again is an error.
func (a *authenticator) staticToken(refused bool) (string, time.Time, error) {
	tok := strings.TrimSpace(a.cfg.Getenv(a.cfg.TokenEnv))
	tok = strings.TrimSpace(strings.TrimPrefix(tok, "Bearer "))
	if tok == "" {
		return "", time.Time{}, &APIError{Op: "sign in", kind: ErrSignIn, Message: "no bearer token in $" + a.cfg.TokenEnv,
			Hint: "set $" + a.cfg.TokenEnv + " to an LCS access token, or use device-code sign-in"}
	}
	if refused && tok == a.cur {
		return "", time.Time{}, &APIError{Op: "sign in", kind: ErrUnauthorized, Message: "the bearer token in $" + a.cfg.TokenEnv + " was refused or has expired",
			Hint: "put a fresh LCS access token in $" + a.cfg.TokenEnv + " (tokens last about an hour), or use device-code sign-in, which refreshes itself"}
	}
	exp := a.clock.Now().Add(time.Hour)
	if e, ok := jwtExpiry(tok); ok {
		exp = a.clock.Now().Add(time.Until(e))
	}
	return tok, exp, nil
}

// jwtExpiry reads the (unverified) exp claim of a JWT.
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}

// signInError turns an MSAL error into an *APIError that says what to do, without echoing
// anything MSAL may have put in it beyond the OAuth error fields. scope is the scope of a
// resource other than LCS ("" for LCS itself).
func (a *authenticator) signInError(err error, scope string) error {
	op := "sign in"
	if scope != "" {
		op += " for " + scope
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &APIError{Op: op, kind: ErrSignIn, Message: "sign-in did not finish", Hint: "the sign-in was cancelled or timed out; start it again", cause: ctxErr(err), transient: true}
	}
	op = "sign in (" + a.cfg.Mode.String() + ")"
	if scope != "" {
		op += " for " + scope
	}
	e := &APIError{Op: op, kind: ErrSignIn}
	var ce msalerrors.CallErr
	var je msalerrors.InvalidJsonErr
	switch {
	case errors.As(err, &ce):
		if ce.Resp != nil {
			e.HTTPStatus = ce.Resp.StatusCode
		}
		code, desc, codes := oauthError(ce.Err.Error())
		e.Message = strings.TrimSpace(code + ": " + desc)
		if code == "" {
			e.Message = "the sign-in server refused the request"
		}
		e.Hint = a.signInHint(code, codes, scope)
		// Entra ID throttling or failing is worth waiting for; a refusal (4xx) is not.
		e.transient = e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500
	case errors.As(err, &je):
		e.Message = "the sign-in server sent an answer that could not be read"
		e.Hint = "check the authority URL and that nothing between here and Entra ID rewrites the response"
		e.transient = true
	default:
		// The network: Entra ID could not be reached or the connection broke.
		e.Message = a.redact(err.Error())
		e.Hint = "check the network path to the sign-in server (" + a.cfg.Mode.String() + " sign-in)"
		e.transient = true
	}
	return e
}

// ctxErr keeps only the context error from an error chain.
func ctxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// oauthError extracts the OAuth error fields from the text of an MSAL call error, which ends with
// the server's JSON body.
func oauthError(text string) (code, desc string, codes []int) {
	i := strings.Index(text, "{")
	if i < 0 {
		return "", "", nil
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal([]byte(text[i:]), &body) != nil {
		return "", "", nil
	}
	desc = body.Description
	if j := strings.Index(desc, "Trace ID:"); j > 0 {
		desc = desc[:j]
	}
	if j := strings.IndexAny(desc, "\r\n"); j > 0 {
		desc = desc[:j]
	}
	return body.Error, strings.TrimSpace(desc), body.Codes
}

// delegatedOnly says why every sign-in is a user's.
const delegatedOnly = "LCS takes only delegated (user) sign-ins; Service Principal authentication, the app's own identity, isn't supported (database/api/dbmovement-api-authentication.md)"

// DefaultScope is the scope of the LCS API at baseURL as the documents write it: the base URL,
// then "//.default" (two slashes: see Auth.Scope).
func DefaultScope(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "//.default"
}

// tenantHint says why sign-in needs the tenant and where to find it.
const tenantHint = "give the directory (tenant) id of the app registration (Entra admin center → the app → Overview → Directory (tenant) ID; runbook lcs.tenant_id): the app registration for LCS is single-tenant, and Entra refuses a single-tenant app at the shared organizations/common authority (AADSTS50194)"

func (a *authenticator) signInHint(code string, codes []int, scope string) string {
	has := func(n ...int) bool {
		for _, c := range codes {
			for _, m := range n {
				if c == m {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has(50076, 50079, 50158, 50072):
		return "this account needs multi-factor authentication, which password sign-in cannot do: use device-code sign-in"
	case has(53003):
		return "a conditional access policy blocked the sign-in: use device-code sign-in from an allowed device, or ask the Entra ID admin"
	case has(7000218):
		return "the app registration requires a client secret for this flow: enable \"Allow public client flows\" on it, or use client-secret sign-in with the username (the documented workaround)"
	case has(7000215, 7000222):
		return "the client secret is wrong or expired: create a new secret on the app registration"
	case has(50126):
		return "the username or password is wrong; federated (ADFS) accounts cannot use password sign-in: use device-code sign-in"
	case has(65001) && scope != "":
		return "the app has no consent for " + strings.TrimSuffix(scope, "/.default") + ": an admin must add that API's permission (user_impersonation) to the app registration and grant consent"
	case has(65001):
		return "the app has no consent for Dynamics Lifecycle services: an admin must grant consent for its user_impersonation permission"
	case has(50194):
		return "the app registration is single-tenant, so Entra refuses it at a shared authority (organizations, common): " + tenantHint
	case has(700016):
		return "no app with this client id in the tenant: check the client id and tenant"
	case has(90002, 90023):
		return "the tenant was not found: check the tenant id"
	case has(70020) || code == "expired_token":
		return "the device code expired before it was entered: sign in again and enter the new code within its lifetime"
	case code == "authorization_declined" || has(70000):
		return "the sign-in was declined at the device-code page: sign in again"
	case code == "invalid_grant":
		return "the sign-in session has expired or was revoked: sign in again"
	case code == "invalid_client":
		return "the app registration refused this client: check the client id, the secret and \"Allow public client flows\""
	}
	return "check the tenant, client id and account, or use device-code sign-in"
}

// secretInjector adds client_secret to password grants posted to the authority's token
// endpoint (see newAuthenticator).
type secretInjector struct {
	next   http.RoundTripper
	host   string
	secret string
}

func (s *secretInjector) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil || !strings.EqualFold(req.URL.Host, s.host) || !strings.HasSuffix(req.URL.Path, "/token") {
		return s.next.RoundTrip(req)
	}
	raw, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read token request: %w", err)
	}
	form, perr := url.ParseQuery(string(raw))
	if perr == nil && form.Get("grant_type") == "password" && form.Get("client_secret") == "" {
		form.Set("client_secret", s.secret)
		raw = []byte(form.Encode())
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(raw))
	out.ContentLength = int64(len(raw))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return s.next.RoundTrip(out)
}

// redact removes the configured secrets and the current tokens from a message. The caller holds
// a.mu.
func (a *authenticator) redact(s string) string {
	secrets := []string{a.cfg.Password, a.cfg.ClientSecret, a.cur}
	for _, t := range a.others {
		secrets = append(secrets, t.tok)
	}
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
