package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
)

// gatedCounts is fakeCounts whose next exact count, once armed, waits for the test.
type gatedCounts struct {
	*fakeCounts
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	open    chan struct{}
}

func (g *gatedCounts) Exact(ctx context.Context, s engine.Side, tables []string, n int, progress func(done, total int)) ([]engine.ExactRows, error) {
	g.mu.Lock()
	wait := g.armed
	g.armed = false
	g.mu.Unlock()
	if wait {
		g.entered <- struct{}{}
		<-g.open
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	return g.fakeCounts.Exact(ctx, s, tables, n, progress)
}

// TestRecountNeverPublishesAnOlderValidation: a recount that began on one validation and ends
// after a newer validation was recorded is discarded; it neither replaces the newer validation
// for the cockpit nor is journaled as evidence about it.
func TestRecountNeverPublishesAnOlderValidation(t *testing.T) {
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - {id: validate, title: Validate record counts, kind: validate.counts}
`)
	f := newFakeCounts(20)
	f.set("CUSTINVOICETRANS", 1000, 863)
	g := &gatedCounts{fakeCounts: f, entered: make(chan struct{}), open: make(chan struct{})}
	h.opts.Ports.Counts = g
	h.start()
	h.waitStep("validate", engine.StateFailed)
	v1 := h.e.Validation()

	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	type result struct {
		tc  engine.TableCheck
		err error
	}
	done := make(chan result, 1)
	go func() {
		tc, err := h.e.Recount(context.Background(), "CUSTINVOICETRANS", ana)
		done <- result{tc, err}
	}()
	select {
	case <-g.entered:
	case <-time.After(waitLimit):
		t.Fatal("the recount never counted")
	}

	// Meanwhile the table is fixed and the step validates again: a newer validation.
	f.mu.Lock()
	f.set("CUSTINVOICETRANS", 1000, 1000)
	f.mu.Unlock()
	if err := h.e.Retry("validate", ana); err != nil {
		t.Fatal(err)
	}
	h.waitStep("validate", engine.StateSucceeded)
	v2 := h.e.Validation()
	if v2 == v1 || !v2.Passed {
		t.Fatalf("the retry did not record a newer, passing validation: %+v", v2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, events := h.e.Subscribe(ctx)

	close(g.open)
	r := <-done
	if !errors.Is(r.err, engine.ErrValidationReplaced) {
		t.Fatalf("recount across a newer validation: %v, want ErrValidationReplaced", r.err)
	}
	if got := h.e.Validation(); got != v2 {
		t.Fatalf("the recount replaced the newer validation: passed %v, at %v", got.Passed, got.At)
	}
	if n := h.count(engine.RecRecount, "validate"); n != 0 {
		t.Fatalf("a discarded recount was journaled %d time(s)", n)
	}
	// A new event would be ready now (publishing is synchronous): none may carry an old validation.
	for {
		select {
		case ev := <-events:
			if vu, ok := ev.(engine.ValidationUpdated); ok && vu.Validation != v2 {
				t.Fatalf("published a validation older than the newest: passed %v", vu.Validation.Passed)
			}
			continue
		default:
		}
		break
	}

	// A recount on the newest validation is applied and journaled.
	tc, err := h.e.Recount(context.Background(), "CUSTINVOICETRANS", ana)
	if err != nil || tc.Class != engine.ClassMatch {
		t.Fatalf("recount on the newest validation: %+v, %v", tc, err)
	}
	if h.count(engine.RecRecount, "validate") != 1 || h.e.Validation() == v2 {
		t.Fatal("the recount on the newest validation was not adopted")
	}
}

// TestRecountTellsTheTruthAboutAbsentAndIgnoredTables: a table on the ignore list is not counted
// at all; a table absent on one side is recounted as absent there (no failure, no 208 passed off
// as a count) and as present once it arrives; a side that cannot be counted fails the recount
// with the side and the reason, and nothing is journaled or changed.
func TestRecountTellsTheTruthAboutAbsentAndIgnoredTables(t *testing.T) {
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - id: validate
    title: Validate record counts
    kind: validate.counts
    with: {ignore: [AIFMESSAGELOG]}
`)
	f := newFakeCounts(20)
	f.set("AIFMESSAGELOG", 70, 0) // not replicated on purpose: not on the target
	delete(f.approx[1], "AIFMESSAGELOG")
	delete(f.exact[1], "AIFMESSAGELOG")
	f.set("SALESPARMLINE", 40, 0) // missing on the target
	delete(f.approx[1], "SALESPARMLINE")
	delete(f.exact[1], "SALESPARMLINE")
	f.set("CUSTTRANS", 100, 90)
	h.opts.Ports.Counts = f
	h.start()
	h.waitStep("validate", engine.StateFailed)
	ctx := context.Background()
	exacts := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.exacts
	}

	before, v := exacts(), h.e.Validation()
	if _, err := h.e.Recount(ctx, "AIFMESSAGELOG", ana); !errors.Is(err, engine.ErrIgnoredTable) {
		t.Fatalf("recount of an ignored table: %v, want ErrIgnoredTable", err)
	}
	if exacts() != before || h.e.Validation() != v || h.count(engine.RecRecount, "validate") != 0 {
		t.Fatal("an ignored table was counted, or its recount changed something")
	}

	tc, err := h.e.Recount(ctx, "SALESPARMLINE", ana)
	if err != nil || tc.Class != engine.ClassMissing || tc.Source != 40 || tc.Error != "" {
		t.Fatalf("recount of a table still missing on the target: %+v, %v", tc, err)
	}
	f.mu.Lock()
	f.exact[1]["SALESPARMLINE"] = 40 // its snapshot is delivered
	f.mu.Unlock()
	if tc, err = h.e.Recount(ctx, "SALESPARMLINE", ana); err != nil || tc.Class != engine.ClassMatch || tc.Target != 40 {
		t.Fatalf("recount once the table arrived: %+v, %v", tc, err)
	}
	if n := h.count(engine.RecRecount, "validate"); n != 2 {
		t.Fatalf("%d recounts journaled, want 2", n)
	}

	f.mu.Lock()
	f.fail[1] = map[string]error{"CUSTTRANS": errors.New("Login timeout expired")}
	f.mu.Unlock()
	v = h.e.Validation()
	tc, err = h.e.Recount(ctx, "CUSTTRANS", ana)
	if !errors.Is(err, engine.ErrRecountFailed) || !strings.Contains(err.Error(), "target: Login timeout expired") || tc != (engine.TableCheck{}) {
		t.Fatalf("recount with the target unreadable: %+v, %v", tc, err)
	}
	if h.e.Validation() != v || h.count(engine.RecRecount, "validate") != 2 {
		t.Fatal("a failed recount changed the validation or was journaled")
	}
}

