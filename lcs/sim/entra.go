package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// authState holds issued tokens and pending device codes.
type authState struct {
	access  map[string]accessToken
	refresh map[string]refreshToken
	codes   map[string]*deviceCode // by device code

	issuedAccess, issuedRefresh []string // for IssuedTokens
}

const maxIssuedLog = 10000

func logToken(list *[]string, tok string) {
	if len(*list) >= maxIssuedLog {
		*list = (*list)[1:]
	}
	*list = append(*list, tok)
}

type accessToken struct {
	user    string // "" for an app-only token
	client  string
	aud     string // the resource it was issued for (see audience)
	expires time.Time
}

type refreshToken struct {
	user, client, scope string
	expires             time.Time
}

type deviceCode struct {
	userCode, client, scope string
	expires                 time.Time
	approvedAs              string
	denied                  bool
	polls                   int
}

func newAuthState() authState {
	return authState{access: map[string]accessToken{}, refresh: map[string]refreshToken{}, codes: map[string]*deviceCode{}}
}

// ApproveDeviceCode approves a pending device code as the default user, as if the user had
// entered it at the verification page and signed in.
func (s *Server) ApproveDeviceCode(userCode string) error {
	return s.ApproveDeviceCodeAs(userCode, firstUser(s.opts.Users))
}

// ApproveDeviceCodeAs approves a pending device code as user (one of Options.Users).
func (s *Server) ApproveDeviceCodeAs(userCode, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.opts.Users[user]; !ok {
		return fmt.Errorf("sim: no user %q", user)
	}
	dc := s.st.auth.byUserCode(userCode)
	if dc == nil {
		return fmt.Errorf("sim: no pending device code %q", userCode)
	}
	if !s.clock.Now().Before(dc.expires) {
		return fmt.Errorf("sim: device code %q has expired", userCode)
	}
	dc.approvedAs = user
	return nil
}

// DenyDeviceCode declines a pending device code (the user pressed Cancel).
func (s *Server) DenyDeviceCode(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc := s.st.auth.byUserCode(userCode)
	if dc == nil {
		return fmt.Errorf("sim: no pending device code %q", userCode)
	}
	dc.denied = true
	return nil
}

// IssuedTokens lists the access and refresh tokens issued so far (the last 10,000 of each), so
// tests can check that none of them leaks into logs or error messages.
func (s *Server) IssuedTokens() (access, refresh []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.st.auth.issuedAccess...), append([]string(nil), s.st.auth.issuedRefresh...)
}

// PendingDeviceCodes lists the user codes waiting for approval.
func (s *Server) PendingDeviceCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	now := s.clock.Now()
	for _, dc := range s.st.auth.codes {
		if dc.approvedAs == "" && !dc.denied && now.Before(dc.expires) {
			out = append(out, dc.userCode)
		}
	}
	return out
}

func (a *authState) byUserCode(code string) *deviceCode {
	code = strings.ToUpper(strings.TrimSpace(code))
	for _, dc := range a.codes {
		if dc.userCode == code {
			return dc
		}
	}
	return nil
}

// userFor checks a bearer token for the LCS API at host: the user, or why it is refused. A
// token must be unexpired, issued for the API's resource — whose identifier ends with a slash
// ("https://lcsapi.lcs.dynamics.com//.default" is the documented scope), so a token asked for with
// one slash has another audience, which the API rejects (entra-docs, scopes-oidc.md) — and a
// user's: "Service Principal authentication isn't supported"
// (database/api/dbmovement-api-authentication.md).
func (a *authState) userFor(authz, host string, now time.Time) (string, string) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return "", "The access token is missing"
	}
	t, ok := a.access[strings.TrimSpace(tok)]
	switch {
	case !ok:
		return "", "The access token is invalid"
	case !now.Before(t.expires):
		return "", "The access token has expired"
	case t.aud != "https://"+host+"/":
		return "", "The audience " + t.aud + " is invalid"
	case t.user == "":
		return "", "An app-only token is not accepted: sign in as a user"
	}
	return t.user, ""
}

