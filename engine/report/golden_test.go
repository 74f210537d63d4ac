package report_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/report"
	"cutover/engine/runbook"
)

var update = flag.Bool("update", false, "rewrite the report's golden files in testdata")

// goldenRunbook is the test runbook with the steps a real night has besides: the removal of
// replication (guarded, skipped by an override while its confirmation was open), the go-live
// gate (a no-go, then a go) and the steps after go-live, one of them still waiting for its
// confirmation when the journal ends.
var goldenRunbook = strings.Replace(testRunbook, `  - id: lcs-quota`, `  - id: remove-replication
    title: Remove the replication setup
    phase: Drain and validate
    kind: manual
    destructive: true
    confirm: REMOVE REPLICATION
    after: drain
    planned: 10m
    doc: data-upgrade-self-service.md, step 7 (cutover)

  - id: lcs-quota`, 1) + `
  - id: golive-go
    title: Go-live go/no-go
    phase: Go live
    kind: gate
    after: reopen
    planned: 5m
    with:
      question: Go live now?

  - id: batch-resume
    title: Resume the batch jobs
    phase: Go live
    kind: manual
    after: golive-go
    planned: 10m

  - id: hypercare
    title: Hand over to hypercare
    phase: Go live
    kind: manual
    destructive: true
    confirm: HYPERCARE
    after: batch-resume
    planned: 5m
`

