package engine_test

import (
	"context"
	"errors"
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
