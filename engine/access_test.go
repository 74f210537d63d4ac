package engine_test

import (
	"strings"
	"testing"

	"cutover/engine"
)

// TestAccessChangesAreJournaledAndReplay: a session losing rights is evidence in the journal, in
// the log, and a journal holding it opens again.
func TestAccessChangesAreJournaledAndReplay(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: g, title: Go live, kind: gate}\n").start()
	h.waitStep("g", engine.StateAwaiting)
	if err := h.e.RecordAccess(engine.AccessChanged{Actor: ana, Role: engine.RoleViewer, Reason: "role viewer in team.keys"}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.RecordAccess(engine.AccessChanged{Actor: ana, Removed: true, Closed: true, Reason: "key removed from team.keys"}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.RecordAccess(engine.AccessChanged{}); err == nil {
		t.Fatal("an access change without an actor was journaled")
	}
	var got []engine.AccessChanged
	for _, r := range h.records() {
		var p engine.AccessChanged
		if r.Type == string(engine.RecAccessChanged) && r.Decode(&p) == nil {
			got = append(got, p)
		}
	}
	if len(got) != 2 || got[0].Role != engine.RoleViewer || !got[1].Removed || got[1].Actor.Fingerprint != ana.Fingerprint {
		t.Fatalf("journaled %+v", got)
	}
	var logged int
	for _, l := range h.e.Logs(100, "") {
		if strings.Contains(l.Msg, "Ana (ssh, SHA256:ana) is now a viewer: session read-only (role viewer in team.keys)") ||
			strings.Contains(l.Msg, "Ana (ssh, SHA256:ana) lost access: session closed (key removed from team.keys)") {
			logged++
		}
	}
	if logged != 2 {
		t.Fatalf("%d of 2 access changes logged: %+v", logged, h.e.Logs(100, ""))
	}
	before := h.e.Snapshot()
	h.restart()
	if st, _ := h.e.Snapshot().Step("g"); st.State != engine.StateAwaiting || h.e.Snapshot().Seq <= before.Seq {
		t.Fatalf("after replay: %s (seq %d, was %d)", st.State, h.e.Snapshot().Seq, before.Seq)
	}
}

// TestGateLogNamesItsApproverOnce: a gate's success says who approved it once ("go: approved by
// Ana"), not again in brackets.
func TestGateLogNamesItsApproverOnce(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: g, title: Go live, kind: gate}\n").start()
	st := h.waitStep("g", engine.StateAwaiting)
	if _, err := h.e.Confirm("g", st.Confirmation.Request, ana, st.Confirmation.Phrase); err != nil {
		t.Fatal(err)
	}
	h.waitStep("g", engine.StateSucceeded)
	for _, l := range h.e.Logs(100, "g") {
		if strings.Contains(l.Msg, "succeeded") && (!strings.Contains(l.Msg, "approved by "+ana.Name) || strings.Contains(l.Msg, "(by ")) {
			t.Fatalf("the gate's success: %q", l.Msg)
		}
	}
}