// goldenNight is a realistic night in the journal: every step of goldenRunbook, gates decided
// after a wait, a guarded step skipped while its confirmation was open, a refresh started in the
// LCS portal (with the refreshes that had ended before it), and a confirmation still open at the
// end.
func goldenNight(t testing.TB, rb *runbook.Runbook) string {
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{Runbook: "cutover.yaml", RunbookHash: rb.Hash, Name: rb.Name, Environment: rb.Environment, Steps: len(rb.Steps)})
	w.add(time.Second, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 4242, RunbookHash: rb.Hash})
	pending := int64(84000)
	sample := func(d time.Duration) {
		w.add(d, engine.RecReplicationSample, "", engine.ReplicationSample{Pending: pending, DrainRate: 141.5, ETA: time.Duration(pending/141) * time.Second, Tables: 1234})
	}
	for i := 0; i < 4; i++ {
		sample(time.Minute)
		pending += 4000
	}
	// The downtime gate waits 7 minutes for its go.
	gate := w.add(time.Minute, engine.RecAwaiting, "downtime-go", engine.Awaiting{Action: "Start the downtime now?", Needed: 1})
	w.add(7*time.Minute, engine.RecApproved, "downtime-go", engine.Approved{Request: gate, Actor: ana, Count: 1, Needed: 1})
	w.add(0, engine.RecSucceeded, "downtime-go", engine.Succeeded{Attempt: 1, Message: "go: Ana", Actor: &ana})

	req := w.add(time.Second, engine.RecAwaiting, "aos-stop", engine.Awaiting{Action: "shut down the AOS", Needed: 1})
	w.add(2*time.Minute, engine.RecApproved, "aos-stop", engine.Approved{Request: req, Actor: carl, Count: 1, Needed: 1})
	w.add(time.Second, engine.RecStarted, "aos-stop", engine.Started{Attempt: 1, Action: "shut down the AOS"})
	for i := 0; i < 6; i++ {
		sample(2 * time.Minute)
		pending -= 9000
	}
	w.add(time.Minute, engine.RecSucceeded, "aos-stop", engine.Succeeded{Attempt: 1, Message: "done", Actor: &carl})

	w.add(time.Second, engine.RecStarted, "drain", engine.Started{Attempt: 1})
	for pending > 0 {
		pending = max(pending-11000, 0)
		sample(2 * time.Minute)
	}
	w.add(time.Minute, engine.RecSucceeded, "drain", engine.Succeeded{Attempt: 1, Message: "waited 20m"})

	// Replication was removed by the toolkit's clean-up: the guarded step is skipped by an
	// override while its own confirmation is still open.
	rm := w.add(time.Second, engine.RecAwaiting, "remove-replication", engine.Awaiting{Action: "remove the replication setup", Needed: 1})
	skip := w.add(3*time.Minute, engine.RecOverrideRequested, "remove-replication", engine.OverrideRequested{Action: engine.OverrideSkip, Actor: ana, Reason: "the toolkit's clean-up removed it", Needed: 1})
	w.add(0, engine.RecOverrideApproved, "remove-replication", engine.OverrideApproved{Request: skip, Action: engine.OverrideSkip, Actor: ana, Count: 1, Needed: 1})
	w.add(0, engine.RecSkipped, "remove-replication", engine.ByActor{Actor: ana, Reason: "the toolkit's clean-up removed it", Override: skip, Approvals: []engine.Approval{{Actor: ana}}})
	_ = rm

	w.add(time.Second, engine.RecStarted, "validate-counts", engine.Started{Attempt: 1})
	w.add(4*time.Minute, engine.RecValidation, "validate-counts", engine.ValidationRecord{
		Attempt: 1, Passed: false, Tables: 1234, Recounts: 1,
		Classes: map[engine.CountClass]int{engine.ClassMismatch: 1, engine.ClassExpected: 1, engine.ClassIgnored: 12, engine.ClassMatch: 1220},
		Notable: []engine.TableCheck{
			{Table: "CUSTINVOICETRANS", Class: engine.ClassMismatch, Source: 1284330, Target: 1284193, Delta: 137, Exact: true},
			{Table: "SYSTEMSEQUENCES", Class: engine.ClassExpected, Source: 55, Target: 50, Delta: 5, Reason: "sequences are reset by the upgrade"},
		},
		Files: []string{"validation-validate-counts-1.csv", "validation-validate-counts-1.json", "output/PostValidationInfo.csv"},
	})
	w.add(time.Second, engine.RecFailed, "validate-counts", engine.Failed{Attempt: 1, Error: "1 of 1234 tables do not match (1 mismatch, 1 expected difference, 12 ignored, 1220 match): CUSTINVOICETRANS mismatch (source 1284330, target 1284193, Δ 137, exact)"})
	w.add(6*time.Minute, engine.RecRecount, "validate-counts", engine.Recounted{Actor: ana, Before: engine.ClassMismatch,
		Check: engine.TableCheck{Table: "CUSTINVOICETRANS", Class: engine.ClassMatch, Source: 1284330, Target: 1284330, Exact: true}})
	w.add(time.Minute, engine.RecRetry, "validate-counts", engine.ByActor{Actor: ana, Reason: "CUSTINVOICETRANS re-delivered and recounted"})
	w.add(time.Second, engine.RecStarted, "validate-counts", engine.Started{Attempt: 2})
	w.add(4*time.Minute, engine.RecValidation, "validate-counts", engine.ValidationRecord{
		Attempt: 2, Passed: true, Tables: 1234,
		Classes: map[engine.CountClass]int{engine.ClassExpected: 1, engine.ClassIgnored: 12, engine.ClassMatch: 1221},
		Notable: []engine.TableCheck{{Table: "SYSTEMSEQUENCES", Class: engine.ClassExpected, Source: 55, Target: 50, Delta: 5, Reason: "sequences are reset by the upgrade"}},
		Files:   []string{"validation-validate-counts-2.csv", "validation-validate-counts-2.json", "output/PostValidationInfo.csv"},
	})
	w.add(time.Second, engine.RecSucceeded, "validate-counts", engine.Succeeded{Attempt: 2, Message: "1234 tables: 1 expected difference, 12 ignored, 1221 match"})

	w.add(time.Second, engine.RecStarted, "lcs-quota", engine.Started{Attempt: 1})
	w.add(2*time.Second, engine.RecSucceeded, "lcs-quota", engine.Succeeded{Attempt: 1, Message: "2 of 3 database operations left for production (needs 1)"})

	// The production refresh: two operators confirm, then start it in the LCS portal.
	refresh := w.add(time.Second, engine.RecAwaiting, "production-refresh", engine.Awaiting{Action: "refresh production", Needed: 2})
	w.add(4*time.Minute, engine.RecApproved, "production-refresh", engine.Approved{Request: refresh, Actor: ana, Count: 1, Needed: 2})
	w.add(3*time.Minute, engine.RecApproved, "production-refresh", engine.Approved{Request: refresh, Actor: carl, Count: 2, Needed: 2})
	w.add(time.Second, engine.RecStarted, "production-refresh", engine.Started{Attempt: 1})
	at := func() string { return w.now.Add(413 * time.Millisecond).Format(time.RFC3339Nano) }
	w.add(0, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"guided_since": at()}})
	w.add(time.Second, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"known_at": at(), "ended_before": "5f0c2a9e-7d31-4c1b-a2f4-rehearsal0001"}})
	w.add(6*time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"activity": lcsOperation}})
	w.add(time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"status": "InProgress"}})
	w.add(44*time.Minute, engine.RecExternal, "production-refresh", engine.External{Attempt: 1, Ref: map[string]string{"status": "Completed"}})
	w.add(time.Second, engine.RecSucceeded, "production-refresh", engine.Succeeded{Attempt: 1, Message: "refresh " + lcsOperation + " Completed after 51m"})

	w.add(time.Second, engine.RecStarted, "smoke", engine.Started{Attempt: 1})
	w.add(4*time.Minute, engine.RecSucceeded, "smoke", engine.Succeeded{Attempt: 1, Message: "12 checks passed"})
	w.add(time.Second, engine.RecStarted, "reopen", engine.Started{Attempt: 1})
	w.add(6*time.Minute, engine.RecSucceeded, "reopen", engine.Succeeded{Attempt: 1, Message: "done", Actor: &carl})

	// The go-live gate: a no-go, a retry, then a go 12 minutes after it asked again.
	golive := w.add(time.Second, engine.RecAwaiting, "golive-go", engine.Awaiting{Action: "Go live now?", Needed: 1})
	w.add(3*time.Minute, engine.RecDeclined, "golive-go", engine.Declined{Request: golive, Actor: carl, Reason: "two smoke checks of accounts receivable are red"})
	w.add(9*time.Minute, engine.RecRetry, "golive-go", engine.ByActor{Actor: ana, Reason: "accounts receivable re-checked: green"})
	golive = w.add(time.Second, engine.RecAwaiting, "golive-go", engine.Awaiting{Action: "Go live now?", Needed: 1})
	w.add(12*time.Minute, engine.RecApproved, "golive-go", engine.Approved{Request: golive, Actor: ana, Count: 1, Needed: 1})
	w.add(0, engine.RecSucceeded, "golive-go", engine.Succeeded{Attempt: 1, Message: "go: Ana", Actor: &ana})

	w.add(time.Second, engine.RecStarted, "batch-resume", engine.Started{Attempt: 1})
	w.add(8*time.Minute, engine.RecSucceeded, "batch-resume", engine.Succeeded{Attempt: 1, Message: "done: 47 jobs back to Waiting", Actor: &carl})
	w.add(time.Second, engine.RecAwaiting, "hypercare", engine.Awaiting{Action: "hand over to hypercare", Needed: 1})
	w.add(5*time.Minute, engine.RecReplicationSample, "", engine.ReplicationSample{Tables: 1234})
	path, _ := w.close()
	return path
}

