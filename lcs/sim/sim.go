// Package sim is a simulated Lifecycle Services: the LCS REST endpoints cutover uses (database
// refresh and export, backups, operation status, environment metadata and history, deployment
// status) and a fake Entra ID authority that MSAL for Go signs in against (OpenID discovery,
// instance discovery, user realm, device code and token endpoints), served over TLS with a
// self-signed certificate generated at start, or kept in a directory across restarts
// (Options.CertDir).
//
// State lives on an injectable clock: tokens expire after a TTL, database operations progress
// NotStarted → InProgress → Completed (or Failed, or a rollback) with configurable durations,
// the 3-per-24-hours database movement limit and the per-minute metadata and history quotas are
// enforced as LCS does. Faults (5xx, IsSuccess false, 429, 401, lost responses, latency, token
// expiry, a VersionEOL date) are switched on by methods, and counters record what clients did.
//
// Point an lcs.Client at it with Config.BaseURL = s.URL(), Auth.Authority = s.Authority(""),
// Auth.DisableInstanceDiscovery = true and Config.HTTPClient = s.HTTPClient().
package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Clock is the simulator's notion of time.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// SandboxStateSource supplies the upgrade sandbox's toolkit-driven deployment state (e.g. the
// SQL simulator's data upgrade). SandboxState returns a DeploymentStatusDisplay such as
// "Data upgrade in progress"; "" means "use the state set with SetSandboxState".
type SandboxStateSource interface {
	SandboxState() string
}

// Defaults of the simulated tenant and project.
const (
	DefaultProjectID    = "1234567"
	DefaultTenantID     = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	DefaultUser         = "cutover.admin@contoso.example"
	DefaultPassword     = "Sim-Passw0rd!"
	DefaultClientID     = "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a"
	DefaultClientSecret = "sim-client-secret-value"
	// PasswordEnv is the environment variable the runbooks for the simulator read the simulated
	// user's password from (password_env).
	PasswordEnv = "CUTOVER_SIM_LCS_PASSWORD"

	SandboxID      = "5a1f8a4e-2b7c-4d8e-9f10-1a2b3c4d5e6f" // the upgrade sandbox (CONTOSO-UPGRADE)
	ProductionID   = "7c3e9b2d-4f6a-4b8c-9d0e-2f3a4b5c6d7e" // production (CONTOSO-PROD)
	UATSandboxID   = "8e4f0c3a-5a7b-4c9d-8e1f-3a4b5c6d7e8f" // a second sandbox (CONTOSO-UAT)
	SandboxName    = "CONTOSO-UPGRADE"
	ProductionName = "CONTOSO-PROD"
	UATSandboxName = "CONTOSO-UAT"
)

// Toolkit-driven deployment states of the upgrade sandbox, spelled as
// migration-upgrade/data-upgrade-self-service.md prints them in its steps.
const (
	StateDeployed              = "Deployed"
	StateReadyForReplication   = "Ready for replication"
	StateReplicationInProgress = "Replication in progress"
	StateReplicationCompleted  = "Replication completed"
	StateDataUpgradeInProgress = "Data upgrade in progress"
	StateFailed                = "Failed"
	StateReplicated            = "Replicated"
)

// Options configures a simulator; zero values take the defaults in brackets.
type Options struct {
	Clock     Clock  // [wall clock]
	ProjectID string // [DefaultProjectID]
	TenantID  string // the tenant id in issued tokens [DefaultTenantID]
	// Users maps usernames to passwords [DefaultUser: DefaultPassword]. Device-code approvals sign
	// in as the first user in sorted order unless ApproveDeviceCodeAs names another.
	Users map[string]string
	// ClientSecret is the secret confidential clients must send [DefaultClientSecret].
	ClientSecret string
	// RequireClientSecret makes password sign-in without a secret fail with AADSTS7000218, as in
	// tenants where the app has no "Allow public client flows".
	RequireClientSecret bool
	// RequireMFA makes password sign-in fail with AADSTS50076 (MFA required).
	RequireMFA bool
	// MultiTenantApp makes the app registration multi-tenant, so sign-ins at the shared
	// authorities (organizations, common) work. By default it is single-tenant, as the
	// registration Microsoft documents for LCS, and Entra refuses those with AADSTS50194.
	MultiTenantApp bool
	// TokenTTL is the access token lifetime on the sim clock [1h].
	TokenTTL time.Duration
	// RefreshTokenTTL is the refresh token lifetime on the sim clock [90 days, Entra's default
	// inactivity lifetime].
	RefreshTokenTTL time.Duration
	// DeviceCodeTTL is how long a device code can be approved [15m].
	DeviceCodeTTL time.Duration
	// AutoApproveDeviceCodes approves every device code as soon as it is issued.
	AutoApproveDeviceCodes bool
	// SlowDownPolls makes the first n token polls of every device code answer slow_down.
	SlowDownPolls int
	// QueueTime is how long a database operation stays NotStarted [1m].
	QueueTime time.Duration
	// RefreshDuration, ExportDuration, RollbackDuration, DeploymentDuration are how long those
	// operations stay in progress [2h, 1h, 30m, 1h].
	RefreshDuration, ExportDuration, RollbackDuration, DeploymentDuration time.Duration
	// PageSize is the page size of metadata and history [2].
	PageSize int
	// DisableQuotas turns off the per-minute metadata and history quotas (429s).
	DisableQuotas bool
	// ErrorLog receives the HTTP server's own errors (TLS handshakes refused by clients that do
	// not trust the certificate, …); nil discards them.
	ErrorLog *log.Logger
	// CertDir, when set, keeps the certificate (CertFileName) and its key (KeyFileName) there:
	// Start reuses them while they serve, so a client that trusts the certificate once (an
	// engine that read it at its start) keeps trusting the simulator across restarts. [none: a
	// new certificate at every start]
	CertDir string
}

// Server is the simulator. It is an http.Handler; Start serves it over TLS.
type Server struct {
	opts  Options
	clock Clock
	mux   *http.ServeMux

	mu sync.Mutex
	st state

	srvMu   sync.Mutex
	srv     *http.Server
	url     string
	cert    *x509.Certificate
	certPEM []byte
	pool    *x509.CertPool
}

// New returns a simulator with the default project: an upgrade sandbox, a second sandbox and a
// production environment, each with some history.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.ProjectID == "" {
		opts.ProjectID = DefaultProjectID
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if len(opts.Users) == 0 {
		opts.Users = map[string]string{DefaultUser: DefaultPassword}
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	opts.TokenTTL = orDur(opts.TokenTTL, time.Hour)
	opts.RefreshTokenTTL = orDur(opts.RefreshTokenTTL, 90*24*time.Hour)
	opts.DeviceCodeTTL = orDur(opts.DeviceCodeTTL, 15*time.Minute)
	opts.QueueTime = orDur(opts.QueueTime, time.Minute)
	opts.RefreshDuration = orDur(opts.RefreshDuration, 2*time.Hour)
	opts.ExportDuration = orDur(opts.ExportDuration, time.Hour)
	opts.RollbackDuration = orDur(opts.RollbackDuration, 30*time.Minute)
	opts.DeploymentDuration = orDur(opts.DeploymentDuration, time.Hour)
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.New(io.Discard, "", 0)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 2
	}
	s := &Server{opts: opts, clock: opts.Clock}
	s.st = newState(opts, s.clock.Now())
	s.routes()
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ServeHTTP serves the LCS API, the fake Entra ID authority and the environments' finance and
// operations fronts (under /fno/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, fnoPrefix) {
		s.serveFnO(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Start serves the simulator over TLS on addr (e.g. "127.0.0.1:18080", or ":0" for any port),
// with a self-signed certificate for localhost, 127.0.0.1 and ::1 (and the host of addr),
// generated now or kept in Options.CertDir, and returns its base URL (https://host:port).
// Nothing is written when the address cannot be listened on.
func (s *Server) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("sim: already started")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("sim: listen address %q: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sim: listen: %w", err)
	}
	var cert tls.Certificate
	var der []byte
	if s.opts.CertDir != "" {
		cert, der, err = loadOrCreateCert(s.opts.CertDir, host, time.Now())
	} else {
		cert, der, err = selfSigned(host, time.Now(), 30*24*time.Hour)
	}
	if err != nil {
		_ = ln.Close()
		return "", fmt.Errorf("sim: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		_ = ln.Close()
		return "", fmt.Errorf("sim: certificate: %w", err)
	}
	s.cert = leaf
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.pool = x509.NewCertPool()
	s.pool.AddCert(leaf)
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          s.opts.ErrorLog,
	}
	s.url = "https://" + urlHost(ln.Addr().(*net.TCPAddr), host)
	srv := s.srv
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return s.url, nil
}

