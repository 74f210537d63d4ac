// Confirmation and override requests: how each ended, as the journal says, and the go/no-go gates.

package report

import (
	"strings"
	"time"

	"cutover/engine"
)

// RequestState is how a confirmation or override request ended, in the journal's words.
type RequestState string

// Request states. A request is open until a record closes it: its approvals, a no-go, a
// withdrawal, the step skipped, done by hand or not needed, or a newer request of the step.
const (
	RequestOpen       RequestState = "open"
	RequestConfirmed  RequestState = "confirmed"
	RequestApproved   RequestState = "approved"
	RequestNoGo       RequestState = "no-go"
	RequestWithdrawn  RequestState = "withdrawn"
	RequestSkipped    RequestState = "skipped"
	RequestDoneByHand RequestState = "done by hand"
	RequestNotNeeded  RequestState = "not needed"
	RequestReplaced   RequestState = "replaced"
)

// Gate is one go/no-go decision: a gate step's request, how long the gate waited for its
// decision and what the decision was.
type Gate struct {
	Step, Title string
	Request     uint64
	// Ready is when the request opened (the gate's dependencies were done); Decided when it
	// was closed (zero while open).
	Ready, Decided time.Time
	// Wait is Decided - Ready, or up to the end of the journal while the gate is open.
	Wait time.Duration
	// Decision is "go" for a confirmed gate, otherwise the request's state (no-go, skipped,
	// open, …); By who decided (the approvers of a go), Reason a no-go's or a skip's reason.
	Decision string
	By       string
	Reason   string
}

// openRequest adds a request. An open request of the same step and kind (confirmation or
// override of the same action) that it follows is closed as replaced.
func (b *builder) openRequest(q Request) {
	q.State = RequestOpen
	for i := range b.r.Confirmations.Requests {
		o := &b.r.Confirmations.Requests[i]
		if o.Step == q.Step && o.Override == q.Override && o.State == RequestOpen {
			b.close(o, RequestReplaced, q.At, "", "")
			o.ReplacedBy = q.ID
		}
	}
	b.requests[q.ID] = len(b.r.Confirmations.Requests)
	b.r.Confirmations.Requests = append(b.r.Confirmations.Requests, q)
}

// request is the request with the id, or nil when the journal has none.
func (b *builder) request(id uint64) *Request {
	if i, ok := b.requests[id]; ok {
		return &b.r.Confirmations.Requests[i]
	}
	return nil
}

// close ends an open request (a closed one stays as it ended).
func (b *builder) close(q *Request, state RequestState, at time.Time, by, reason string) {
	if q == nil || q.State != RequestOpen {
		return
	}
	q.State, q.ClosedAt, q.ClosedBy, q.Reason = state, at, by, reason
	switch state {
	case RequestConfirmed, RequestApproved:
		q.Satisfied, q.SatisfiedAt = true, at
	case RequestNoGo:
		q.Declined = true
	case RequestWithdrawn:
		q.Withdrawn = true
	}
}

// closeStep ends every open request of a step that was skipped, done by hand or found not
// needed.
func (b *builder) closeStep(step string, state RequestState, at time.Time, by, reason string) {
	for i := range b.r.Confirmations.Requests {
		if q := &b.r.Confirmations.Requests[i]; q.Step == step {
			b.close(q, state, at, by, reason)
		}
	}
}

// approverNames are the people who approved a request, in order.
func (b *builder) approverNames(id uint64) string {
	var names []string
	for _, a := range b.r.Confirmations.Approvals {
		if a.Request == id {
			names = append(names, actorName(a.Actor))
		}
	}
	return strings.Join(names, ", ")
}

// actorName is who did something, as the report names them: a person by name, the engine acting
// on its own by what it acted as ("rehearsal --yes").
func actorName(a engine.Actor) string {
	if a.Role == engine.RoleSystem && a.Origin != "" {
		return a.Origin
	}
	return a.Name
}

// gates lays out every confirmation request of a gate step as a go/no-go decision.
func (b *builder) gates() {
	end := b.r.Integrity.Last.UTC()
	for _, q := range b.r.Confirmations.Requests {
		s, ok := b.rb.Step(q.Step)
		if !ok || q.Override != "" || !b.kinds.IsGate(s.Kind) {
			continue
		}
		g := Gate{Step: q.Step, Title: s.Title, Request: q.ID, Ready: q.At, Decided: q.ClosedAt, Decision: string(q.State), By: q.ClosedBy, Reason: q.Reason}
		if q.State == RequestConfirmed {
			g.Decision = "go"
		}
		switch {
		case !q.ClosedAt.IsZero():
			g.Wait = q.ClosedAt.Sub(q.At)
		case end.After(q.At):
			g.Wait = end.Sub(q.At)
		}
		b.r.Gates = append(b.r.Gates, g)
	}
}

// isGate reports whether the runbook's step is a gate.
func (b *builder) isGate(id string) bool {
	s, ok := b.rb.Step(id)
	return ok && b.kinds.IsGate(s.Kind)
}

// decidedBy is who confirmed the step's newest confirmed request ("" when none).
func (b *builder) decidedBy(step string) string {
	reqs := b.r.Confirmations.Requests
	for i := len(reqs) - 1; i >= 0; i-- {
		if q := reqs[i]; q.Step == step && q.State == RequestConfirmed {
			return q.ClosedBy
		}
	}
	return ""
}