// goldenReport builds the report of goldenNight, both formats, with the machine's temporary
// directory written as $DIR (the golden files do not depend on where the test ran).
func goldenReport(t *testing.T) (md, doc string) {
	t.Helper()
	dir := t.TempDir()
	rb := parseRunbook(t, dir, goldenRunbook)
	path := goldenNight(t, rb)
	_, md, doc = build(t, report.Options{Runbook: rb, Journal: path, Now: func() time.Time { return time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC) }})
	journalDir := filepath.Dir(path)
	for _, d := range []string{journalDir, dir} {
		md = strings.ReplaceAll(md, mdText(d), "$DIR")
		md = strings.ReplaceAll(md, d, "$DIR")
		doc = strings.ReplaceAll(doc, d, "$DIR")
	}
	return md, doc
}

// TestReportGolden: the report of a realistic night, as Markdown and HTML, is the one in
// testdata (go test ./engine/report -run TestReportGolden -update rewrites them; review the diff).
func TestReportGolden(t *testing.T) {
	md, doc := goldenReport(t)
	for name, got := range map[string]string{"report.md": md, "report.html": doc} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, firstDiff(string(want), got))
		}
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n want " + a + "\n  got " + b
		}
	}
	return "(same lines)"
}

// Raw field names are what a program calls things, not a document: a journal reference's key
// (ended_before, known_at), a Go field (RetryAt:), a map or struct printed whole, a time with
// its nanoseconds. The rule, applied to the report's text outside code (Markdown code spans,
// HTML <code> and <style>):
var rawFieldPatterns = map[string]*regexp.Regexp{
	"a snake_case identifier":           regexp.MustCompile(`\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b`),
	"a Go or JSON field name and colon": regexp.MustCompile(`\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*:|"[A-Za-z_]+":`),
	"a Go value printed whole":          regexp.MustCompile(`map\[|&\{|\{[A-Z][A-Za-z]*:|%!`),
	"a time with fractions of a second": regexp.MustCompile(`\d{2}:\d{2}:\d{2}[.,]\d+`),
	"a time in Go's default format":     regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}`),
	"a field label without its value":   regexp.MustCompile(`[a-z]:\s*\||\|\s*\|`),
}

var (
	mdCode     = regexp.MustCompile("`[^`\n]*`")
	mdEscape   = regexp.MustCompile(`\\(.)`)
	htmlHidden = regexp.MustCompile(`(?s)<(style|code|script)\b.*?</(style|code|script)>`)
	htmlTag    = regexp.MustCompile(`<[^>]*>`)
)

