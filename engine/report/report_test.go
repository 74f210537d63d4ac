package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/report"
	"cutover/engine/runbook"
)

const testRunbook = `name: Contoso AX 2012 go-live
environment: PROD (Contoso Dynamics 365)

downtime:
  start: 2026-12-05T18:00:00Z
  budget: 12h
  begins_with: aos-stop
  point_of_no_return: production-refresh
  rollback_point: drain

connections:
  source:
    server: AXSQL01
    database: MicrosoftDynamicsAX
    auth: windows
    encrypt: true
  target:
    server: contoso-sandbox.database.windows.net
    database: db_contoso_sandbox
    auth: windows
    encrypt: strict

lcs:
  project_id: "1234567"
  region: global
  sandbox_environment_id: 00000000-0000-0000-0000-000000000001
  production_environment_id: 00000000-0000-0000-0000-000000000002
  auth: device-code
  client_id: 00000000-0000-0000-0000-0000000000aa
  tenant_id: 00000000-0000-0000-0000-0000000000bb

steps:
  - id: downtime-go
    title: Downtime go/no-go
    phase: Before downtime
    kind: gate
    planned: 5m
    with:
      question: Start the downtime now?

  - id: aos-stop
    title: Shut down all AX 2012 AOS instances
    phase: Shutdown
    kind: manual
    destructive: true
    confirm: STOP AOS
    after: downtime-go
    planned: 15m

  - id: drain
    title: Replication drained
    phase: Drain and validate
    kind: wait
    after: aos-stop
    planned: 20m
    with:
      duration: 20m

  - id: validate-counts
    title: Validate record counts
    phase: Drain and validate
    kind: validate.counts
    after: drain
    planned: 15m

  - id: lcs-quota
    title: Enough LCS database operations for the refresh
    phase: Production
    kind: lcs.quota
    after: validate-counts
    planned: 1m
    with:
      environment: production

  - id: production-refresh
    title: "LCS: refresh production from the upgraded sandbox"
    phase: Production
    kind: lcs.refresh
    destructive: true
    confirm: REFRESH PRODUCTION
    approvals: 2
    after: lcs-quota
    planned: 1h
    with:
      source: sandbox
      target: production

  - id: smoke
    title: Smoke tests
    phase: Go live
    kind: command
    after: production-refresh
    planned: 10m
    retries: 1
    with:
      argv: [smoke.exe, --all]

  - id: reopen
    title: Reopen to users
    phase: Go live
    kind: manual
    after: smoke
    planned: 5m
`

var t0 = time.Date(2026, 12, 5, 17, 30, 0, 0, time.UTC)

var (
	ana  = engine.Actor{Name: "Ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:AnaKey9x+Q/abc", Role: engine.RoleOperator}
	carl = engine.Actor{Name: "Carl", Origin: "local terminal on jump01 (tty /dev/pts/2)", Role: engine.RoleOperator}
	bob  = engine.Actor{Name: "Bob", Origin: "ssh 10.0.0.9", Fingerprint: "SHA256:BobKey", Role: engine.RoleViewer}
)

const lcsOperation = "8d6f0c2e-41aa-4711-9b1e-lcsop0000042"

func parseRunbook(t testing.TB, dir, src string) *runbook.Runbook {
	t.Helper()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, runbook.Options{
		Kinds:     engine.NewRegistry(engine.AllKinds()...),
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatalf("runbook: %v", err)
	}
	return rb
}

// writer appends records to a journal with a clock the test moves.
type writer struct {
	t   testing.TB
	j   *journal.Journal
	now time.Time
}