// urlHost is host:port for the URL: the name or address asked for, or 127.0.0.1 when the
// listener is on all interfaces.
func urlHost(a *net.TCPAddr, asked string) string {
	h := asked
	if ip := net.ParseIP(asked); asked == "" || (ip != nil && ip.IsUnspecified()) {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, fmt.Sprint(a.Port))
}

// Close stops serving at once, closing open connections.
func (s *Server) Close() error {
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Shutdown stops serving gracefully, waiting for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// URL is the base URL after Start ("" before).
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.url
}

// Authority is the Entra ID authority URL for MSAL: URL()/tenant, where tenant "" means the
// simulator's own tenant id (Options.TenantID). The shared authorities ("organizations",
// "common") refuse the single-tenant app unless Options.MultiTenantApp.
func (s *Server) Authority(tenant string) string {
	if tenant == "" {
		tenant = s.opts.TenantID
	}
	return s.URL() + "/" + tenant
}

// CertPool holds the simulator's certificate, for clients that must trust it (nil before Start).
func (s *Server) CertPool() *x509.CertPool {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.pool
}

// CertPEM is the simulator's certificate in PEM, for writing next to `cutover sim`.
func (s *Server) CertPEM() []byte {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return append([]byte(nil), s.certPEM...)
}

// HTTPClient is an HTTP client that trusts the simulator's certificate (and only that).
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		Proxy:             nil,
	}}
}

