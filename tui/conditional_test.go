package tui

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// paneText is the focused pane's text with its borders removed and its lines joined by spaces, so
// a sentence wrapped over lines reads whole.
func paneText(a *App) string {
	out := ansi.Strip(a.render())
	out = strings.NewReplacer("│", " ", "╭", " ", "╮", " ", "╰", " ", "╯", " ").Replace(out)
	return strings.Join(strings.Fields(out), " ")
}

// TestTheRunbookPaneShowsBothChoicesOnAFailure: a failed step whose failure a conditional step
// answers offers both choices — retry it, or confirm the fallback — and the fallback says why it
// runs and what the other choice is; a fallback still waiting says it runs only on the failure,
// and one not needed shows as such in its row and its detail.
func TestTheRunbookPaneShowsBothChoicesOnAFailure(t *testing.T) {
	fe := newFixtureEngine(50)
	fe.snap.Steps = append(fe.snap.Steps,
		engine.StepView{ID: "nopk-fallback", Title: "Roll back the data upgrade", Phase: "Drain and validate", Kind: "toolkit",
			State: engine.StateAwaiting, After: []string{"toolkit-nopk"}, WhenFailed: "toolkit-nopk", Destructive: true,
			Confirmation: &engine.ConfirmationView{Request: 90, Phrase: "ROLL BACK", Needed: 2, Since: fixedNow},
			Guard:        &engine.GuardView{Needed: 2, Phrase: "ROLL BACK", Skip: "SKIP nopk-fallback", Done: "DONE nopk-fallback"}},
		engine.StepView{ID: "validate-fallback", Title: "Recount by hand", Phase: "Drain and validate", Kind: "manual",
			State: engine.StatePending, After: []string{"validate-counts"}, WhenFailed: "validate-counts"},
		engine.StepView{ID: "hold-fallback", Title: "Release the batch jobs", Phase: "Shutdown", Kind: "manual",
			State: engine.StateNotNeeded, After: []string{"hold-batch"}, WhenFailed: "hold-batch", Finished: fixedNow.Add(-45 * time.Minute),
			Message: "not needed: hold-batch succeeded"},
	)
	a := newTestApp(fe, 140, 60, Options{})
	selectStep(a, "toolkit-nopk")
	if out := paneText(a); !strings.Contains(out, "t: retry · s: skip · d: mark done by hand · or instead confirm nopk-fallback (it runs because this failed)") {
		t.Fatalf("the failed step does not offer its fallback:\n%s", ansi.Strip(a.render()))
	}
	selectStep(a, "nopk-fallback")
	out := paneText(a)
	if !strings.Contains(out, `c: confirm (type "ROLL BACK") · n: no-go · 0 of 2 approved · it runs because toolkit-nopk failed; the other choice: retry toolkit-nopk`) ||
		!strings.Contains(out, "[destructive · 2 approvals · if toolkit-nopk fails · toolkit]") {
		t.Fatalf("the fallback does not say why it asks:\n%s", ansi.Strip(a.render()))
	}
	selectStep(a, "validate-fallback")
	if out := paneText(a); !strings.Contains(out, "runs only if validate-counts fails; not needed once it is done") {
		t.Fatalf("a waiting fallback:\n%s", ansi.Strip(a.render()))
	}
	selectStep(a, "hold-fallback")
	out = paneText(a)
	if !strings.Contains(out, "⊘ unneeded hold-fallback") || !strings.Contains(out, "state ⊘ not needed at 20:25:00") ||
		!strings.Contains(out, "result not needed: hold-batch succeeded") {
		t.Fatalf("a fallback not needed:\n%s", ansi.Strip(a.render()))
	}
	// A viewer sees both choices too, without the keys.
	v := newTestApp(fe, 140, 60, Options{ReadOnly: true})
	selectStep(v, "toolkit-nopk")
	if out := paneText(v); !strings.Contains(out, "failed: an operator must retry, skip or mark it done · or instead confirm nopk-fallback") {
		t.Fatalf("a viewer:\n%s", ansi.Strip(v.render()))
	}
}

// TestHeadlessSaysAStepIsNotNeeded: the headless printer's line for a fallback not needed says why.
func TestHeadlessSaysAStepIsNotNeeded(t *testing.T) {
	var b strings.Builder
	h := &headless{opt: HeadlessOptions{Local: time.UTC}, idWidth: 12}
	h.w = bufio.NewWriter(&b)
	h.stepLine(fixedNow, engine.StepView{ID: "rollback", State: engine.StateNotNeeded, Message: "not needed: watch-upgrade succeeded"})
	h.flush()
	if got := b.String(); !strings.Contains(got, "rollback     not needed not needed: watch-upgrade succeeded") {
		t.Fatalf("%q", got)
	}
}