func newWriter(t testing.TB, start time.Time) *writer {
	t.Helper()
	j, _, err := journal.Open(t.TempDir(), journal.Options{NoSync: true, Command: "report test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return &writer{t: t, j: j, now: start}
}

// add moves the clock by d and appends one record; it returns the record's sequence number.
func (w *writer) add(d time.Duration, typ engine.RecordType, step string, payload any) uint64 {
	w.t.Helper()
	w.now = w.now.Add(d)
	data, err := json.Marshal(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	rec, err := w.j.Append(journal.Record{Time: w.now, Type: string(typ), Step: step, Data: data})
	if err != nil {
		w.t.Fatal(err)
	}
	return rec.Seq
}

// close releases the journal and returns its path and head hash.
func (w *writer) close() (string, string) {
	w.t.Helper()
	head := w.j.Head()
	if err := w.j.Close(); err != nil {
		w.t.Fatal(err)
	}
	return w.j.Path(), head
}

// confirm opens a request and approves it with the actors.
func (w *writer) confirm(step string, actors ...engine.Actor) uint64 {
	req := w.add(time.Minute, engine.RecAwaiting, step, engine.Awaiting{Action: "confirm " + step, Needed: len(actors)})
	for i, a := range actors {
		w.add(time.Minute, engine.RecApproved, step, engine.Approved{Request: req, Actor: a, Count: i + 1, Needed: len(actors)})
	}
	return req
}

// goLive writes a realistic completed run: confirmations (one refused), a manual shutdown, a
// replication drain with an outage, a validation with a mismatch resolved by a recount and a
// retry, a pause, an LCS refresh followed across an engine crash, an automatic retry, a step done
// by hand, and a runbook change.
func goLive(t testing.TB, rb *runbook.Runbook) (path, head string) {
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{Runbook: rb.File, RunbookHash: "0ld0ld0ld0ld0ld0ld", Name: rb.Name, Environment: rb.Environment, Steps: len(rb.Steps)})
	w.add(0, engine.RecRunbookChanged, "", engine.RunbookChanged{OldHash: "0ld0ld0ld0ld0ld0ld", NewHash: rb.Hash})
	w.add(time.Second, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 4242, RunbookHash: rb.Hash})
	pending := int64(120000)
	sample := func() {
		w.add(time.Minute, engine.RecReplicationSample, "", engine.ReplicationSample{Pending: pending, DrainRate: 150.5, ETA: time.Duration(pending/150) * time.Second, Tables: 812})
	}
	for i := 0; i < 12; i++ {
		sample()
		pending += 2500
	}

	w.confirm("downtime-go", ana) // 18:00 or so
	w.add(time.Minute, engine.RecSucceeded, "downtime-go", engine.Succeeded{Attempt: 1, Message: "go: Ana", Actor: &ana})

	req := w.add(time.Minute, engine.RecAwaiting, "aos-stop", engine.Awaiting{Action: "shut down the AOS", Needed: 1})
	w.add(time.Minute, engine.RecConfirmRefused, "aos-stop", engine.ConfirmRefused{Request: req, Actor: bob, Reason: "viewers cannot confirm"})
	w.add(time.Minute, engine.RecApproved, "aos-stop", engine.Approved{Request: req, Actor: ana, Count: 1, Needed: 1})
	w.add(time.Second, engine.RecStarted, "aos-stop", engine.Started{Attempt: 1, Action: "shut down the AOS"})
	for i := 0; i < 10; i++ {
		sample()
		pending -= 12000
	}
	w.add(time.Minute, engine.RecSucceeded, "aos-stop", engine.Succeeded{Attempt: 1, Actor: &ana})

	w.add(time.Second, engine.RecStarted, "drain", engine.Started{Attempt: 1})
	w.add(time.Minute, engine.RecSourceHealth, "", engine.SourceHealthRecord{Source: engine.SourceAX, State: engine.HealthFailing, Error: "login timeout"})
	w.add(3*time.Minute, engine.RecSourceHealth, "", engine.SourceHealthRecord{Source: engine.SourceAX, State: engine.HealthOK, Outage: 3 * time.Minute})
	for pending > 0 {
		pending = max(pending-15000, 0)
		sample()
	}
	w.add(time.Minute, engine.RecSucceeded, "drain", engine.Succeeded{Attempt: 1, Message: "waited 20m"})
	// Removing replication takes the distributor away, as expected: no outage.
	w.add(0, engine.RecSourceHealth, "", engine.SourceHealthRecord{Source: engine.SourceDistributor, State: engine.HealthFailing,
		Error: "Invalid object name 'dbo.MSpublications'. (208)", ExpectedBy: "drain"})

	w.add(time.Second, engine.RecStarted, "validate-counts", engine.Started{Attempt: 1})
	w.add(5*time.Minute, engine.RecValidation, "validate-counts", engine.ValidationRecord{
		Attempt: 1, Passed: false, Tables: 812, Recounts: 2,
		Classes: map[engine.CountClass]int{engine.ClassMismatch: 2, engine.ClassExpected: 1, engine.ClassMatch: 809},
		Notable: []engine.TableCheck{
			{Table: "dbo.CUSTTRANS", Class: engine.ClassMismatch, Source: 1000000, Target: 999990, Delta: -10, Exact: true},
			{Table: "dbo.LEDGERJOURNALTRANS", Class: engine.ClassMismatch, Source: 5000, Target: 4990, Delta: -10, Pending: 10},
			{Table: "dbo.INVENTTRANSARCHIVE", Class: engine.ClassExpected, Source: 500, Target: 0, Delta: -500, Reason: "archived lines are not migrated"},
		},
		Files: []string{"validation-1.csv"},
	})
	w.add(time.Second, engine.RecFailed, "validate-counts", engine.Failed{Attempt: 1, Error: "2 table(s) differ"})
	w.add(4*time.Minute, engine.RecRecount, "validate-counts", engine.Recounted{Actor: ana, Before: engine.ClassMismatch,
		Check: engine.TableCheck{Table: "dbo.CUSTTRANS", Class: engine.ClassMatch, Source: 1000000, Target: 1000000, Exact: true}})
	w.add(time.Minute, engine.RecRetry, "validate-counts", engine.ByActor{Actor: ana, Reason: "CUSTTRANS recounted exactly"})
	w.add(time.Second, engine.RecStarted, "validate-counts", engine.Started{Attempt: 2})
	w.add(4*time.Minute, engine.RecValidation, "validate-counts", engine.ValidationRecord{
		Attempt: 2, Passed: true, Tables: 812,
		Classes: map[engine.CountClass]int{engine.ClassExpected: 1, engine.ClassMatch: 811},
		Notable: []engine.TableCheck{{Table: "dbo.INVENTTRANSARCHIVE", Class: engine.ClassExpected, Source: 500, Delta: -500, Reason: "archived lines are not migrated"}},
	})
	w.add(time.Second, engine.RecSucceeded, "validate-counts", engine.Succeeded{Attempt: 2, Message: "812 tables: 811 match, 1 expected"})

	w.add(time.Minute, engine.RecRunPaused, "", engine.RunPaused{Actor: ana, Reason: "waiting for the business sign-off"})
	w.add(10*time.Minute, engine.RecRunResumed, "", engine.ByActor{Actor: carl})

	w.add(time.Second, engine.RecStarted, "lcs-quota", engine.Started{Attempt: 1})
	w.add(time.Second, engine.RecSucceeded, "lcs-quota", engine.Succeeded{Attempt: 1, Message: "2 of 3 database operations left for production (needs 2)"})

	w.confirm("production-refresh", ana, carl)
	w.add(time.Second, engine.RecStarted, "production-refresh", engine.Started{Attempt: 1})
	w.add(time.Second, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"guided_since": w.now.Format(time.RFC3339Nano)}})
	w.add(5*time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"activity": lcsOperation}})
	w.add(time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"status": "InProgress"}})
	// The engine dies here; a new one resumes following the same operation.
	w.add(20*time.Minute, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 5151, RunbookHash: rb.Hash, Resumed: true})
	w.add(30*time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"status": "Completed"}})
	w.add(time.Second, engine.RecSucceeded, "production-refresh", engine.Succeeded{Attempt: 1, Message: "refresh " + lcsOperation + " Completed after 51m"})

	w.add(time.Second, engine.RecStarted, "smoke", engine.Started{Attempt: 1})
	retryAt := w.now.Add(2 * time.Minute)
	w.add(time.Minute, engine.RecFailed, "smoke", engine.Failed{Attempt: 1, Error: "HTTP 503 from the AOS health endpoint", RetryAt: &retryAt, Output: []string{"checking", "503"}})
	w.add(time.Minute, engine.RecStarted, "smoke", engine.Started{Attempt: 2})
	w.add(3*time.Minute, engine.RecSucceeded, "smoke", engine.Succeeded{Attempt: 2})

	w.add(time.Minute, engine.RecDoneByHand, "reopen", engine.ByActor{Actor: carl, Reason: "users let in through the portal"})
	w.add(0, engine.RecRunFinished, "", engine.RunFinished{Succeeded: 8})
	w.add(time.Second, engine.RecEngineStopped, "", engine.EngineStopped{Reason: "run completed"})
	return w.close()
}

