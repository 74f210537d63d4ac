package engine_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cutover/engine"
)

// fakeCounts holds approximate and exact counts per side.
type fakeCounts struct {
	mu     sync.Mutex
	approx [2]map[string]int64
	exact  [2]map[string]int64
	exacts int
	block  chan struct{}
	// fail makes a side's exact count of a table fail with the error (not a missing table).
	fail [2]map[string]error
}

func newFakeCounts(n int) *fakeCounts {
	f := &fakeCounts{}
	for s := 0; s < 2; s++ {
		f.approx[s], f.exact[s] = map[string]int64{}, map[string]int64{}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("TABLE%05d", i)
		f.set(name, int64(i*7), int64(i*7))
	}
	return f
}

func (f *fakeCounts) set(table string, src, tgt int64) {
	f.approx[0][table], f.approx[1][table] = src, tgt
	f.exact[0][table], f.exact[1][table] = src, tgt
}

func (f *fakeCounts) Rows(_ context.Context, s engine.Side) ([]engine.TableRows, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]engine.TableRows, 0, len(f.approx[s]))
	for t, n := range f.approx[s] {
		out = append(out, engine.TableRows{Table: "dbo." + t, Rows: n, HasPK: true})
	}
	return out, nil
}

func (f *fakeCounts) Exact(ctx context.Context, s engine.Side, tables []string, _ int, progress func(done, total int)) ([]engine.ExactRows, error) {
	var out []engine.ExactRows
	for i, t := range tables {
		if f.block != nil {
			select {
			case <-f.block:
			case <-ctx.Done():
				return out, ctx.Err()
			}
		}
		f.mu.Lock()
		f.exacts++
		n, ok := f.exact[s][t]
		failure := f.fail[s][t]
		f.mu.Unlock()
		r := engine.ExactRows{Table: t, Rows: n}
		switch {
		case failure != nil:
			r.Err = failure
		case !ok:
			r.Err, r.Missing = fmt.Errorf("Invalid object name 'dbo.%s'. (208)", t), true
		}
		out = append(out, r)
		if progress != nil {
			progress(i+1, len(tables))
		}
	}
	return out, nil
}

// plant puts one of each kind of difference among 10,000 tables.
func plant(f *fakeCounts) {
	f.set("CUSTINVOICETRANS", 1000, 863) // a real mismatch
	f.set("INVENTTRANS", 5000, 4000)     // still draining
	f.exact[1]["INVENTTRANS"] = 4500     // …and still short when recounted
	f.set("SALESLINE", 300, 300)         // statistics are stale…
	f.approx[1]["SALESLINE"] = 250       // …but exact counts match
	f.set("SALESPARMLINE", 40, 0)        // missing on the target
	delete(f.approx[1], "SALESPARMLINE")
	f.set("MSSUBSCRIPTION_AGENTS", 0, 4) // extra on the target
	delete(f.approx[0], "MSSUBSCRIPTION_AGENTS")
	f.set("AIFMESSAGELOG", 70, 0) // ignored (not replicated)
	delete(f.approx[1], "AIFMESSAGELOG")
	f.set("SYSTEMSEQUENCES", 55, 50) // expected: 5 fewer
	f.set("SYSUSERLOG", 10, 3)       // expected: any difference
}

func rules() engine.ValidationRules {
	return engine.ValidationRules{Recount: true, Ignore: []string{"AIFMESSAGELOG"},
		Expect: []engine.ExpectedDifference{{Table: "SYSTEMSEQUENCES", Delta: 5, Reason: "sequences are reset by the upgrade"},
			{Table: "SYSUSERLOG", Any: true, Reason: "login history keeps growing until the AOS stop"}}}
}

