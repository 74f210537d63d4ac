package lcs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// APIVersion is the value of the x-ms-version header LCS documents as required.
const APIVersion = "2017-09-15"

// Documented LCS rate limits the client keeps under ("Rate limits" in
// lifecycle-services/api/v1/reference-environment-metadata.md and reference-environment-history.md).
const (
	metadataPerMinute    = 6 // environment metadata: 6 per project per minute
	historyPerProjectMin = 6 // environment history: 6 per project per minute …
	historyPerEnv30s     = 6 // … and 6 per environment per 30 seconds
)

// Config configures a Client. Only ProjectID, one of Region and BaseURL, and Auth are required.
type Config struct {
	// Region is a region name from RegionNames (e.g. "eu"); it picks the API and sign-in hosts.
	Region string
	// BaseURL overrides the API base URL (the simulator); its sign-in host is the public cloud's
	// unless Auth.Authority says otherwise.
	BaseURL string
	// ProjectID is the LCS project id.
	ProjectID string
	// Auth says how to sign in.
	Auth Auth
	// HTTPClient carries every request, to LCS and to Entra ID; nil means a client with default
	// settings. To trust the simulator's certificate, give a client whose transport trusts it.
	HTTPClient *http.Client
	// Clock measures and waits; nil means the wall clock.
	Clock Clock
	// Logger receives debug lines (one per request: method, path, status, attempt, request id)
	// and warnings; nil discards them. It never receives a token, password or secret.
	Logger *slog.Logger
	// OnWarning receives warnings as they happen (VersionEOL, unreadable values, …); nil sends them
	// to Logger only.
	OnWarning func(Warning)

	// RequestTimeout bounds one HTTP attempt (default 2 minutes).
	RequestTimeout time.Duration
	// MaxThrottleRetries is how many 429 answers one call waits out (default 6).
	MaxThrottleRetries int
	// MaxRetryAfter is the longest Retry-After the client waits; longer asks fail with
	// ErrThrottled and the time to come back (default 5 minutes).
	MaxRetryAfter time.Duration
	// MaxAttempts bounds attempts of a read after 5xx answers or connection failures (default 4).
	MaxAttempts int
	// BackoffBase is the first back-off after a 5xx on a read; it doubles each time (default 2s),
	// up to BackoffMax (default 30s).
	BackoffBase, BackoffMax time.Duration
	// RefreshBefore is how long before expiry a token is refreshed (default 5 minutes).
	RefreshBefore time.Duration
	// DatabaseMovementTypes are the history types (or type display names) counted toward the
	// 3-per-24-hours limit; nil means DefaultDatabaseMovementTypes().
	DatabaseMovementTypes []string
}

// WarningKind classifies a Warning.
type WarningKind int

// Warning kinds.
const (
	// WarnVersionEOL: LCS announced the end of life of the API version the client uses.
	WarnVersionEOL WarningKind = iota + 1
	// WarnTokenRefresh: a token could not be refreshed ahead of its expiry.
	WarnTokenRefresh
	// WarnTokenCache: the token cache could not be used.
	WarnTokenCache
	// WarnUnknownStatus: LCS reported an operation status the client does not know.
	WarnUnknownStatus
	// WarnPollFailed: a status poll failed and will be retried.
	WarnPollFailed
	// WarnUnreadable: a value in an answer could not be read; it is left empty, the rest is used.
	WarnUnreadable
)

// Warning is something the operator should know that does not fail the call.
type Warning struct {
	Kind WarningKind
	// API names the call concerned, e.g. "refresh database".
	API     string
	Message string
}

// Client is an LCS API client for one project. It is safe for concurrent use.
type Client struct {
	base      string
	project   string
	hc        *http.Client
	clock     Clock
	log       *slog.Logger
	onWarning func(Warning)
	auth      *authenticator
	types     []string

	reqTimeout    time.Duration
	maxThrottle   int
	maxRetryAfter time.Duration
	maxAttempts   int
	backoffBase   time.Duration
	backoffMax    time.Duration

	metadataLimit *window
	historyLimit  *window

	mu         sync.Mutex
	historyEnv map[string]*window
	eolWarned  map[endpoint]bool
	envs       map[string]Environment // metadata seen so far, by NormalizeID of the id
	warnedOnce map[string]bool
}