func build(t testing.TB, opts report.Options) (*report.Report, string, string) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC) }
	}
	r, err := report.Build(opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var m, h bytes.Buffer
	if err := r.Markdown(&m); err != nil {
		t.Fatal(err)
	}
	if err := r.HTML(&h); err != nil {
		t.Fatal(err)
	}
	return r, m.String(), h.String()
}

// mdText is how plain text appears in the Markdown (markup characters escaped).
func mdText(s string) string {
	return strings.NewReplacer(`_`, `\_`, "*", `\*`, "<", `\<`, ">", `\>`).Replace(s)
}

func mustContain(t *testing.T, what, doc string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(doc, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestMarkdownHasEverySectionAndTheKeyFacts(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, head := goLive(t, rb)
	r, md, _ := build(t, report.Options{Runbook: rb, Journal: path})

	for _, s := range report.Sections {
		mustContain(t, "Markdown", md, "\n## "+s+"\n")
	}
	// Sections are in order.
	last := -1
	for _, s := range report.Sections {
		i := strings.Index(md, "\n## "+s+"\n")
		if i < last {
			t.Errorf("section %q is out of order", s)
		}
		last = i
	}
	if strings.Contains(md, "JOURNAL FAILED VERIFICATION") {
		t.Error("a good journal must not carry the failure banner")
	}
	mustContain(t, "Markdown", md,
		"# Cutover evidence report: Contoso AX 2012 go-live",
		"| Rehearsal | no |",
		"**completed — every step is done: 8 succeeded (1 by hand), 0 skipped",
		// downtime began with aos-stop's first start and ended with run.finished
		"(the first start of step aos-stop); 11m58s before the planned start",
		"under budget by",
		"step production-refresh (LCS: refresh production from the upgraded sandbox): passed at",
		"2 (resumed 1 time(s), 1 of them after a crash)",
		// confirmations: fingerprint, role, origin, count/needed, refusal with reason
		"SHA256:AnaKey9x+Q/abc", "| Ana | operator | ssh 10.0.0.5 |", "2 of 2",
		"| refused | Bob, ssh 10.0.0.9 | SHA256:BobKey | viewers cannot confirm |",
		// validation: the mismatch, its recount resolution, the later validation, the expected one
		"dbo.CUSTTRANS", "| mismatch | 1,000,000 | 999,990 | -10 |",
		"resolved by recount | recounted exactly by Ana at 2026-12-05T",
		"source 1,000,000, target 1,000,000, Δ 0 — match (was mismatch)",
		"| dbo.LEDGERJOURNALTRANS | mismatch | 5,000 | 4,990 | -10 | 10 | no | resolved by a later validation | validation attempt 2 at 2026-12-05T18:20:06Z passed |",
		"expected difference: archived lines are not migrated",
		// drain curve figures
		"| Peak | 150,000 commands pending at 2026-12-05T17:49:02Z", "| Last | 0 commands pending at",
		// LCS operation id and its states
		lcsOperation, "InProgress → Completed",
		"2 of 3 database operations left for production (needs 2)",
		// anomalies: retries with reasons, outage, pause, crash, done by hand, runbook change
		"attempt 1 failed: HTTP 503 from the AOS health endpoint — last output: checking / 503; automatic retry at",
		"retry requested: CUSTTRANS recounted exactly (after: 2 table(s) differ)",
		"the AX 2012 source database failing from", "(3m): login timeout; then ok",
		"run paused for 10m: waiting for the business sign-off; resumed by Carl",
		"| crash recovery |",
		"done by hand: users let in through the portal",
		"the runbook file changed mid-run",
		// the rollback point, made before the point of no return
		"| AX 2012 rollback point | **step drain: made at 2026-12-05T",
		"— not verified (the step does not check the backup)**",
		// integrity
		"| Head hash | "+head+" |",
		"**verified: every line's own hash",
	)
	if strings.Contains(md, "the replication distributor failing") {
		t.Error("the distributor going away as expected is no outage")
	}
	if got := len(r.Drain.Rows); got > report.MaxDrainRows || got < 2 {
		t.Errorf("drain table has %d rows (of %d samples)", got, len(r.Drain.Samples))
	}
	if r.Drain.Rows[0] != r.Drain.First || r.Drain.Rows[len(r.Drain.Rows)-1] != r.Drain.Last {
		t.Error("the drain table must keep the first and the last sample")
	}
	c, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var aosStarted, refreshStarted, finished time.Time
	for _, rec := range c.Records {
		if rec.Type == string(engine.RecStarted) && rec.Step == "aos-stop" && aosStarted.IsZero() {
			aosStarted = rec.Time
		}
		if rec.Type == string(engine.RecStarted) && rec.Step == "production-refresh" && refreshStarted.IsZero() {
			refreshStarted = rec.Time
		}
		if rec.Type == string(engine.RecRunFinished) {
			finished = rec.Time
		}
	}
	dt := r.Summary.Downtime
	if dt == nil || !dt.Began.Equal(aosStarted) || !dt.Ended.Equal(finished) || dt.Ongoing || dt.Used != finished.Sub(aosStarted) || dt.Over != dt.Used-12*time.Hour {
		t.Errorf("downtime: %+v (aos-stop started %s, run finished %s)", dt, aosStarted, finished)
	}
	var smoke, drain report.StepRow
	for _, s := range r.Timeline.Steps {
		switch s.ID {
		case "smoke":
			smoke = s
		case "drain":
			drain = s
		}
	}
	// The point of no return passed when it started, as the engine says (not when it ended).
	if dt == nil || !dt.PointOfNoReturnAt.Equal(refreshStarted) {
		t.Errorf("point of no return passed at %v, want its start %v", dt.PointOfNoReturnAt, refreshStarted)
	}
	if dt == nil || dt.RollbackPoint != "drain" || drain.Ended.IsZero() || !dt.RollbackPointAt.Equal(drain.Ended) || dt.RollbackPointOutcome != "succeeded" ||
		dt.RollbackPointProof != engine.ProofUnchecked {
		t.Errorf("rollback point: %+v (drain ended %s)", dt, drain.Ended)
	}
	if smoke.Attempts != 2 || smoke.Retries != 1 || smoke.Outcome != "succeeded" || smoke.Duration != 5*time.Minute {
		t.Errorf("smoke row: %+v", smoke)
	}
	if r.Integrity.Head != head || !r.Integrity.Verified {
		t.Errorf("integrity: %+v", r.Integrity)
	}
}

// parseHTML decodes the whole document as XML (the report is written to be well-formed) and,
// leniently, as HTML; it returns the element names seen.
func parseHTML(t *testing.T, doc string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, strict := range []bool{true, false} {
		d := xml.NewDecoder(strings.NewReader(doc))
		d.Strict = strict
		d.Entity = xml.HTMLEntity
		if !strict {
			d.AutoClose = xml.HTMLAutoClose
		}
		var stack []string
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("HTML does not parse (strict %v): %v", strict, err)
			}
			switch e := tok.(type) {
			case xml.StartElement:
				stack = append(stack, e.Name.Local)
				if strict {
					seen[e.Name.Local]++
				}
			case xml.EndElement:
				if len(stack) == 0 || stack[len(stack)-1] != e.Name.Local {
					t.Fatalf("unbalanced </%s> (open: %v)", e.Name.Local, stack)
				}
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) != 0 {
			t.Fatalf("unclosed elements: %v", stack)
		}
	}
	return seen
}

func TestHTMLIsSelfContainedAndParses(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, head := goLive(t, rb)
	_, _, doc := build(t, report.Options{Runbook: rb, Journal: path})

	seen := parseHTML(t, doc)
	for _, el := range []string{"html", "head", "style", "body", "svg", "polyline", "table", "h2"} {
		if seen[el] == 0 {
			t.Errorf("HTML has no <%s>", el)
		}
	}
	if seen["h2"] != len(report.Sections) {
		t.Errorf("HTML has %d sections, want %d", seen["h2"], len(report.Sections))
	}
	for _, s := range report.Sections {
		mustContain(t, "HTML", doc, "<h2>"+s+"</h2>")
	}
	lower := strings.ToLower(doc)
	for _, bad := range []string{"http://", "https://", "src=", "<link", "<script", "url(", "@import", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML contains an external reference or script: %q", bad)
		}
	}
	mustContain(t, "HTML", doc, head, lcsOperation, "resolved by recount", `<polyline class="curve" points="`)
	mustContain(t, "HTML text", html.UnescapeString(doc), "SHA256:AnaKey9x+Q/abc", "viewers cannot confirm", "InProgress → Completed")
}

