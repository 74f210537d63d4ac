package lcs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/internal/testclock"
	"cutover/lcs/sim"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a simulator on loopback TLS plus what a test needs to build clients against it.
type rig struct {
	t     *testing.T
	clock *testclock.Clock
	sim   *sim.Server
	url   string
	logs  *syncBuffer

	mu       sync.Mutex
	warnings []lcs.Warning
	prompts  []lcs.DeviceCodePrompt
	errs     []string // every error string a test saw, for the secrets check
}

func newRig(t *testing.T, opts sim.Options) *rig {
	t.Helper()
	r := &rig{t: t, clock: testclock.New(t0), logs: &syncBuffer{}}
	opts.Clock = r.clock
	r.sim = sim.New(opts)
	u, err := r.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sim: %v", err)
	}
	r.url = u
	t.Cleanup(func() { _ = r.sim.Close() })
	return r
}

// config is a client configuration pointed at the simulator: device-code sign-in whose prompt
// callback approves the code at once, a token cache in a temporary directory, the fake clock,
// and a logger capturing everything at debug level.
func (r *rig) config() lcs.Config {
	return lcs.Config{
		BaseURL:    r.url,
		ProjectID:  sim.DefaultProjectID,
		HTTPClient: r.sim.HTTPClient(),
		Clock:      r.clock,
		Logger:     slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnWarning: func(w lcs.Warning) {
			r.mu.Lock()
			r.warnings = append(r.warnings, w)
			r.mu.Unlock()
		},
		Auth: lcs.Auth{
			Mode:                     lcs.AuthDeviceCode,
			ClientID:                 sim.DefaultClientID,
			Authority:                r.sim.Authority(""),
			DisableInstanceDiscovery: true,
			CacheDir:                 r.t.TempDir(),
			OnDeviceCode: func(p lcs.DeviceCodePrompt) {
				r.mu.Lock()
				r.prompts = append(r.prompts, p)
				r.mu.Unlock()
				if err := r.sim.ApproveDeviceCode(p.UserCode); err != nil {
					r.t.Errorf("approve device code: %v", err)
				}
			},
		},
	}
}

func (r *rig) client(mod func(*lcs.Config)) *lcs.Client {
	r.t.Helper()
	cfg := r.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := lcs.NewClient(cfg)
	if err != nil {
		r.t.Fatalf("NewClient: %v", err)
	}
	return c
}

// saw records an error's text for the secrets check and returns the error.
func (r *rig) saw(err error) error {
	if err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, err.Error())
		r.mu.Unlock()
	}
	return err
}

func (r *rig) warningsOf(kind lcs.WarningKind) []lcs.Warning {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []lcs.Warning
	for _, w := range r.warnings {
		if w.Kind == kind {
			out = append(out, w)
		}
	}
	return out
}

func (r *rig) promptCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.prompts)
}

// ctx is a test context with a real-time safety deadline.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// apiErr asserts err is an *APIError matching kind.
func apiErr(t *testing.T, err, kind error) *lcs.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q does not match %v", err, kind)
	}
	var ae *lcs.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %q is %T, not *lcs.APIError", err, err)
	}
	return ae
}