// TestRecountSurvivesARestart: the operators' recounts are journaled; a restarted engine shows
// the validation with them applied, not as its file was written before them.
func TestRecountSurvivesARestart(t *testing.T) {
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - {id: validate, title: Validate record counts, kind: validate.counts}
`)
	f := newFakeCounts(20)
	f.set("CUSTINVOICETRANS", 1000, 863)
	h.opts.Ports.Counts = f
	h.start()
	h.waitStep("validate", engine.StateFailed)
	f.mu.Lock()
	f.set("CUSTINVOICETRANS", 1000, 1000)
	f.mu.Unlock()
	tc, err := h.e.Recount(context.Background(), "CUSTINVOICETRANS", ana)
	if err != nil || tc.Class != engine.ClassMatch {
		t.Fatalf("recount: %+v, %v", tc, err)
	}
	want := h.e.Validation()
	h.restart()
	got := h.e.Validation()
	if got == nil {
		t.Fatal("no validation after the restart")
	}
	for _, tb := range got.Tables {
		if tb.Table == "CUSTINVOICETRANS" && (tb.Class != engine.ClassMatch || tb.Target != 1000) {
			t.Fatalf("after the restart CUSTINVOICETRANS is %s (target %d): the recount was lost", tb.Class, tb.Target)
		}
	}
	if got.Classes[engine.ClassMatch] != want.Classes[engine.ClassMatch] || got.Classes[engine.ClassMismatch] != want.Classes[engine.ClassMismatch] {
		t.Fatalf("classes after the restart %v, before %v", got.Classes, want.Classes)
	}
}
