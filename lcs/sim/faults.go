package sim

import (
	"maps"
	"time"
)

// Endpoint names a simulated endpoint, for the request counters.
type Endpoint string

// The simulated endpoints.
const (
	EndpointRefresh           Endpoint = "refresh"
	EndpointExport            Endpoint = "export"
	EndpointBackups           Endpoint = "backups"
	EndpointStatus            Endpoint = "status"
	EndpointMetadata          Endpoint = "metadata"
	EndpointHistory           Endpoint = "history"
	EndpointDeploymentStatus  Endpoint = "deployment-status"
	EndpointOpenID            Endpoint = "openid-configuration"
	EndpointInstanceDiscovery Endpoint = "instance-discovery"
	EndpointUserRealm         Endpoint = "user-realm"
	EndpointDeviceCode        Endpoint = "devicecode"
	EndpointToken             Endpoint = "token"
)

// faults are the runtime faults switched on by methods; each "next n" counter applies to LCS
// API requests (not to sign-in) in the order: 401, 429, 5xx, IsSuccess false, lost response.
type faults struct {
	unauthorized int
	throttle     int
	retryAfter   time.Duration
	fail         int
	failStatus   int
	reject       int
	rejectMsg    string
	lose         int
	latency      time.Duration
	versionEOL   time.Time
	// throttleEvery answers every nth API request with 429 (0: never); seen counts them.
	throttleEvery int
	throttleSeen  int
}

// counters record what clients did.
type counters struct {
	requests        map[Endpoint]int
	refreshes       map[string]int // started through the API or the portal, by target
	portalRefreshes map[string]int
	exports         map[string]int
	grants          map[string]int // tokens issued by grant type
	throttled       int
	unauthorized    int
	badHeaders      int
	deviceCodes     int
	lastScope       string
	frontRefused    int
}

func newCounters() counters {
	return counters{requests: map[Endpoint]int{}, refreshes: map[string]int{}, portalRefreshes: map[string]int{},
		exports: map[string]int{}, grants: map[string]int{}}
}

// Stats is a snapshot of the counters.
type Stats struct {
	// Requests counts requests per endpoint, faulted ones included.
	Requests map[Endpoint]int
	// RefreshesStarted counts refreshes started per target environment (API and portal).
	RefreshesStarted map[string]int
	// PortalRefreshes counts refreshes started with StartPortalRefresh per target.
	PortalRefreshes map[string]int
	// ExportsStarted counts exports started per environment.
	ExportsStarted map[string]int
	// TokensIssued counts tokens issued per grant type (device_code, password,
	// client_credentials, refresh_token).
	TokensIssued map[string]int
	// Throttled counts 429 answers, Unauthorized 401 answers.
	Throttled, Unauthorized int
	// BadHeaders counts API requests missing a documented header: x-ms-version 2017-09-15 (not
	// listed for export) or Content-Type application/json.
	BadHeaders int

	// DeviceCodes counts device codes issued.
	DeviceCodes int
	// LastScope is the scope of the last token request.
	LastScope string
	// FrontRefused counts requests the environments' fronts answered 401.
	FrontRefused int
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.st.stats
	return Stats{
		Requests: maps.Clone(c.requests), RefreshesStarted: maps.Clone(c.refreshes), PortalRefreshes: maps.Clone(c.portalRefreshes),
		ExportsStarted: maps.Clone(c.exports), TokensIssued: maps.Clone(c.grants),
		Throttled: c.throttled, Unauthorized: c.unauthorized, BadHeaders: c.badHeaders, DeviceCodes: c.deviceCodes, LastScope: c.lastScope, FrontRefused: c.frontRefused,
	}
}

// Requests is the number of requests an endpoint has received.
func (s *Server) Requests(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.stats.requests[e]
}

// RefreshesStarted is the number of refreshes started into an environment.
func (s *Server) RefreshesStarted(environmentID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.stats.refreshes[environmentID]
}

// UnauthorizedNext answers the next n API requests with 401, whatever their token.
func (s *Server) UnauthorizedNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.unauthorized = n
}

// ThrottleNext answers the next n API requests with 429 and Retry-After (whole seconds).
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.throttle, s.st.faults.retryAfter = n, retryAfter
}

// ThrottleEvery answers every nth API request with 429 and Retry-After from now on (0 stops
// it): a tenant sharing LCS's per-minute limits with other tools all night.
func (s *Server) ThrottleEvery(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.throttleEvery, s.st.faults.throttleSeen, s.st.faults.retryAfter = n, 0, retryAfter
}

// FailNext answers the next n API requests with an HTTP status (e.g. 503) before doing anything.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.fail, s.st.faults.failStatus = n, status
}

// RejectNext answers the next n API requests with HTTP 200, IsSuccess false and message.
func (s *Server) RejectNext(n int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.reject, s.st.faults.rejectMsg = n, message
}

// LoseNextResponses performs the next n API requests (a refresh is really started) and then
// answers 502 Bad Gateway, as when a proxy loses the answer.
func (s *Server) LoseNextResponses(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.lose = n
}

// SetLatency delays every API answer by d of real time (or until the client gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.latency = d
}

// SetVersionEOL puts t in every answer's VersionEOL (zero restores 9999-12-31T23:59:59.9999999).
func (s *Server) SetVersionEOL(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults.versionEOL = t
}

// ExpireTokens makes every access token issued so far expire now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for k, t := range s.st.auth.access {
		t.expires = now
		s.st.auth.access[k] = t
	}
}

// RevokeRefreshTokens makes every refresh token issued so far invalid (invalid_grant).
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.st.auth.refresh)
}

// quotaState holds the sliding windows of the per-minute quotas.
type quotaState struct {
	metadata       []time.Time            // per project, 6 per minute
	historyProject []time.Time            // per project, 6 per minute
	historyEnv     map[string][]time.Time // per environment, 6 per 30 s
}

func newQuotaState() quotaState { return quotaState{historyEnv: map[string][]time.Time{}} }

// roomIn prunes a sliding window and returns 0 when it has room for one more call, or how
// long until it has.
func roomIn(times *[]time.Time, limit int, per time.Duration, now time.Time) time.Duration {
	kept := (*times)[:0]
	for _, t := range *times {
		if t.After(now.Add(-per)) {
			kept = append(kept, t)
		}
	}
	*times = kept
	if len(kept) < limit {
		return 0
	}
	return kept[0].Add(per).Sub(now)
}

// admit checks the per-minute quotas of an endpoint and records the call when all have room;
// otherwise it returns the wait.
func (q *quotaState) admit(e Endpoint, env string, now time.Time) time.Duration {
	switch e {
	case EndpointMetadata:
		if d := roomIn(&q.metadata, 6, time.Minute, now); d > 0 {
			return d
		}
		q.metadata = append(q.metadata, now)
	case EndpointHistory:
		envTimes := q.historyEnv[env]
		d := max(roomIn(&q.historyProject, 6, time.Minute, now), roomIn(&envTimes, 6, 30*time.Second, now))
		if d > 0 {
			q.historyEnv[env] = envTimes
			return d
		}
		q.historyProject = append(q.historyProject, now)
		q.historyEnv[env] = append(envTimes, now)
	}
	return 0
}
