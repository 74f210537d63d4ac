package report_test

import (
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/report"
)

// TestOverridesAreInTheConfirmations: the requests to skip a guarded step or mark it done, their
// approvals, the attempts turned away and a withdrawal are reported with the confirmations; none
// is left out as unreadable.
func TestOverridesAreInTheConfirmations(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name})
	w.add(0, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 1, RunbookHash: rb.Hash})
	gate := w.add(time.Minute, engine.RecAwaiting, "downtime-go", engine.Awaiting{Action: "go?", Needed: 1})
	w.add(time.Minute, engine.RecOverrideRefused, "downtime-go", engine.OverrideRefused{Action: engine.OverrideSkip, Actor: carl, Reason: "no phrase typed"})
	first := w.add(time.Minute, engine.RecOverrideRequested, "downtime-go", engine.OverrideRequested{Action: engine.OverrideDone, Actor: carl, Reason: "agreed on the phone", Needed: 1})
	w.add(time.Minute, engine.RecOverrideWithdrawn, "downtime-go", engine.OverrideWithdrawn{Request: first, Action: engine.OverrideDone, Actor: ana, Reason: "not on the phone"})
	w.add(time.Minute, engine.RecApproved, "downtime-go", engine.Approved{Request: gate, Actor: ana, Count: 1, Needed: 1})
	w.add(time.Minute, engine.RecSucceeded, "downtime-go", engine.Succeeded{Attempt: 1, Actor: &ana})
	req := w.add(time.Minute, engine.RecOverrideRequested, "aos-stop", engine.OverrideRequested{Action: engine.OverrideSkip, Actor: ana, Reason: "AOS already down", Needed: 2})
	w.add(0, engine.RecOverrideApproved, "aos-stop", engine.OverrideApproved{Request: req, Action: engine.OverrideSkip, Actor: ana, Count: 1, Needed: 2})
	w.add(time.Minute, engine.RecOverrideRefused, "aos-stop", engine.OverrideRefused{Request: req, Action: engine.OverrideSkip, Actor: bob, Reason: "Bob is a viewer, not an operator"})
	w.add(time.Minute, engine.RecOverrideApproved, "aos-stop", engine.OverrideApproved{Request: req, Action: engine.OverrideSkip, Actor: carl, Count: 2, Needed: 2, Note: "checked"})
	w.add(0, engine.RecSkipped, "aos-stop", engine.ByActor{Actor: ana, Reason: "AOS already down", Override: req,
		Approvals: []engine.Approval{{Actor: ana}, {Actor: carl}}})
	path, _ := w.close()
	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})
	for _, n := range r.Notes {
		if strings.Contains(n, "could not be read") {
			t.Errorf("a record was left out: %s", n)
		}
	}
	c := r.Confirmations
	var skip, done *report.Request
	for i := range c.Requests {
		switch c.Requests[i].ID {
		case req:
			skip = &c.Requests[i]
		case first:
			done = &c.Requests[i]
		}
	}
	if skip == nil || skip.Override != "skip" || !skip.Satisfied || skip.Approvals != 2 || skip.Needed != 2 {
		t.Fatalf("the skip request: %+v", skip)
	}
	if done == nil || done.Override != "done" || done.Satisfied || !done.Withdrawn {
		t.Fatalf("the withdrawn request: %+v", done)
	}
	kinds := map[string]int{}
	for _, f := range c.Refusals {
		kinds[f.Kind]++
	}
	if kinds["refused skip"] != 2 || kinds["withdrawn done"] != 1 {
		t.Fatalf("refusals %v", kinds)
	}
	if skip.State != report.RequestApproved || done.State != report.RequestWithdrawn || done.ClosedBy != "Ana" {
		t.Fatalf("states: skip %s, done %s by %s", skip.State, done.State, done.ClosedBy)
	}
	mustContain(t, "Markdown", md, "| approved | request to skip the step: approved by Ana, Carl at", "| withdrawn | request to mark the step done by hand: withdrawn by Ana at",
		"approves skipping the step",
		"refused skip", "withdrawn done", "not on the phone")
	parseHTML(t, doc)
}