// audience is the resource a token for scope is issued for: the first scope's URL without its
// last segment (.default, user_impersonation), keeping the slash before it when there are two
// ("https://h//.default" is for "https://h/", "https://h/.default" for "https://h").
func audience(scope string) string {
	for _, sc := range strings.Fields(scope) {
		if !strings.HasPrefix(sc, "https://") {
			continue
		}
		if i := strings.LastIndexByte(sc, '/'); i > len("https://") {
			return sc[:i]
		}
	}
	return ""
}

func (s *Server) handleOpenID(w http.ResponseWriter, r *http.Request) {
	s.count(EndpointOpenID)
	tenant := r.PathValue("tenant")
	base := "https://" + r.Host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              "https://" + r.Host + "/" + tenant + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

func (s *Server) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	s.count(EndpointInstanceDiscovery)
	tenant := "organizations"
	if u, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
		if parts := strings.Split(strings.Trim(u.Path, "/"), "/"); len(parts) > 0 && parts[0] != "" {
			tenant = parts[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + r.Host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": r.Host, "preferred_cache": r.Host, "aliases": []string{r.Host}}},
	})
}

func (s *Server) handleUserRealm(w http.ResponseWriter, r *http.Request) {
	s.count(EndpointUserRealm)
	user := r.PathValue("user")
	domain := user
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		domain = user[i+1:]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ver": "1.0", "account_type": "Managed", "domain_name": domain,
		"cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline",
	})
}

