package adapter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/runbook"
	"cutover/lcs"
)

// LCSClient builds the LCS client for the runbook's lcs section; prompts (device code) go to out.
func LCSClient(rb *runbook.Runbook, stateDir string, httpClient *http.Client, clk lcs.Clock, out io.Writer) (*lcs.Client, error) {
	l := rb.LCS
	mode, err := lcs.ParseAuthMode(strings.TrimSuffix(string(l.Auth), "-env"))
	if err != nil {
		return nil, err
	}
	auth := lcs.Auth{Mode: mode, TenantID: l.TenantID, ClientID: l.ClientID, Username: l.Username, CacheDir: stateDir,
		TokenEnv: l.TokenEnv, Authority: l.AuthorityURL, DisableInstanceDiscovery: l.AuthorityURL != "",
		OnDeviceCode: func(p lcs.DeviceCodePrompt) { fmt.Fprintf(out, "LCS sign-in: %s\n", p.Message) }}
	if auth.Password, err = Secret(rb.Dir, l.PasswordEnv, l.PasswordFile); err != nil {
		return nil, fmt.Errorf("lcs password: %w", err)
	}
	if auth.ClientSecret, err = Secret(rb.Dir, l.ClientSecretEnv, l.ClientSecretFile); err != nil {
		return nil, fmt.Errorf("lcs client secret: %w", err)
	}
	if httpClient == nil && l.Certificate != "" {
		if httpClient, err = Trusting(rb.Dir, l.Certificate); err != nil {
			return nil, err
		}
	}
	// What the operator should see (throttling waits, warnings) goes to out as one plain line.
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		}}))
	return lcs.NewClient(lcs.Config{Region: l.Region, BaseURL: l.BaseURL, ProjectID: l.ProjectID, Auth: auth, HTTPClient: httpClient, Clock: clk, Logger: logger})
}

// LCSClock runs the LCS client on the engine's clock (the demo's scaled time).
type LCSClock struct{ C clock.Clock }

func (l LCSClock) Now() time.Time { return l.C.Now() }

func (l LCSClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, l.C, d) }

// Trusting is an HTTP client that trusts the system's CAs plus the certificate in file.
func Trusting(dir, file string) (*http.Client, error) {
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("lcs certificate: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lcs certificate: %s holds no PEM certificate", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// LCSPort adapts the LCS client to the engine's LCS port.
type LCSPort struct{ C *lcs.Client }

func (p LCSPort) Environment(ctx context.Context, env string) (engine.LCSEnvironment, error) {
	e, err := p.C.Environment(ctx, env)
	if err != nil {
		return engine.LCSEnvironment{}, err
	}
	return engine.LCSEnvironment{ID: e.ID, Name: e.Name, Type: string(e.Type), State: string(e.DeploymentStatus),
		Infrastructure: e.Infrastructure, ApplicationRelease: e.ApplicationReleaseName, ApplicationBuild: e.ApplicationBuildVersion,
		PlatformRelease: e.PlatformReleaseName, PlatformVersion: e.PlatformVersion, Topology: e.TopologyDisplayName,
		Location: e.CloudStorageLocation, EndpointBaseURL: e.EndpointBaseURL, Unread: append([]string(nil), e.Notes...)}, nil
}

func (p LCSPort) StartRefresh(ctx context.Context, source, target string) (string, error) {
	op, err := p.C.RefreshDatabase(ctx, source, target)
	if errors.Is(err, lcs.ErrOutcomeUnknown) {
		return "", fmt.Errorf("%w: %w", engine.ErrOutcomeUnknown, err)
	}
	return lcs.NormalizeID(op.ActivityID), err
}

// lcsOperation is an operation for the engine. Its activity id is written one way
// (lcs.NormalizeID: the history shows ids undashed where the refresh's answer and the status
// endpoint show them dashed), so the engine finds an operation it journaled in the history, and
// asks for its status with the dashed id the get-status document shows.
func lcsOperation(id, name, typ string, status lcs.OperationStatus, start, end time.Time) engine.LCSOperation {
	return engine.LCSOperation{ActivityID: lcs.NormalizeID(id), Name: name, Type: typ, Status: string(status), Terminal: status.IsTerminal(),
		Succeeded: status.Succeeded(), Started: start, Ended: end}
}

func (p LCSPort) Operation(ctx context.Context, env, activity string) (engine.LCSOperation, error) {
	r, err := p.C.OperationStatus(ctx, env, activity)
	if err != nil {
		return engine.LCSOperation{}, err
	}
	return lcsOperation(r.ActivityID, "", "", r.Status, time.Time{}, r.CompletionDate), nil
}

func (p LCSPort) History(ctx context.Context, env string) ([]engine.LCSOperation, error) {
	h, err := p.C.EnvironmentHistory(ctx, env)
	out := make([]engine.LCSOperation, 0, len(h))
	for _, e := range h {
		out = append(out, lcsOperation(e.ActivityID, e.Name, e.Type+" "+e.TypeDisplay, e.Status, e.Start, e.End))
	}
	return out, err
}

func (p LCSPort) Quota(ctx context.Context, env string) (engine.LCSQuota, error) {
	q, err := p.C.DatabaseMovementQuota(ctx, env)
	out := engine.LCSQuota{Used: q.Used, Remaining: q.Remaining, NextSlot: q.NextSlot}
	for _, h := range q.Counted {
		out.Leaves = append(out.Leaves, h.Start.Add(q.Window))
	}
	return out, err
}

// LCSTokens adapts the LCS client's Entra ID sign-in to the engine's Tokens port.
type LCSTokens struct{ C *lcs.Client }

// Token asks for the resource's default scope.
func (p LCSTokens) Token(ctx context.Context, resource string) (string, error) {
	return p.C.Token(ctx, strings.TrimRight(resource, "/")+"/.default")
}
