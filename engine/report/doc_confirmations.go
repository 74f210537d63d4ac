// The report's confirmations section: the go/no-go gates, approvals, requests and how each
// ended, refusals and no-gos.

package report

import (
	"fmt"
	"strconv"
	"strings"

	"cutover/engine/runbook"
)

func (r *Report) confirmationBlocks() []block {
	c := r.Confirmations
	out := append([]block{sub("Go/no-go gates")}, r.gateBlocks()...)
	out = append(out, sub("Approvals"))
	if len(c.Approvals) == 0 {
		out = append(out, none("no step was confirmed"))
	} else {
		t := block{Kind: blockTable, Head: []string{"When", "Step", "Request", "Who", "Role", "Origin", "Key fingerprint", "Count", "Note"},
			Cols: []string{colTime, colID, colNum, "", "", "", colID, colNum, ""}}
		for _, a := range c.Approvals {
			note, cl := "", ""
			switch {
			case a.Auto:
				note, cl = "automatic (rehearsal --yes)", emWarn
			case a.Override == "skip":
				note, cl = "approves skipping the step", emWarn
			case a.Override == "done":
				note, cl = "approves marking it done by hand", emWarn
			}
			if a.SharedOrigin != "" {
				note, cl = strings.TrimPrefix(note+"; "+a.SharedOrigin, "; "), emWarn
			}
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(a.At), a.Step, requestNo(a.Request), a.Actor.Name,
				orDash(string(a.Actor.Role)), orDash(a.Actor.Origin), orDash(a.Actor.Fingerprint), fmt.Sprintf("%d of %d", a.Count, a.Needed), orDash(note)}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Requests"))
	if len(c.Requests) == 0 {
		out = append(out, none("no confirmation was requested"))
	} else {
		t := block{Kind: blockTable, Head: []string{"Request", "Step", "Opened", "Needed", "Approvals", "State", "How it ended"},
			Cols: []string{colNum, colID, colTime, colNum, colNum, colID, ""}}
		for _, q := range c.Requests {
			state, how, cl := requestWords(q)
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{requestNo(q.ID), q.Step, ts(q.At), strconv.Itoa(q.Needed), strconv.Itoa(q.Approvals), state, how}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Refused confirmations and overrides, no-gos, withdrawn requests"))
	if len(c.Refusals) == 0 {
		return append(out, none("no confirmation or override was refused, no step declined and no request withdrawn"))
	}
	t := block{Kind: blockTable, Head: []string{"When", "Step", "Request", "Kind", "Who", "Key fingerprint", "Reason"},
		Cols: []string{colTime, colID, colNum, colID, "", colID, ""}}
	for _, f := range c.Refusals {
		cl := emWarn
		if f.Kind == "no-go" || strings.HasPrefix(f.Kind, "refused ") {
			cl = emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(f.At), orDash(f.Step), requestNo(f.Request), f.Kind,
			f.Actor.Name + prefixed(", ", f.Actor.Origin), orDash(f.Actor.Fingerprint), orDash(f.Reason)}})
	}
	return append(out, t)
}

// requestNo is a request's id as the report shows it.
func requestNo(id uint64) string { return "#" + strconv.FormatUint(id, 10) }

// requestWords is a request's state, how it ended in words, and its emphasis.
func requestWords(q Request) (state, how, class string) {
	by := prefixed(" by ", q.ClosedBy)
	at := " at " + ts(q.ClosedAt)
	why := prefixed(": ", q.Reason)
	state = string(q.State)
	switch q.State {
	case RequestConfirmed:
		how = "confirmed" + by + at
	case RequestApproved:
		how, class = "approved"+by+at, emWarn
	case RequestNoGo:
		how, class = "declined"+by+at+why, emBad
	case RequestWithdrawn:
		how = "withdrawn" + by + at + why
	case RequestSkipped:
		how, class = "the step was skipped"+by+at+why+" while the request was open", emWarn
	case RequestDoneByHand:
		how, class = "the step was done by hand"+by+at+why+" while the request was open", emWarn
	case RequestNotNeeded:
		how = "the step was not needed" + at
		if q.Reason != "" {
			how = "the step was not needed (" + q.Reason + ")" + at
		}
	case RequestReplaced:
		how = "replaced by request " + requestNo(q.ReplacedBy) + at
	default:
		state, how, class = string(RequestOpen), "open at the end of the journal: nobody has answered it", emWarn
	}
	switch q.Override {
	case "skip":
		how = "request to skip the step: " + how
	case "done":
		how = "request to mark the step done by hand: " + how
	}
	if q.Reconfirm {
		how += " (asked again)"
	}
	return state, how, class
}

// gateBlocks lays out the go/no-go decisions: when each gate was ready, when and how it was
// decided, and how long it waited.
func (r *Report) gateBlocks() []block {
	if len(r.Gates) == 0 {
		return []block{none("the journal has no go/no-go decision")}
	}
	t := block{Kind: blockTable, Head: []string{"Gate", "Title", "Request", "Ready", "Decided", "Waited", "Decision", "By", "Reason"},
		Cols: []string{colID, "", colNum, colTime, colTime, colNum, colID, "", ""}}
	for _, g := range r.Gates {
		cl, decided, waited := "", ts(g.Decided), runbook.FormatDuration(g.Wait)
		switch g.Decision {
		case "go":
		case string(RequestNoGo):
			cl = emBad
		case string(RequestOpen):
			cl, decided, waited = emWarn, "not yet", waited+" so far"
		default:
			cl = emWarn
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{g.Step, orDash(g.Title), requestNo(g.Request), ts(g.Ready), decided, waited, g.Decision, orDash(g.By), orDash(g.Reason)}})
	}
	return []block{para("A gate is ready when its request opens; it waits from then until the decision."), t}
}