// selfSigned makes an ECDSA P-256 certificate valid from an hour before now for valid, for
// localhost, 127.0.0.1, ::1 and host.
func selfSigned(host string, now time.Time, valid time.Duration) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cutover LCS simulator", Organization: []string{"cutover"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(valid),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, nil
}

// routes registers every endpoint.
func (s *Server) routes() {
	m := http.NewServeMux()
	// LCS API
	m.HandleFunc("POST /databasemovement/v1/refresh/project/{project}/source/{source}/target/{target}", s.api(EndpointRefresh, s.handleRefresh))
	m.HandleFunc("POST /databasemovement/v1/export/project/{project}/environment/{env}/backupName/{name}", s.api(EndpointExport, s.handleExport))
	m.HandleFunc("GET /databasemovement/v1/databases/project/{project}", s.api(EndpointBackups, s.handleBackups))
	m.HandleFunc("GET /databasemovement/v1/fetchstatus/project/{project}/environment/{env}/operationactivity/{activity}", s.api(EndpointStatus, s.handleStatus))
	m.HandleFunc("GET /environmentinfo/v1/detail/project/{project}", s.api(EndpointMetadata, s.handleMetadata))
	m.HandleFunc("GET /environmentinfo/v1/detail/project/{project}/{$}", s.api(EndpointMetadata, s.handleMetadata))
	m.HandleFunc("GET /environmentinfo/v1/history/project/{project}/environment/{env}", s.api(EndpointHistory, s.handleHistory))
	m.HandleFunc("GET /environmentinfo/v1/history/project/{project}/environment/{env}/{$}", s.api(EndpointHistory, s.handleHistory))
	m.HandleFunc("GET /environment/v2/fetchstatus/project/{project}/environment/{env}/operationactivity/{activity}", s.api(EndpointDeploymentStatus, s.handleDeploymentStatus))
	// Entra ID
	m.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleOpenID)
	m.HandleFunc("GET /common/discovery/instance", s.handleInstanceDiscovery)
	m.HandleFunc("GET /common/UserRealm/{user}", s.handleUserRealm)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.handleDeviceCode)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	m.HandleFunc("GET /devicelogin", s.handleDeviceLoginPage)
	m.HandleFunc("POST /devicelogin", s.handleDeviceLogin)
	s.mux = m
}
