package web_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	"cutover/tui"
	"cutover/tui/web"
)

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

var ana = engine.Actor{Name: "ana", Origin: "test", Role: engine.RoleOperator}

// The secrets of the test world: none may ever be served.
var secrets = map[string]string{"SRC_PW": "src-Pa55word!", "TGT_PW": "tgt-Pa55word!", "HOOK": "https://hooks.example.com/services/T0/B0/s3cr3t"}

const testRunbook = `name: Contoso go-live
environment: PROD (Contoso Finance)
connections:
  source: {server: 'AXSQL01.contoso.local\AX', database: AX, user: cutover, password_env: SRC_PW}
  target: {server: contoso-sandbox.database.windows.net, database: AXDB, user: cutover, password_env: TGT_PW}
notify: {targets: [{name: ops, type: generic, url_env: HOOK}]}
http: {private: [Contoso]}
downtime: {budget: 4h, begins_with: stop, point_of_no_return: refresh, rollback_point: backup}
steps:
  - {id: prep, title: Prepare the night, phase: Before downtime, kind: manual, planned: 30m}
  - {id: stop, title: Stop the AOS on AXSQL01.contoso.local, phase: Shutdown, kind: manual, after: prep, planned: 15m}
  - {id: backup, title: Rollback backup, phase: Shutdown, kind: manual, after: stop, planned: 1h}
  - {id: refresh, title: Refresh production, phase: Refresh, kind: manual, after: backup, planned: 2h}
`

type world struct {
	t     *testing.T
	clk   *clock.Fake
	rb    *runbook.Runbook
	e     *engine.Engine
	srv   *web.Server
	dir   string
	token string
	base  string
}

func lookup(k string) (string, bool) { v, ok := secrets[k]; return v, ok }

// newWorld runs an engine on the test runbook with the web server in front of it.
func newWorld(t *testing.T, opts web.Options) *world {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(testRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, clk: clock.NewFake(t0), rb: rb, dir: filepath.Join(dir, "state")}
	e, err := engine.New(rb, engine.Options{StateDir: w.dir, Clock: w.clk, Kinds: reg, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w.e = e
	tok, created, err := web.LoadOrCreateToken(w.dir)
	if err != nil || !created {
		t.Fatalf("token: %v (created %v)", err, created)
	}
	w.token = tok
	opts.Addr, opts.StateDir, opts.Token, opts.Private = "127.0.0.1:0", w.dir, tok, rb.PrivateWords(lookup)
	if opts.MinInterval == 0 {
		opts.MinInterval = -1
	}
	srv, err := web.New(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	w.srv, w.base = srv, strings.TrimSuffix(srv.URL(), "/")
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
		if err := e.Stop("test"); err != nil {
			t.Error(err)
		}
	})
	return w
}

// waitState waits for a step's state through the engine's events.
func (w *world) waitState(step string, want engine.StepState) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	snap, events := w.e.Subscribe(ctx)
	if st, _ := snap.Step(step); st.State == want {
		return
	}
	for ev := range events {
		if sc, ok := ev.(engine.StepChanged); ok && sc.Step.ID == step && sc.Step.State == want {
			return
		}
	}
	w.t.Fatalf("step %s never became %s", step, want)
}

func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, firstEvent(t, resp.Body)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// firstEvent reads a stream up to its first view.
func firstEvent(t *testing.T, r io.Reader) string {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	var b strings.Builder
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(b.String(), "event: view") {
			return b.String()
		}
	}
	return b.String()
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
}