func TestValidateFindsExactlyThePlantedDifferences(t *testing.T) {
	f := newFakeCounts(10000)
	plant(f)
	pending := map[string]int64{"INVENTTRANS": 500}
	var progress []int
	v, err := engine.Validate(context.Background(), f, rules(), pending, t0, func(done, total int) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]engine.CountClass{"CUSTINVOICETRANS": engine.ClassMismatch, "INVENTTRANS": engine.ClassDraining,
		"SALESPARMLINE": engine.ClassMissing, "MSSUBSCRIPTION_AGENTS": engine.ClassExtra, "AIFMESSAGELOG": engine.ClassIgnored,
		"SYSTEMSEQUENCES": engine.ClassExpected, "SYSUSERLOG": engine.ClassExpected}
	got := map[string]engine.TableCheck{}
	for _, tc := range v.Tables {
		if tc.Class != engine.ClassMatch {
			got[tc.Table] = tc
		}
	}
	if len(got) != len(want) {
		t.Errorf("found %d non-matching tables, planted %d: %v", len(got), len(want), got)
	}
	for table, class := range want {
		if got[table].Class != class {
			t.Errorf("%s: %s, want %s", table, got[table].Class, class)
		}
	}
	if tc := got["CUSTINVOICETRANS"]; tc.Delta != 137 || !tc.Exact {
		t.Errorf("the mismatch must be recounted exactly: %+v", tc)
	}
	if tc := got["INVENTTRANS"]; tc.Target != 4500 || tc.Pending != 500 {
		t.Errorf("draining table: %+v", tc)
	}
	if got["SYSTEMSEQUENCES"].Reason != "sequences are reset by the upgrade" {
		t.Errorf("the reason of an expected difference must be kept: %+v", got["SYSTEMSEQUENCES"])
	}
	// Stale statistics, a mismatch and a draining table are recounted: 3 tables on each side.
	if v.Recounts != 3 || f.exacts != 6 || len(progress) != 6 || progress[5] != 6 {
		t.Errorf("recounts %d, exact queries %d, progress %v", v.Recounts, f.exacts, progress)
	}
	// 10,000 generated tables plus 8 planted ones, 7 of which do not simply match.
	if v.Passed || v.Classes[engine.ClassMatch] != 10001 {
		t.Errorf("passed %v, %d matches (%s)", v.Passed, v.Classes[engine.ClassMatch], v.Summary())
	}
	if v.Tables[0].Class != engine.ClassMismatch {
		t.Errorf("problems come first: %+v", v.Tables[0])
	}

	// CSV and JSON carry every table.
	var csvBuf, jsonBuf bytes.Buffer
	if err := v.WriteCSV(&csvBuf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&csvBuf).ReadAll()
	if err != nil || len(recs) != len(v.Tables)+1 || strings.Join(recs[0], ",") != "table,class,source,target,delta,pending,exact,reason,error" {
		t.Fatalf("csv: %d records, %v", len(recs), err)
	}
	if strings.Join(recs[1][:5], ",") != "CUSTINVOICETRANS,mismatch,1000,863,137" {
		t.Fatalf("csv first row %v", recs[1])
	}
	if err := v.WriteJSON(&jsonBuf); err != nil {
		t.Fatal(err)
	}
	var back engine.Validation
	if err := json.Unmarshal(jsonBuf.Bytes(), &back); err != nil || len(back.Tables) != len(v.Tables) || back.Classes[engine.ClassExpected] != 2 {
		t.Fatalf("json round trip: %v, %d tables, %v", err, len(back.Tables), back.Classes)
	}
}

func TestValidateTolerance(t *testing.T) {
	f := newFakeCounts(10)
	f.set("BIG", 1_000_000, 999_998)
	v, err := engine.Validate(context.Background(), f, engine.ValidationRules{Tolerance: 2}, nil, t0, nil)
	if err != nil || !v.Passed {
		t.Fatalf("within tolerance: %v %s", err, v.Summary())
	}
}