// TestHTMLEscapesEverything: text from the journal (reasons, names) never becomes markup.
func TestHTMLEscapesEverything(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name})
	reason := `</td></tr><a href="https://evil.example">| **bold** |`
	evil := engine.Actor{Name: `<img src=x onerror=alert(1)>`, Origin: `"><script>alert(2)</script>`, Role: engine.RoleOperator}
	w.add(time.Minute, engine.RecSkipped, "drain", engine.ByActor{Actor: evil, Reason: reason})
	path, _ := w.close()
	_, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
	parseHTML(t, doc)
	lower := strings.ToLower(doc)
	for _, bad := range []string{"<img", "<script", `<a href="https`, "</td></tr><a"} {
		if strings.Contains(lower, bad) {
			t.Errorf("journal text became markup: %q", bad)
		}
	}
	mustContain(t, "HTML text", html.UnescapeString(doc), reason, evil.Name)
	if m := regexp.MustCompile(`(^|[^\\])(<img|<script|<a |\*\*bold)`).FindString(md); m != "" {
		t.Errorf("journal text became Markdown markup: %q", m)
	}
}

// tamper flips one byte inside the data of the journal's line n.
func tamper(t *testing.T, path string, n int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	off := 0
	for _, l := range lines[:n-1] {
		off += len(l)
	}
	i := bytes.Index(lines[n-1], []byte(`"data":{"`))
	if i < 0 {
		t.Fatalf("line %d has no data: %s", n, lines[n-1])
	}
	data[off+i+len(`"data":{"`)] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedJournalIsReportedAsFarAsItVerifies(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, _ := goLive(t, rb)
	c, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	const bad = 30
	tamper(t, path, bad)
	if _, err := journal.Read(path); err == nil {
		t.Fatal("the tampered journal still reads")
	}

	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
	if r.Integrity.Verified || r.Integrity.BadLine != bad || r.Integrity.Records != bad-1 {
		t.Fatalf("integrity: %+v", r.Integrity)
	}
	wantHead := c.Records[bad-1].Prev // the hash of the last line that verified
	if r.Integrity.Head != wantHead {
		t.Errorf("head %s, want the hash of line %d: %s", r.Integrity.Head, bad-1, wantHead)
	}
	banner := fmt.Sprintf("JOURNAL FAILED VERIFICATION at line %d: modified", bad)
	for name, out := range map[string]string{"Markdown": md, "HTML": doc} {
		i := strings.Index(out, banner)
		if i < 0 {
			t.Fatalf("%s lacks the banner %q", name, banner)
		}
		if j := strings.Index(out, report.SectionSummary); j < i {
			t.Errorf("%s: the banner must come before everything else", name)
		}
		mustContain(t, name, out, "this report covers only the records before it", fmt.Sprintf("FAILED at line %d", bad))
	}
	mustContain(t, "Markdown", md, "> **⚠ JOURNAL FAILED VERIFICATION", "| Records verified | 29 |",
		"as far as the journal verifies (up to line 29)",
		"| Downtime ended | unknown: the verified part of the journal ends at "+r.Integrity.Last.Format("2006-01-02T15:04:05Z"))
	if dt := r.Summary.Downtime; dt == nil || !dt.Truncated || dt.Ongoing || !dt.Ended.Equal(r.Integrity.Last) {
		t.Errorf("the downtime of a journal that fails verification ends, at the earliest, with its last good record: %+v", dt)
	}
	parseHTML(t, doc)
	// Nothing from the bad line on is used: the run did not finish as far as the report knows.
	if !r.Summary.Finished.IsZero() || r.Summary.Outcome == report.OutcomeCompleted {
		t.Errorf("the report used records after the bad line: %+v", r.Summary)
	}
}

// TestCutJournalIsReportedAsFailed: a journal whose last lines were cut verifies line by line; the
// report still says it failed verification, and why, from its anchor.
func TestCutJournalIsReportedAsFailed(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, _ := goLive(t, rb)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join(lines[:len(lines)-4], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.Read(path); err != nil {
		t.Fatalf("the cut journal no longer reads line by line (the test is wrong): %v", err)
	}
	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
	if r.Integrity.Verified || !strings.Contains(r.Integrity.TailReason, "truncated") {
		t.Fatalf("integrity of a cut journal: %+v", r.Integrity)
	}
	for name, out := range map[string]string{"Markdown": md, "HTML": doc} {
		mustContain(t, name, out, "JOURNAL FAILED VERIFICATION: truncated", "does not end where its anchor says")
	}
}

func TestBaselineComparison(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, _ := goLive(t, rb)

	// A rehearsal where aos-stop took 10m (from its request) and drain 25m; nothing else ended.
	w := newWriter(t, t0.Add(-7*24*time.Hour))
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name, Rehearsal: true})
	w.add(time.Minute, engine.RecAwaiting, "aos-stop", engine.Awaiting{Needed: 1})
	w.add(time.Minute, engine.RecApproved, "aos-stop", engine.Approved{Request: 2, Actor: engine.System("rehearsal --yes"), Count: 1, Needed: 1, Auto: true})
	w.add(0, engine.RecStarted, "aos-stop", engine.Started{Attempt: 1})
	w.add(9*time.Minute, engine.RecSucceeded, "aos-stop", engine.Succeeded{Attempt: 1})
	w.add(time.Second, engine.RecStarted, "drain", engine.Started{Attempt: 1})
	w.add(25*time.Minute, engine.RecSucceeded, "drain", engine.Succeeded{Attempt: 1})
	basePath, baseHead := w.close()

	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path, Baseline: basePath})
	b := r.Timeline.Baseline
	if b == nil || b.Path != basePath || b.Head != baseHead || b.Compared != 2 {
		t.Fatalf("baseline comparison: %+v", b)
	}
	rows := map[string]report.StepRow{}
	for _, s := range r.Timeline.Steps {
		rows[s.ID] = s
	}
	// aos-stop: asked 18:00:01… see goLive: request at +1m, refused, approved, started, 10 samples, done.
	aos := rows["aos-stop"]
	if !aos.HasBaseline || aos.Baseline != 10*time.Minute || !aos.HasDiff || aos.Diff != aos.Duration-10*time.Minute {
		t.Errorf("aos-stop row: %+v", aos)
	}
	if rows["smoke"].HasBaseline || rows["smoke"].HasDiff {
		t.Errorf("smoke has no baseline: %+v", rows["smoke"])
	}
	if b.Actual != aos.Duration+rows["drain"].Duration || b.Baseline != 35*time.Minute {
		t.Errorf("baseline sums: %+v", b)
	}
	mustContain(t, "Markdown", md, "| Baseline | Δ vs baseline |", "| 10m | "+signedFmt(aos.Diff)+" |", "Steps finished in both runs: 2")
	mustContain(t, "HTML", doc, "Δ vs baseline", baseHead)

	// Without a baseline the timeline says so.
	_, md, _ = build(t, report.Options{Runbook: rb, Journal: path})
	mustContain(t, "Markdown", md, "Baseline: none")
	if strings.Contains(md, "Δ vs baseline") {
		t.Error("no baseline, but a baseline column")
	}

	// An explicit baseline that cannot be read is an error.
	if _, err := report.Build(report.Options{Runbook: rb, Journal: path, Baseline: filepath.Join(dir, "missing.jsonl")}); err == nil {
		t.Error("a missing explicit baseline must be an error")
	}
}