func (s *Server) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	s.count(EndpointDeviceCode)
	if err := r.ParseForm(); err != nil {
		oauthErr(w, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	client, scope := r.PostForm.Get("client_id"), r.PostForm.Get("scope")
	if client == "" {
		oauthErr(w, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if !s.tenantAccepts(w, r.PathValue("tenant"), client) {
		return
	}
	if !s.validScope(r, scope, false) {
		oauthErr(w, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter for the LCS API of this simulator.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	device := randomToken("simDC", 32)
	user := userCode()
	dc := &deviceCode{userCode: user, client: client, scope: scope, expires: now.Add(s.opts.DeviceCodeTTL)}
	if s.opts.AutoApproveDeviceCodes {
		dc.approvedAs = firstUser(s.opts.Users)
	}
	s.st.auth.codes[device] = dc
	s.st.stats.deviceCodes++
	verify := "https://" + r.Host + "/devicelogin"
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code":        user,
		"device_code":      device,
		"verification_uri": verify,
		"expires_in":       int(s.opts.DeviceCodeTTL / time.Second),
		"interval":         5,
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, user),
	})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.count(EndpointToken)
	if err := r.ParseForm(); err != nil {
		oauthErr(w, "invalid_request", 900144, "The request body is not a form.")
		return
	}
	f := r.PostForm
	client, grant, scope := f.Get("client_id"), f.Get("grant_type"), f.Get("scope")
	if client == "" {
		oauthErr(w, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if !s.tenantAccepts(w, r.PathValue("tenant"), client) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.st.stats.lastScope = scope
	if secret := f.Get("client_secret"); secret != "" && secret != s.opts.ClientSecret {
		oauthErr(w, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+client+"'.")
		return
	}
	switch grant {
	case "password":
		if !s.validScope(r, scope, false) {
			oauthErr(w, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
			return
		}
		if s.opts.RequireClientSecret && f.Get("client_secret") == "" {
			oauthErr(w, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
			return
		}
		user := f.Get("username")
		pw, ok := s.opts.Users[user]
		if !ok || pw != f.Get("password") {
			oauthErr(w, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
			return
		}
		if s.opts.RequireMFA {
			oauthErr(w, "invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.")
			return
		}
		s.issue(w, r, grant, user, client, scope, now)
	case "client_credentials":
		if f.Get("client_secret") == "" {
			oauthErr(w, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
			return
		}
		if !s.validScope(r, scope, true) {
			oauthErr(w, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
			return
		}
		s.issue(w, r, grant, "", client, scope, now)
	case "device_code", "urn:ietf:params:oauth:grant-type:device_code":
		device := f.Get("device_code")
		dc, ok := s.st.auth.codes[device]
		switch {
		case !ok:
			oauthErr(w, "invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid.")
		case !now.Before(dc.expires):
			delete(s.st.auth.codes, device)
			oauthErr(w, "expired_token", 70020, "The provided authorization code or refresh token has expired due to it has been revoked or it has been used.")
		case dc.denied:
			delete(s.st.auth.codes, device)
			oauthErr(w, "authorization_declined", 70000, "The user has declined to authorize the device.")
		case dc.polls < s.opts.SlowDownPolls:
			dc.polls++
			oauthErr(w, "slow_down", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling, and wait longer between polls.")
		case dc.approvedAs == "":
			dc.polls++
			oauthErr(w, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
		default:
			delete(s.st.auth.codes, device)
			s.issue(w, r, "device_code", dc.approvedAs, client, dc.scope, now)
		}
	case "refresh_token":
		rt, ok := s.st.auth.refresh[f.Get("refresh_token")]
		if !ok || !now.Before(rt.expires) || rt.client != client {
			oauthErr(w, "invalid_grant", 700082, "The refresh token has expired due to inactivity or was revoked. Sign in again.")
			return
		}
		if scope == "" {
			scope = rt.scope
		}
		s.issue(w, r, grant, rt.user, client, scope, now)
	default:
		oauthErr(w, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+grant+"'.")
	}
}

// issue writes a token response: an access token valid for TokenTTL on the sim clock, and for a
// user also a refresh token, an id token and client_info.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, grant, user, client, scope string, now time.Time) {
	at := randomToken("simAT", 48)
	s.st.auth.access[at] = accessToken{user: user, client: client, aud: audience(scope), expires: now.Add(s.opts.TokenTTL)}
	logToken(&s.st.auth.issuedAccess, at)
	s.st.stats.grants[grant]++
	ttl := int(s.opts.TokenTTL / time.Second)
	body := map[string]any{
		"token_type":     "Bearer",
		"scope":          grantedScope(scope),
		"expires_in":     ttl,
		"ext_expires_in": ttl,
		"access_token":   at,
	}
	if user != "" {
		rt := randomToken("simRT", 48)
		s.st.auth.refresh[rt] = refreshToken{user: user, client: client, scope: scope, expires: now.Add(s.opts.RefreshTokenTTL)}
		logToken(&s.st.auth.issuedRefresh, rt)
		oid := userOID(user)
		body["refresh_token"] = rt
		body["id_token"] = s.idToken(r, user, oid, client, now)
		body["client_info"] = base64.RawURLEncoding.EncodeToString(mustJSON(map[string]string{"uid": oid, "utid": s.opts.TenantID}))
	}
	// prune expired tokens so a long demo does not grow without bound
	for k, t := range s.st.auth.access {
		if now.After(t.expires.Add(time.Hour)) {
			delete(s.st.auth.access, k)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) idToken(r *http.Request, user, oid, client string, now time.Time) string {
	head := base64.RawURLEncoding.EncodeToString(mustJSON(map[string]string{"alg": "none", "typ": "JWT"}))
	name := user
	if i := strings.IndexByte(user, '@'); i > 0 {
		name = user[:i]
	}
	claims := base64.RawURLEncoding.EncodeToString(mustJSON(map[string]any{
		"aud": client, "iss": "https://" + r.Host + "/" + s.opts.TenantID + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(s.opts.TokenTTL).Unix(),
		"name": name, "oid": oid, "preferred_username": user, "sub": oid, "tid": s.opts.TenantID, "ver": "2.0",
	}))
	return head + "." + claims + "."
}

// validScope checks that scope asks for this simulator's API: "<https URL with this port>//.default"
// as the documents write it (or //user_impersonation for delegated flows). A scope with one slash
// is valid too — Entra issues the token — but for another audience, which the API then rejects
// (see userFor).
func (s *Server) validScope(r *http.Request, scope string, appOnly bool) bool {
	_, port, _ := net.SplitHostPort(r.Host)
	for _, sc := range strings.Fields(scope) {
		u, err := url.Parse(sc)
		if err != nil || u.Scheme != "https" || u.Port() != port {
			continue
		}
		p := strings.TrimPrefix(u.Path, "/")
		if p == "/.default" || p == ".default" || (!appOnly && (p == "/user_impersonation" || p == "user_impersonation")) {
			return true
		}
		// An environment's finance and operations front: the resource is its URL without a
		// trailing slash (services-home-page.md), so the scope is that URL + "/.default". Which
		// environments exist is not checked here (the caller may hold the simulator's lock); the
		// front refuses a token issued for another.
		if env, ok := strings.CutPrefix(u.Path, fnoPrefix); ok {
			name, last, _ := strings.Cut(env, "/")
			if name != "" && (last == ".default" || (!appOnly && last == "user_impersonation")) {
				return true
			}
		}
	}
	return false
}

// grantedScope is the scope a token response grants: the requested resource scopes and the
// resource's user_impersonation.
func grantedScope(scope string) string {
	var out []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access", "email":
			continue
		}
		// As the documented answer grants them: user_impersonation, then the scope asked for
		// ("https://lcsapi.lcs.dynamics.com//user_impersonation https://lcsapi.lcs.dynamics.com//.default").
		if res, ok := strings.CutSuffix(sc, "/.default"); ok {
			out = append(out, res+"/user_impersonation")
		}
		out = append(out, sc)
	}
	return strings.Join(out, " ")
}

func userOID(user string) string {
	h := sha256.Sum256([]byte(strings.ToLower(user)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// oauthErr writes an Entra OAuth error (HTTP 400) as Entra's error-code reference shows one
// (entra-docs, identity-platform/reference-error-codes.md; lcs/contract examples/entra-error.json):
// error, error_description ("AADSTSnnnnn: text", then Trace ID, Correlation ID and Timestamp on
// lines of their own), error_codes, timestamp, trace_id, correlation_id.
func oauthErr(w http.ResponseWriter, code string, aadsts int, desc string) {
	trace, corr := newID(), newID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, trace, corr, ts),
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
	})
}

func (s *Server) handleDeviceLoginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Sign in (LCS simulator)</title>
<form method="post"><p>Enter the code shown by cutover:</p><input name="user_code" value="%s"><button>Sign in</button></form>`,
		html.EscapeString(r.URL.Query().Get("code")))
}

func (s *Server) handleDeviceLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if err := s.ApproveDeviceCode(r.PostForm.Get("user_code")); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Signed in to the LCS simulator. You can close this window and return to cutover.")
}

// count records a request to an endpoint.
func (s *Server) count(e Endpoint) {
	s.mu.Lock()
	s.st.stats.requests[e]++
	s.mu.Unlock()
}

// randomToken is an opaque token: prefix, a dot and n random bytes in base64url.
func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + "." + base64.RawURLEncoding.EncodeToString(b)
}

// userCode is a device user code like Entra's: nine upper-case letters and digits.
func userCode() string {
	const alphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and numbers are marshalled
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sharedAuthority reports whether tenant is a tenant-independent authority ("common",
// "organizations", "consumers").
func sharedAuthority(tenant string) bool {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// tenantAccepts checks the authority a sign-in came to, answering as Entra does when it refuses:
// the app registration Microsoft documents for LCS is single-tenant ("Accounts in this
// organizational directory only", the default: database/api/dbmovement-api-authentication.md),
// and Entra refuses a single-tenant app at a shared authority with AADSTS50194
// (entra-docs, identity-platform/reference-error-codes.md) unless Options.MultiTenantApp. A
// tenant that is neither the simulator's id nor one of its users' domains is not found
// (AADSTS90002).
func (s *Server) tenantAccepts(w http.ResponseWriter, tenant, client string) bool {
	switch {
	case sharedAuthority(tenant):
		if s.opts.MultiTenantApp {
			return true
		}
		oauthErr(w, "invalid_request", 50194, fmt.Sprintf("Application '%s'(cutover) isn't configured as a multitenant application. Usage of the /%s endpoint isn't supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multitenant.", client, tenant))
		return false
	case strings.EqualFold(tenant, s.opts.TenantID):
		return true
	}
	for u := range s.opts.Users {
		if i := strings.LastIndexByte(u, '@'); i >= 0 && strings.EqualFold(u[i+1:], tenant) {
			return true
		}
	}
	oauthErr(w, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	return false
}