func TestValidateCountsStep(t *testing.T) {
	dir := t.TempDir()
	ignore := filepath.Join(dir, "IgnoreTables.xml")
	os.WriteFile(ignore, []byte(`<IgnoreTables><Name><Table>AIFMESSAGELOG</Table></Name></IgnoreTables>`), 0o600)
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - id: validate
    title: Validate record counts
    kind: validate.counts
    with:
      ignore_file: `+ignore+`
      expect:
        - {table: SYSTEMSEQUENCES, difference: 5, reason: sequences are reset by the upgrade}
        - {table: SYSUSERLOG, difference: any, reason: login history}
`)
	f := newFakeCounts(200)
	plant(f)
	h.opts.Ports.Counts = f
	h.start()
	st := h.waitStep("validate", engine.StateFailed)
	// Without a monitor nothing is known to be pending: INVENTTRANS counts as a mismatch here.
	for _, want := range []string{"4 of 208", "CUSTINVOICETRANS mismatch (source 1000, target 863, Δ 137, exact)", "SALESPARMLINE missing on target", "validation-validate-1.csv"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("error lacks %q: %s", want, st.LastError)
		}
	}
	var rec engine.ValidationRecord
	for _, r := range h.records() {
		if r.Type == string(engine.RecValidation) {
			r.Decode(&rec)
		}
	}
	var reason string
	for _, n := range rec.Notable {
		if n.Table == "SYSTEMSEQUENCES" {
			reason = n.Reason
		}
	}
	if rec.Passed || rec.Classes[engine.ClassMismatch] != 2 || reason != "sequences are reset by the upgrade" || len(rec.Files) != 3 {
		t.Fatalf("journaled validation %+v", rec)
	}
	// Beside cutover's own CSV and JSON, the newest validation in the dv report's place.
	dv, err := os.ReadFile(filepath.Join(h.dir, "state", engine.DVFile))
	if err != nil || !strings.HasPrefix(string(dv), "TableName,SourceRecordCount,TargetRecordCount,Difference,Matched\n") ||
		!strings.Contains(string(dv), "\nCUSTINVOICETRANS,1000,863,137,false\n") {
		t.Fatalf("dv file: %v\n%.300s", err, dv)
	}
	if h.e.Validation() == nil || h.e.Validation().Passed {
		t.Fatal("the newest validation must be kept for the cockpit")
	}
	// Fixed on the target (the catch-up publication re-delivered the tables); retry passes.
	f.mu.Lock()
	for _, table := range []string{"CUSTINVOICETRANS", "INVENTTRANS"} {
		f.set(table, 1000, 1000)
	}
	f.set("SALESPARMLINE", 40, 40)
	delete(f.approx[0], "MSSUBSCRIPTION_AGENTS")
	delete(f.approx[1], "MSSUBSCRIPTION_AGENTS")
	f.mu.Unlock()
	h.e.Retry("validate", ana)
	st = h.waitStep("validate", engine.StateSucceeded)
	if !strings.Contains(st.Message, "2 expected difference") {
		t.Fatalf("message %q", st.Message)
	}
	h.restart()
	if v := h.e.Validation(); v == nil || !v.Passed {
		t.Fatal("the newest validation must be reloaded after a restart")
	}
}

func TestValidateRecountIsCancellable(t *testing.T) {
	f := newFakeCounts(10)
	f.set("SLOW", 10, 5)
	f.block = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := engine.Validate(ctx, f, engine.ValidationRules{Recount: true}, nil, time.Now(), nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled validation: %v", err)
	}
}

// fullDisk is a writer on a full disk: the kernel's ENOSPC from /dev/full where there is one, the
// same error made by hand elsewhere.
func fullDisk(t *testing.T) io.Writer {
	t.Helper()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		return writerFunc(func([]byte) (int, error) {
			return 0, &os.PathError{Op: "write", Path: "(full disk)", Err: syscall.ENOSPC}
		})
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

// TestValidationEvidenceIsWholeOrTheStepFails: the disk fills up while a validation's JSON is
// written. The step fails with the reason (the file and "no space left on device"), none of that
// validation's files is left — no CSV without its JSON, no temporary file — the journal's record
// names no file, and the previous validation's files, the dv file among them, are as they were.
func TestValidationEvidenceIsWholeOrTheStepFails(t *testing.T) {
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - {id: validate, title: Validate record counts, kind: validate.counts}
`)
	f := newFakeCounts(50)
	f.set("CUSTTRANS", 10, 9)
	h.opts.Ports.Counts = f
	var full atomic.Bool
	disk := fullDisk(t)
	h.opts.EvidenceWriter = func(path string, w io.Writer) io.Writer {
		if full.Load() && strings.HasSuffix(path, ".json") {
			return disk
		}
		return w
	}
	state := filepath.Join(h.dir, "state")
	h.start()
	// Attempt 1 finds a mismatch and keeps its evidence.
	h.waitStep("validate", engine.StateFailed)
	before := map[string][]byte{}
	for _, name := range []string{"validation-validate-1.csv", "validation-validate-1.json", engine.DVFile} {
		data, err := os.ReadFile(filepath.Join(state, name))
		if err != nil {
			t.Fatalf("attempt 1's evidence: %v", err)
		}
		before[name] = data
	}
	// The table is fixed; the retry would pass, but the disk is full.
	f.mu.Lock()
	f.set("CUSTTRANS", 10, 10)
	f.mu.Unlock()
	full.Store(true)
	if err := h.e.Retry("validate", ana); err != nil {
		t.Fatal(err)
	}
	st := h.waitStep("validate", engine.StateFailed)
	if st.Attempt != 2 {
		t.Fatalf("attempt %d failed, want the retry", st.Attempt)
	}
	for _, want := range []string{"evidence could not be kept, so the step fails", filepath.Join(state, "validation-validate-2.json"), "no space left on device"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("error lacks %q: %s", want, st.LastError)
		}
	}
	for _, name := range []string{"validation-validate-2.csv", "validation-validate-2.json"} {
		if _, err := os.Stat(filepath.Join(state, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of the failed save is there (%v): half the evidence is no evidence", name, err)
		}
	}
	for _, dir := range []string{state, filepath.Join(state, filepath.Dir(engine.DVFile))} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("a partial file was left: %s", filepath.Join(dir, e.Name()))
			}
		}
	}
	for name, data := range before {
		if got, err := os.ReadFile(filepath.Join(state, name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("attempt 1's %s changed: %v", name, err)
		}
	}
	var recs []engine.ValidationRecord
	for _, r := range h.records() {
		if r.Type == string(engine.RecValidation) {
			var rec engine.ValidationRecord
			r.Decode(&rec)
			recs = append(recs, rec)
		}
	}
	if len(recs) != 2 || len(recs[0].Files) != 3 || len(recs[1].Files) != 0 {
		t.Fatalf("journaled validations %+v: the failed save's record must name no file", recs)
	}
}