func signedFmt(d time.Duration) string {
	if d > 0 {
		return "+" + runbook.FormatDuration(d)
	}
	return runbook.FormatDuration(d)
}

// TestRunbookBaselineThatCannotBeReadIsANote: the runbook's own baseline failing to verify does not
// stop the report; it says why there is no comparison.
func TestRunbookBaselineThatCannotBeReadIsANote(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{Name: "x"})
	w.add(time.Minute, engine.RecStarted, "drain", engine.Started{Attempt: 1})
	w.add(time.Minute, engine.RecSucceeded, "drain", engine.Succeeded{Attempt: 1})
	w.add(time.Minute, engine.RecStarted, "smoke", engine.Started{Attempt: 1})
	basePath, _ := w.close()
	tamper(t, basePath, 3)
	src := strings.Replace(testRunbook, "steps:\n", "baseline: "+basePath+"\n\nsteps:\n", 1)
	rb := parseRunbook(t, dir, src)
	path, _ := goLive(t, rb)
	r, md, _ := build(t, report.Options{Runbook: rb, Journal: path})
	if r.Timeline.Baseline != nil {
		t.Fatal("a baseline that fails verification must not be used")
	}
	mustContain(t, "Markdown", md, "baseline could not be used")
}

func TestOutcomes(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	start := func() *writer {
		w := newWriter(t, t0)
		w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name})
		w.add(0, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 1, RunbookHash: rb.Hash})
		w.confirm("downtime-go", carl)
		w.add(time.Minute, engine.RecSucceeded, "downtime-go", engine.Succeeded{Attempt: 1, Actor: &carl})
		return w
	}
	cases := map[string]struct {
		then    func(w *writer)
		outcome string
		wants   []string
	}{
		"in progress": {
			then: func(w *writer) {
				w.add(time.Minute, engine.RecRunPaused, "", engine.RunPaused{Actor: carl, Reason: "coffee"})
			},
			outcome: report.OutcomeInProgress,
			wants:   []string{"1 of 8 steps done", "still paused at the end of the journal", "the run is paused"},
		},
		"halted": {
			then: func(w *writer) {
				w.add(time.Minute, engine.RecEngineStopped, "", engine.EngineStopped{Reason: "operator quit"})
			},
			outcome: report.OutcomeHalted,
			wants:   []string{"the engine was stopped at", "(operator quit) with 1 of 8 steps done"},
		},
		"blocked by an unresolved mismatch": {
			then: func(w *writer) {
				w.add(time.Minute, engine.RecStarted, "validate-counts", engine.Started{Attempt: 1})
				w.add(time.Minute, engine.RecValidation, "validate-counts", engine.ValidationRecord{Attempt: 1, Tables: 2,
					Classes: map[engine.CountClass]int{engine.ClassMissing: 1, engine.ClassMatch: 1},
					Notable: []engine.TableCheck{{Table: "dbo.VENDTRANS", Class: engine.ClassMissing, Source: 42}}})
				w.add(time.Minute, engine.RecFailed, "validate-counts", engine.Failed{Attempt: 1, Error: "1 table(s) missing on target"})
				w.add(time.Minute, engine.RecSourceHealth, "", engine.SourceHealthRecord{Source: engine.SourceTarget, State: engine.HealthFailing, Error: "connection reset"})
			},
			outcome: report.OutcomeBlocked,
			wants: []string{"step validate-counts failed: 1 table(s) missing on target", "dbo.VENDTRANS", "| missing on target |",
				"| unresolved | nothing later in the journal resolves it |", "the target (sandbox) database failing since", "connection reset; no recovery recorded"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := start()
			c.then(w)
			path, _ := w.close()
			r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
			if r.Summary.Outcome != c.outcome {
				t.Errorf("outcome %q (%s), want %q", r.Summary.Outcome, r.Summary.OutcomeDetail, c.outcome)
			}
			var wants []string
			for _, s := range c.wants {
				wants = append(wants, mdText(s))
			}
			mustContain(t, "Markdown", md, wants...)
			mustContain(t, "Markdown", md, "| AX 2012 rollback point | **step drain: NOT made (not started)** |") // emphasised: a warning
			if r.Summary.Downtime == nil || !r.Summary.Downtime.Began.IsZero() {
				t.Errorf("the downtime has not begun (aos-stop never started): %+v", r.Summary.Downtime)
			}
			parseHTML(t, doc)
		})
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	_, err := report.Build(report.Options{Runbook: rb, Journal: filepath.Join(dir, "state", journal.FileName)})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing journal: %v, want an error wrapping os.ErrNotExist", err)
	}
	if _, err := report.Build(report.Options{Journal: "x"}); err == nil {
		t.Error("no runbook must be an error")
	}
}

// TestEmptyJournal: a journal with nothing in it still makes a complete report.
func TestEmptyJournal(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	w := newWriter(t, t0)
	path, _ := w.close()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
	for _, s := range report.Sections {
		mustContain(t, "Markdown", md, "## "+s)
	}
	if r.Integrity.Head != journal.Genesis || !r.Integrity.Verified || r.Summary.NotStarted != len(rb.Steps) {
		t.Errorf("empty journal: %+v %+v", r.Integrity, r.Summary)
	}
	parseHTML(t, doc)
}

// TestTornTailIsNoted: an incomplete last line (a crash during a write) is left out and named; the
// journal still verifies.
func TestTornTailIsNoted(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	path, head := goLive(t, rb)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":70,"time":"2026-12-05T19:40:00Z","type":"step.sta`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, md, _ := build(t, report.Options{Runbook: rb, Journal: path})
	if !r.Integrity.Verified || r.Integrity.TornLine != 70 || r.Integrity.Head != head || r.Summary.Outcome != report.OutcomeCompleted {
		t.Errorf("torn tail: %+v", r.Integrity)
	}
	mustContain(t, "Markdown", md, "| Incomplete last line | **line 70 (56 bytes), left out")
}