// Without the token every address answers 401; with it (bearer, link then cookie) the page, its
// state, its stream and /metrics answer; a revoked token is refused at once, open pages included.
func TestAccessNeedsTheToken(t *testing.T) {
	w := newWorld(t, web.Options{Tick: 20 * time.Millisecond})
	c := noRedirect()
	for _, p := range []string{"/", "/state", "/events", "/metrics", "/?token=wrong", "/metrics?token=" + strings.Repeat("A", 43)} {
		resp, body := get(t, c, w.base+p)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without the token: %d %q", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "Contoso") || strings.Contains(body, "Stop the AOS") {
			t.Errorf("%s leaked the run to a stranger: %q", p, body)
		}
	}
	if resp, _ := get(t, c, w.base+"/metrics", "Authorization", "Bearer "+w.token); resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics with the bearer token: %d", resp.StatusCode)
	}
	// The link: the token is exchanged for a session cookie and leaves the address.
	resp, _ := get(t, c, w.base+"/?token="+w.token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("the link: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		cookie = ck
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || strings.Contains(cookie.Value, w.token) {
		t.Fatalf("session cookie: %+v", cookie)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, page := get(t, browser, w.base+"/?token="+w.token)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<title>cutover status</title>") {
		t.Fatalf("the page through the link: %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("content security policy: %q", csp)
	}
	if resp, body := get(t, browser, w.base+"/state"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"phase":"Before downtime"`) {
		t.Errorf("/state with the cookie: %d %s", resp.StatusCode, body)
	}
	// An open page, then the token is revoked: the stream says so and ends; the cookie is dead.
	req, _ := http.NewRequest(http.MethodGet, w.base+"/events", nil)
	stream, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if ev := firstEvent(t, stream.Body); !strings.Contains(ev, "event: view") {
		t.Fatalf("the stream's first event: %q", ev)
	}
	newTok, err := web.RevokeToken(w.dir)
	if err != nil || newTok == w.token {
		t.Fatalf("revoke: %v", err)
	}
	rest, _ := io.ReadAll(stream.Body)
	if !strings.Contains(string(rest), "event: revoked") {
		t.Errorf("the open stream did not end with the revocation: %q", rest)
	}
	for _, cl := range []struct {
		c      *http.Client
		header []string
	}{{browser, nil}, {c, []string{"Authorization", "Bearer " + w.token}}} {
		if resp, _ := get(t, cl.c, w.base+"/state", cl.header...); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after the revocation: %d", resp.StatusCode)
		}
	}
	if resp, _ := get(t, c, w.base+"/state", "Authorization", "Bearer "+newTok); resp.StatusCode != http.StatusOK {
		t.Errorf("the new token: %d", resp.StatusCode)
	}
	fi, err := os.Stat(filepath.Join(w.dir, web.TokenFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", fi.Mode(), err)
	}
}

// Nothing on the page or /metrics can change the run: every method but GET and HEAD is refused,
// with or without the token, and the journal does not move.
func TestNothingChangesTheRun(t *testing.T) {
	w := newWorld(t, web.Options{})
	// The engine journals the first step's start on its own after Start: the run is still from then.
	w.waitState("prep", engine.StateRunning)
	before := w.e.Snapshot().Seq
	c := noRedirect()
	for _, p := range []string{"/", "/state", "/events", "/metrics", "/step/prep/done", "/confirm"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			req, _ := http.NewRequest(m, w.base+p+"?token="+w.token, strings.NewReader(`{"step":"prep","phrase":"prep"}`))
			req.Header.Set("Authorization", "Bearer "+w.token)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d", m, p, resp.StatusCode)
			}
		}
		if resp, _ := get(t, c, w.base+p, "Authorization", "Bearer "+w.token); p != "/" && p != "/state" && p != "/events" && p != "/metrics" && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	if after := w.e.Snapshot().Seq; after != before {
		t.Errorf("the journal moved from %d to %d", before, after)
	}
	c2, err := journal.Read(filepath.Join(w.dir, journal.FileName))
	if err != nil || c2.Seq != before {
		t.Errorf("journal: %v, %d records", err, c2.Seq)
	}
}

// Every byte a viewer is served — the page, its state, its stream, /metrics — is free of the
// runbook's secrets, its host names, its private words and the token itself.
func TestNoSecretInTheServedBytes(t *testing.T) {
	w := newWorld(t, web.Options{})
	if _, err := w.e.MarkDone("prep", ana, "ready on AXSQL01.contoso.local", ""); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	var served strings.Builder
	for _, p := range []string{"/?token=" + w.token, "/state", "/events", "/metrics"} {
		resp, body := get(t, c, w.base+p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		for k, vs := range resp.Header {
			served.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		served.WriteString(body)
	}
	out := served.String()
	if !strings.Contains(out, "Stop the AOS on •••") || !strings.Contains(out, "••• go-live") {
		t.Fatalf("the private words were not replaced where they appear: %.2000s", out)
	}
	for _, s := range []string{secrets["SRC_PW"], secrets["TGT_PW"], secrets["HOOK"], "AXSQL01", "contoso-sandbox", "Contoso", w.token} {
		if strings.Contains(out, s) {
			t.Errorf("served %q", s)
		}
	}
}

var metricName = regexp.MustCompile(`^cutover_[a-z][a-z0-9_]*$`)

// /metrics parses with Prometheus's own text parser, its names follow the conventions, and the
// run's figures are there.
func TestMetricsParse(t *testing.T) {
	w := newWorld(t, web.Options{})
	if _, err := w.e.MarkDone("prep", ana, "ok", ""); err != nil {
		t.Fatal(err)
	}
	w.waitState("stop", engine.StateRunning)
	w.clk.Advance(20 * time.Minute)
	families := scrape(t, w.base, w.token)
	for name, f := range families {
		if !metricName.MatchString(name) || strings.HasSuffix(name, "_total") && f.GetType().String() != "COUNTER" {
			t.Errorf("metric name %q breaks the conventions", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	want := map[string]float64{"cutover_downtime_budget_seconds": 4 * 3600, "cutover_downtime_used_seconds": 20 * 60, "cutover_confirmations_awaited": 0,
		"cutover_point_of_no_return_passed": 0}
	for name, v := range want {
		f, ok := families[name]
		if !ok || len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != v {
			t.Errorf("%s: %v, want %v", name, f, v)
		}
	}
	running := 0.0
	for _, m := range families["cutover_step_state"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["step"] == "stop" && labels["state"] == "running" {
			running = m.GetGauge().GetValue()
		}
	}
	if running != 1 {
		t.Error("cutover_step_state{step=stop,state=running} is not 1")
	}
}

func scrape(t *testing.T, base, token string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, http.DefaultClient, base+"/metrics", "Authorization", "Bearer "+token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the Prometheus text parser refuses /metrics: %v\n%s", err, body)
	}
	return families
}

// fakeEngine is the engine as the web layer sees it, with a replication picture of any size.
type fakeEngine struct {
	snap engine.Snapshot
	repl *engine.ReplicationView
}

func (f *fakeEngine) Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event) {
	ch := make(chan engine.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return f.snap, ch
}
func (f *fakeEngine) Snapshot() engine.Snapshot            { return f.snap }
func (f *fakeEngine) Replication() *engine.ReplicationView { return f.repl }
func (f *fakeEngine) Validation() *engine.Validation       { return nil }
func (f *fakeEngine) Now() time.Time                       { return t0 }

// bigPicture is a replication picture of n tables, each with a backlog.
func bigPicture(n int) *engine.ReplicationView {
	v := &engine.ReplicationView{At: t0, PendingAt: t0, AgentsAt: t0, Cycles: 3}
	for i := range n {
		v.Tables = append(v.Tables, engine.TableLag{Table: fmt.Sprintf("dbo.TABLE%05d", i), Publication: "AX_PUB_1", HasPK: true, Published: true,
			Pending: int64(i%977 + 1), PendingAt: t0})
		v.TotalPending += int64(i%977 + 1)
	}
	v.Publications = []engine.PublicationLag{{Name: "AX_PUB_1", Tables: n, Pending: v.TotalPending}}
	for i := range 4 {
		v.Agents = append(v.Agents, engine.Agent{Publication: "AX_PUB_1", Name: fmt.Sprintf("AXSQL01-AX-AX_PUB_1-%d", i), Kind: engine.AgentDistribution,
			Status: engine.AgentInProgress, Latency: time.Duration(i) * time.Second})
	}
	v.AgentsAt = t0.Add(-3 * time.Second)
	for _, s := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
		v.Health = append(v.Health, engine.SourceHealth{Name: s, State: engine.HealthOK, LastOK: t0})
	}
	return v
}

// At 10,000 tables /metrics still lists only the worst tables: the series are bounded, and the
// ones listed are the largest backlogs.
func TestMetricsCardinalityBounded(t *testing.T) {
	dir := t.TempDir()
	tok, _, err := web.LoadOrCreateToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{snap: engine.Snapshot{At: t0, Run: engine.RunView{Name: "big"}}, repl: bigPicture(10000)}
	srv, err := web.New(f, web.Options{Addr: "127.0.0.1:0", StateDir: dir, Token: tok, WorstTables: 20, Private: []string{"AXSQL01"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	families := scrape(t, strings.TrimSuffix(srv.URL(), "/"), tok)
	total := 0
	for _, fam := range families {
		total += len(fam.Metric)
	}
	tables := families["cutover_replication_table_pending_commands"].GetMetric()
	if len(tables) != 20 || total > 200 {
		t.Fatalf("%d table series, %d series in all, for 10,000 tables", len(tables), total)
	}
	most := 0
	for _, m := range tables {
		switch m.GetGauge().GetValue() {
		case 977:
			most++
		case 976:
		default:
			t.Errorf("a table that is not among the worst: %v", m)
		}
	}
	if most != 10 { // 10,000 tables of 1…977 pending: ten have 977
		t.Errorf("%d of the ten largest backlogs listed", most)
	}
	if got := families["cutover_replication_tables"].Metric[0].GetGauge().GetValue(); got != 10000 {
		t.Errorf("cutover_replication_tables = %v", got)
	}
	// Every figure has its age: the agents' too.
	if got := families["cutover_replication_agents_read_timestamp_seconds"].GetMetric(); len(got) != 1 ||
		got[0].GetGauge().GetValue() != float64(t0.Add(-3*time.Second).UnixMilli())/1000 {
		t.Errorf("cutover_replication_agents_read_timestamp_seconds = %v", got)
	}
	for _, m := range families["cutover_replication_agent_latency_seconds"].GetMetric() {
		for _, l := range m.Label {
			if strings.Contains(l.GetValue(), "AXSQL01") {
				t.Errorf("a private word in a label: %v", l)
			}
		}
	}
}

// With a certificate the page is served over TLS only, and the session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jump01"}, NotBefore: t0.Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	w := newWorld(t, web.Options{Certificate: certFile, Key: keyFile})
	if !strings.HasPrefix(w.base, "https://") {
		t.Fatalf("not served over TLS: %s", w.base)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, c, w.base+"/?token="+w.token)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("the link over TLS: %d %+v", resp.StatusCode, resp.Cookies())
	}
	plain, err := http.Get(strings.Replace(w.base, "https://", "http://", 1) + "/state")
	if err == nil {
		if plain.StatusCode == http.StatusOK {
			t.Error("plain HTTP was answered with the page's state")
		}
		plain.Body.Close()
	}
}

// TestWatchersShownAway: who is in the cockpit, with the engine's rule for who is shown idle.
func TestWatchersShownAway(t *testing.T) {
	ana := engine.Actor{Name: "ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "ben", Role: engine.RoleViewer}
	w := newWorld(t, web.Options{Watchers: func() []tui.Presence {
		return []tui.Presence{{Actor: ana, Since: t0, Idle: time.Minute, Local: true}, {Actor: ben, Since: t0.Add(time.Second), Idle: engine.AwayAfter}}
	}})
	resp, body := get(t, http.DefaultClient, w.base+"/state", "Authorization", "Bearer "+w.token)
	var v web.View
	if err := json.Unmarshal([]byte(body), &v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/state: %d %v", resp.StatusCode, err)
	}
	if len(v.Watchers) != 2 || v.Watchers[0].Name != "ana" || v.Watchers[0].Away || !v.Watchers[0].Local ||
		v.Watchers[1].Name != "ben" || !v.Watchers[1].Away || v.Watchers[1].Idle != engine.AwayAfter.Seconds() {
		t.Fatalf("watchers: %+v", v.Watchers)
	}
}