// documentText is what a reader of the report reads: Markdown without code spans and escapes,
// HTML's text without its markup, style and code.
func documentText(name, doc string) string {
	if strings.HasSuffix(name, ".html") {
		doc = htmlHidden.ReplaceAllString(doc, " ")
		doc = strings.ReplaceAll(doc, "</td>", " |") // a cell ends as in Markdown
		doc = htmlTag.ReplaceAllString(doc, " ")
		return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&#39;", "'").Replace(doc)
	}
	return mdEscape.ReplaceAllString(mdCode.ReplaceAllString(doc, " "), "$1")
}

// rawFields lists the raw field names in a report's text, one line each.
func rawFields(name, doc string) []string {
	var out []string
	for i, line := range strings.Split(documentText(name, doc), "\n") {
		for what, re := range rawFieldPatterns {
			if m := re.FindString(line); m != "" {
				out = append(out, name+":"+strconv.Itoa(i+1)+": "+what+": "+m+"\n\t"+strings.TrimSpace(line))
			}
		}
	}
	return out
}

// TestReportReadsAsADocument: neither golden file (nor the report as built now) shows a raw field
// name; and the rule does catch the raw fields the report used to show.
func TestReportReadsAsADocument(t *testing.T) {
	md, doc := goldenReport(t)
	files := map[string]string{"built report.md": md, "built report.html": doc}
	for _, name := range []string{"report.md", "report.html"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	for name, text := range files {
		for _, f := range rawFields(name, text) {
			t.Errorf("raw field name in %s", f)
		}
	}
	for _, bad := range []string{
		"| 2026-12-06T00:07:00Z | 1 | ended\\_before: 5f0c2a9e |",
		"| 2026-12-06T00:07:00Z | 1 | known\\_at: 2026-12-06T00:07:00.413Z |",
		"<td>start it yourself in the LCS portal: RetryAt: 5m</td>",
		"<tr><td>Ended:</td><td>2026-12-06T00:07:00Z</td></tr>",
		"| Outcome | map[a:1] |",
		"| Started | 2026-12-05 18:00:00 +0000 UTC |",
		"| Ended | |",
	} {
		name := "x.md"
		if strings.HasPrefix(bad, "<") {
			name = "x.html"
		}
		if len(rawFields(name, bad)) == 0 {
			t.Errorf("the rule misses the raw field in %q", bad)
		}
	}
	for _, fine := range []string{
		"| 7 | production-refresh | LCS: refresh production | Production | 1h | 2026-12-05T19:00:00Z |",
		"| dbo.CUSTINVOICETRANS | mismatch | 1,284,330 |",
		"Every table's counts: validation-validate-counts-1.csv, output/PostValidationInfo.csv.",
		"states InProgress → Completed; Key fingerprint SHA256:AnaKey9x+Q/abc",
	} {
		if f := rawFields("x.md", fine); len(f) != 0 {
			t.Errorf("the rule flags a document's text: %v", f)
		}
	}
}

// TestRequestsAndGatesAsTheJournalSays: each request ends as its records say — a confirmation
// open when its step was skipped is "skipped", a declined one "no-go", one nobody answered
// "open" — and each gate shows its wait from ready to decision and the decision.
func TestRequestsAndGatesAsTheJournalSays(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, goldenRunbook)
	r, md, _ := build(t, report.Options{Runbook: rb, Journal: goldenNight(t, rb)})
	states := map[string][]report.RequestState{}
	for _, q := range r.Confirmations.Requests {
		states[q.Step] = append(states[q.Step], q.State)
	}
	want := map[string][]report.RequestState{
		"downtime-go":        {report.RequestConfirmed},
		"remove-replication": {report.RequestSkipped, report.RequestApproved},
		"golive-go":          {report.RequestNoGo, report.RequestConfirmed},
		"hypercare":          {report.RequestOpen},
	}
	for step, w := range want {
		if got := states[step]; strings.Join(stateWords(got), ",") != strings.Join(stateWords(w), ",") {
			t.Errorf("%s's requests: %v, want %v", step, got, w)
		}
	}
	type gate struct {
		step, decision, by string
		wait               time.Duration
	}
	var gates []gate
	for _, g := range r.Gates {
		gates = append(gates, gate{g.Step, g.Decision, g.By, g.Wait})
	}
	wantGates := []gate{{"downtime-go", "go", "Ana", 7 * time.Minute}, {"golive-go", "no-go", "Carl", 3 * time.Minute}, {"golive-go", "go", "Ana", 12 * time.Minute}}
	if len(gates) != len(wantGates) {
		t.Fatalf("gates %+v, want %+v", gates, wantGates)
	}
	for i := range gates {
		if gates[i] != wantGates[i] {
			t.Errorf("gate %d: %+v, want %+v", i, gates[i], wantGates[i])
		}
	}
	mustContain(t, "Markdown", md,
		"| 1 | downtime-go | Downtime go/no-go | Before downtime | 5m | 2026-12-05T17:35:01Z | 2026-12-05T17:42:01Z | 7m wait | — | go (Ana) |",
		"| skipped | the step was skipped by Ana at 2026-12-05T18:11:05Z: the toolkit's clean-up removed it while the request was open |",
		"| open | open at the end of the journal: nobody has answered it |")
	if strings.Contains(md, "still open") {
		t.Error("a request is called still open")
	}
}

func stateWords(s []report.RequestState) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}
