package cmd

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/notify"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// hookReceiver is a local webhook receiver: what each path was sent.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{got: map[string][][]byte{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], b)
		r.mu.Unlock()
		if req.URL.Path == "/slack" {
			io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) bodies(path string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[path]
}

var webLine = regexp.MustCompile(`web: status page (http://\S+\?token=(\S+))`)

// A demo run, from the outside: its status page and /metrics are on by default, answer 401
// without the token and never serve a password or the token; every milestone of the run
// reaches a generic webhook, a Teams workflow and a Slack webhook, each in its format, and every
// delivery is journaled.
func TestDemoServesThePageAndNotifiesEveryMilestone(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole demo run")
	}
	r := newHookReceiver(t)
	dir := t.TempDir()
	cmd := child(t, "demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--scenario", "count-mismatch", "--state", dir)
	cmd.Env = append(cmd.Env, "CUTOVER_DEMO_NOTIFY_GENERIC="+r.URL+"/generic", "CUTOVER_DEMO_NOTIFY_TEAMS="+r.URL+"/teams",
		"CUTOVER_DEMO_NOTIFY_SLACK="+r.URL+"/slack")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	var link, token string
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := webLine.FindStringSubmatch(sc.Text()); m != nil {
			link, token = m[1], m[2]
			break
		}
	}
	if link == "" {
		cmd.Wait()
		t.Fatalf("the demo printed no status page link:\n%s", out.String())
	}
	base := strings.SplitN(link, "?", 2)[0]
	// While the demo runs: no token, no page; with it, nothing secret in any byte served.
	for _, p := range []string{"", "state", "events", "metrics"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/%s without the token: %d", p, resp.StatusCode)
		}
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	var served strings.Builder
	for _, u := range []string{link, base + "state", base + "metrics"} {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
		served.Write(b)
	}
	resp, err := browser.Get(base + "events")
	if err != nil {
		t.Fatal(err)
	}
	ev := bufio.NewReader(resp.Body)
	for !strings.Contains(served.String(), "event: view") {
		line, err := ev.ReadString('\n')
		if err != nil {
			t.Fatalf("the event stream: %v", err)
		}
		served.WriteString(line)
	}
	resp.Body.Close()
	for _, secret := range []string{token, sqlsim.Password, lcssim.DefaultPassword, r.URL} {
		if strings.Contains(served.String(), secret) {
			t.Errorf("a viewer was served %q", secret)
		}
	}
	if !strings.Contains(served.String(), `"name":"Demo cutover (simulated Contoso)"`) || !strings.Contains(served.String(), "cutover_downtime_budget_seconds 43200") {
		t.Errorf("the page's state or /metrics lack the run: %.3000s", served.String())
	}
	rest, _ := io.ReadAll(stdout)
	out.Write(rest)
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "run completed") {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	// Every milestone, in each format.
	var events []string
	for _, b := range r.bodies("/generic") {
		var g notify.Generic
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("generic: %v: %s", err, b)
		}
		events = append(events, g.Event)
	}
	for _, want := range []string{"downtime.began", "drain.opened", "validation.failed", "step.failed", "validation.passed", "no-return.passed", "run.completed"} {
		if !slices.Contains(events, want) {
			t.Errorf("the generic webhook never heard %s: %v", want, events)
		}
	}
	if n := len(events); len(r.bodies("/teams")) != n || len(r.bodies("/slack")) != n {
		t.Errorf("generic %d, teams %d, slack %d messages: each milestone in each format", n, len(r.bodies("/teams")), len(r.bodies("/slack")))
	}
	for _, b := range r.bodies("/teams") {
		if !strings.Contains(string(b), `"type":"message"`) || !strings.Contains(string(b), `"contentType":"application/vnd.microsoft.card.adaptive"`) {
			t.Errorf("teams: %s", b)
		}
	}
	for _, b := range r.bodies("/slack") {
		if !strings.Contains(string(b), `"blocks":[{"type":"header"`) {
			t.Errorf("slack: %s", b)
		}
	}
	recs, _, err := journal.ReadAll(filepath.Join(dir, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, rec := range recs {
		switch engine.RecordType(rec.Type) {
		case engine.RecNotifySent:
			sent++
		case engine.RecNotifyFailed:
			t.Errorf("a delivery failed: %s", rec.Data)
		}
	}
	if sent != 3*len(events) {
		t.Errorf("%d deliveries journaled for %d messages", sent, 3*len(events))
	}
	// The deliveries are in the log (the Logs pane's lines), the last one included, and the
	// headless output shows them as they happen.
	logText, err := os.ReadFile(filepath.Join(dir, engine.LogFileName))
	if err != nil || !strings.Contains(string(logText), `notify demo-teams (teams): sent "✓ Cutover completed`) {
		t.Errorf("the deliveries are not in the log (%v):\n%s", err, logText)
	}
	if !strings.Contains(out.String(), `notify demo-slack (slack): sent "Downtime began`) {
		t.Errorf("the deliveries are not in the run's output:\n%s", out.String())
	}
}

const notifyRunbook = `name: notify test
notify:
  targets:
    - {name: ops, type: teams, url_env: TEST_TEAMS_URL}
    - {name: pm, type: slack, url_env: TEST_SLACK_URL}
    - {name: gone, type: generic, url_env: TEST_DOWN_URL}
steps:
  - {id: a, title: A, kind: manual}
`

// cutover notify test sends one message to each target and says how each answered; cutover
// check lists the targets.
func TestNotifyTestCommand(t *testing.T) {
	r := newHookReceiver(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	t.Setenv("TEST_TEAMS_URL", r.URL+"/teams")
	t.Setenv("TEST_SLACK_URL", r.URL+"/slack")
	t.Setenv("TEST_DOWN_URL", downURL+"/hook")
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	if err := os.WriteFile(path, []byte(notifyRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "notify", "test", "-f", path)
	if code != exitFail || !regexp.MustCompile(`ops +teams +sent`).MatchString(out) || !regexp.MustCompile(`pm +slack +sent`).MatchString(out) ||
		!regexp.MustCompile(`gone +generic +FAILED: no answer`).MatchString(out) {
		t.Errorf("notify test: %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, downURL) {
		t.Errorf("a webhook URL was printed: %s", out)
	}
	if len(r.bodies("/teams")) != 1 || !strings.Contains(string(r.bodies("/teams")[0]), "[TEST]") || len(r.bodies("/slack")) != 1 {
		t.Errorf("received: teams %d, slack %d", len(r.bodies("/teams")), len(r.bodies("/slack")))
	}
	code, out, _ = cli(t, "check", "-f", path)
	if code != exitOK || !strings.Contains(out, "notify:       ops (teams, URL from $TEST_TEAMS_URL): every milestone; confirmations waiting 10m") {
		t.Errorf("check: %d\n%s", code, out)
	}
	if code, _, errOut := cli(t, "notify"); code != exitUsage || !strings.Contains(errOut, "notify needs a command: test") {
		t.Errorf("notify without test: %d %s", code, errOut)
	}
}