// NewClient checks cfg and prepares sign-in; it makes no network call.
func NewClient(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.ProjectID) == "" {
		return nil, errors.New("lcs: ProjectID is required (the number in the LCS project URL)")
	}
	base := cfg.BaseURL
	authorityHost := "https://login.microsoftonline.com"
	if cfg.Region != "" {
		b, ok := BaseURL(cfg.Region)
		if !ok {
			return nil, fmt.Errorf("lcs: unknown region %q: use one of %s", cfg.Region, strings.Join(RegionNames(), ", "))
		}
		authorityHost, _ = AuthorityHost(cfg.Region)
		if base == "" {
			base = b
		}
	}
	if base == "" {
		return nil, errors.New("lcs: a Region or a BaseURL is required")
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("lcs: base URL %q is not an http(s) URL", base)
	}
	c := &Client{
		base:          strings.TrimRight(base, "/"),
		project:       strings.TrimSpace(cfg.ProjectID),
		hc:            cfg.HTTPClient,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		onWarning:     cfg.OnWarning,
		types:         cfg.DatabaseMovementTypes,
		reqTimeout:    orDuration(cfg.RequestTimeout, 2*time.Minute),
		maxThrottle:   orInt(cfg.MaxThrottleRetries, 6),
		maxRetryAfter: orDuration(cfg.MaxRetryAfter, 5*time.Minute),
		maxAttempts:   orInt(cfg.MaxAttempts, 4),
		backoffBase:   orDuration(cfg.BackoffBase, 2*time.Second),
		backoffMax:    orDuration(cfg.BackoffMax, 30*time.Second),
		metadataLimit: newWindow(metadataPerMinute, time.Minute),
		historyLimit:  newWindow(historyPerProjectMin, time.Minute),
		historyEnv:    map[string]*window{},
		eolWarned:     map[endpoint]bool{},
		envs:          map[string]Environment{},
		warnedOnce:    map[string]bool{},
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.clock == nil {
		c.clock = RealClock()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.types == nil {
		c.types = DefaultDatabaseMovementTypes()
	}
	a, err := newAuthenticator(cfg.Auth, c.base, authorityHost, c.hc, c.clock, c.log, c.warn, orDuration(cfg.RefreshBefore, 5*time.Minute))
	if err != nil {
		return nil, err
	}
	c.auth = a
	return c, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// ProjectID is the project the client works on.
func (c *Client) ProjectID() string { return c.project }

// BaseURL is the API base URL the client calls.
func (c *Client) BaseURL() string { return c.base }

// SignIn makes sure the client holds a token, signing in now (showing the device code, if that is
// the mode) rather than at the first call. It returns the account name when known.
func (c *Client) SignIn(ctx context.Context) (string, error) {
	return c.auth.signIn(ctx)
}

// Token returns an access token for scope, a resource other than LCS (for instance
// "https://contoso.operations.dynamics.com/.default" to call a Finance and Operations
// environment), signed in with the same account and app registration as the LCS calls: silently
// once signed in, with a device-code prompt for that scope (through Auth.OnDeviceCode) only when
// Entra ID asks for one. Tokens are cached per scope and refreshed before they expire. With
// AuthStaticToken there is no sign-in to reuse and Token fails. The token is never logged.
func (c *Client) Token(ctx context.Context, scope string) (string, error) {
	return c.auth.tokenFor(ctx, scope)
}

func (c *Client) warn(w Warning) {
	c.log.Warn("lcs: "+w.Message, "api", w.API)
	if c.onWarning != nil {
		c.onWarning(w)
	}
}

// warnOnce emits w the first time key is seen.
func (c *Client) warnOnce(key string, w Warning) {
	c.mu.Lock()
	seen := c.warnedOnce[key]
	c.warnedOnce[key] = true
	c.mu.Unlock()
	if !seen {
		c.warn(w)
	}
}

// envLabel names an environment by name and id when the client has seen its metadata.
func (c *Client) envLabel(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.envs[NormalizeID(id)]; ok && e.Name != "" {
		return e.Name + " (" + id + ")"
	}
	if id == "" {
		return "the environment"
	}
	return id
}

func (c *Client) rememberEnvironments(envs []Environment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range envs {
		if e.ID != "" {
			c.envs[NormalizeID(e.ID)] = e
		}
	}
}

func (c *Client) knownEnvironment(id string) (Environment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.envs[NormalizeID(id)]
	return e, ok
}
