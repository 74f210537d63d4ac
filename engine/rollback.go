package engine

import (
	"fmt"
	"slices"
	"time"

	"cutover/engine/runbook"
)

// Projection is the plan from one moment on: for each step not done yet, how long from then
// until it can start and until it ends, following its dependencies and its plan (the baseline's
// duration, else planned:; a running step has its elapsed time deducted). Done steps end at once;
// a conditional step (`when: {failed}`) takes no time unless its trigger has failed, as a run
// without failures never runs it.
type Projection struct {
	now        time.Time
	start, end map[string]time.Duration
	// Planned is false when no step left has a plan: the times then only say the order.
	Planned bool
}

// Project projects the snapshot's run from now.
func (s Snapshot) Project(now time.Time) Projection {
	byID := make(map[string]StepView, len(s.Steps))
	for _, st := range s.Steps {
		byID[st.ID] = st
	}
	p := Projection{now: now, start: map[string]time.Duration{}, end: map[string]time.Duration{}}
	var end func(id string, depth int) time.Duration
	end = func(id string, depth int) time.Duration {
		if v, ok := p.end[id]; ok || depth > len(s.Steps) {
			return v // depth: a cycle (the runbook refuses them) must not hang a front end
		}
		st, ok := byID[id]
		if !ok || st.State.Done() {
			p.end[id] = 0
			return 0
		}
		var before time.Duration
		for _, dep := range st.After {
			before = max(before, end(dep, depth+1))
		}
		left := st.Plan()
		if st.WhenFailed != "" && st.State != StateRunning && st.State != StateRetrying {
			if trig, ok := byID[st.WhenFailed]; !ok || trig.State != StateFailed {
				left = 0
			}
		}
		if left > 0 {
			p.Planned = true
		}
		if (st.State == StateRunning || st.State == StateRetrying) && !st.FirstStarted.IsZero() {
			left = max(left-now.Sub(st.FirstStarted), 0)
		}
		p.start[id], p.end[id] = before, before+left
		return before + left
	}
	for _, st := range s.Steps {
		end(st.ID, 0)
	}
	return p
}

// Start is when the step is expected to start; false when it is done (or unknown).
func (p Projection) Start(id string) (time.Time, bool) {
	d, ok := p.start[id]
	return p.now.Add(d), ok
}

// Finish is when the last step is expected to end.
func (p Projection) Finish() time.Time {
	var longest time.Duration
	for _, d := range p.end {
		longest = max(longest, d)
	}
	return p.now.Add(longest)
}

// RollbackState says whether going back to AX 2012 is still possible, and whether there is
// something to go back to.
//
// The documented rollback is "to restore the database by using the backup that was made when AX
// 2012 was turned off, and then turn AX 2012 back on. The state of integrated systems might also
// have to be restored" (upgrade-cutover-testing.md § Roll back to AX 2012). The documents never say
// when it stops being possible; the refresh touches only the D365 databases ("The refresh affects
// only the application and Financial Reporting databases": database/database-refresh.md), so what
// makes going back lossy is production transacting: the runbook's point of no return is the step
// that lets users and integrations in (`cutover check` warns when it is the refresh).
type RollbackState int

const (
	// RollbackUntracked: the runbook names no point of no return.
	RollbackUntracked RollbackState = iota
	// RollbackNoPoint: the point of no return is ahead, but no rollback point exists yet (its
	// step has not succeeded, was skipped, or the runbook names none).
	RollbackNoPoint
	// RollbackReady: the rollback point exists and the point of no return is ahead. Proof says
	// whether the backup was verified.
	RollbackReady
	// RollbackAtRisk: the point of no return waits for its confirmation while no rollback point
	// exists: confirming now leaves nothing to go back to.
	RollbackAtRisk
	// RollbackGone: the point of no return has started (or was marked done): rollback is over.
	RollbackGone
)

var rollbackWords = [...]string{"untracked", "no rollback point", "ready", "at risk", "gone"}

// String names the state.
func (r RollbackState) String() string {
	if int(r) < len(rollbackWords) {
		return rollbackWords[r]
	}
	return "unknown"
}

// MarshalText writes the state as words.
func (r RollbackState) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// PointProof says what stands behind the rollback point: whether its backup was verified.
type PointProof int

const (
	// ProofNone: no rollback point was made (its step has not succeeded), or none is named.
	ProofNone PointProof = iota
	// ProofVerified: the rollback point's step succeeded by itself and its kind checks the backup
	// (RollbackPointVerifier: backup.verify).
	ProofVerified
	// ProofByHand: a person said the backup was made — the step was marked done by hand, or it is
	// a manual step an operator completed. Nothing checked the backup.
	ProofByHand
	// ProofUnchecked: the step succeeded by itself, but its kind does not check a backup (a wait,
	// a command whose exit code is all it knows).
	ProofUnchecked
)

var proofWords = [...]string{"none", "verified", "by hand", "unchecked"}

// String names the proof in a word or two.
func (p PointProof) String() string {
	if int(p) < len(proofWords) {
		return proofWords[p]
	}
	return "unknown"
}

// MarshalText writes the proof as words.
func (p PointProof) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Verified reports whether the rollback point's backup was checked by the step that made it.
func (p PointProof) Verified() bool { return p == ProofVerified }

// RollbackView is the AX 2012 rollback's readiness: the rollback point (the backup taken once the
// AOS instances are down), whether it was verified, and the time left before the point of no
// return.
type RollbackView struct {
	State RollbackState
	// NoReturn is the point of no return's step and NoReturnTitle its title; Point the rollback
	// point's step ("" when the runbook names none).
	NoReturn, NoReturnTitle, Point string
	// PointAt is when the rollback point was made (its step succeeded, or was marked done).
	PointAt time.Time
	// PointState is the rollback point's step's state.
	PointState StepState
	// Proof says whether the rollback point's backup was verified (ProofNone until it is made).
	Proof PointProof
	// NoReturnAt is when the point of no return started (RollbackGone).
	NoReturnAt time.Time
	// Left is the projected time until the point of no return can start, when Projected.
	Left      time.Duration
	Projected bool
}

// Rollback says where the AX 2012 rollback stands at now.
func (s Snapshot) Rollback(now time.Time) RollbackView { return s.RollbackWith(s.Project(now)) }

// RollbackWith is Rollback with the run already projected (p), for a caller that needs both.
func (s Snapshot) RollbackWith(p Projection) RollbackView {
	now := p.now
	dt := s.Run.Downtime
	if dt == nil || dt.PointOfNoReturn == "" {
		return RollbackView{}
	}
	v := RollbackView{NoReturn: dt.PointOfNoReturn, Point: dt.RollbackPoint}
	pnr, ok := s.Step(dt.PointOfNoReturn)
	if !ok {
		return RollbackView{}
	}
	v.NoReturnTitle = pnr.Title
	made := false
	if v.Point != "" {
		if pt, ok := s.Step(v.Point); ok {
			v.PointState = pt.State
			if pt.State == StateSucceeded {
				made, v.PointAt, v.Proof = true, pt.Finished, pointProof(pt)
			}
		}
	}
	switch {
	case !pnr.FirstStarted.IsZero() || pnr.State == StateSucceeded || pnr.State == StateSkipped:
		v.State, v.NoReturnAt = RollbackGone, pnr.FirstStarted
		if v.NoReturnAt.IsZero() {
			v.NoReturnAt = pnr.Finished
		}
		return v
	case made:
		v.State = RollbackReady
	case pnr.State == StateAwaiting:
		v.State = RollbackAtRisk
	default:
		v.State = RollbackNoPoint
	}
	if start, ok := p.Start(pnr.ID); ok && p.Planned {
		v.Left, v.Projected = start.Sub(now), true
	}
	return v
}

// pointProof is what stands behind a rollback point whose step succeeded.
func pointProof(pt StepView) PointProof { return ProofOf(pt.ByHand, pt.Mode, pt.VerifiesBackup) }

// ProofOf is the rule behind a rollback point whose step succeeded: verified only when the step
// ran by itself (not marked done by hand: byHand; not a manual step or a gate a person completed:
// mode) and its kind checks the backup (verifies: RollbackPointVerifier).
func ProofOf(byHand bool, mode Mode, verifies bool) PointProof {
	switch {
	case byHand || mode == ModeManual || mode == ModeGate:
		return ProofByHand
	case verifies:
		return ProofVerified
	}
	return ProofUnchecked
}

// RollbackPointProof is ProofOf for a runbook step that succeeded (byHand: it was marked done by
// hand), with its kind looked up in kinds (every kind this build knows when nil): the report reads
// the journal, not a snapshot.
func RollbackPointProof(s *runbook.Step, kinds *Registry, byHand bool) PointProof {
	if kinds == nil {
		kinds = NewRegistry(AllKinds()...)
	}
	mode := ModeAuto
	if k, ok := kinds.Kind(s.Kind); ok {
		mode = k.Mode()
	}
	return ProofOf(byHand, mode, StepVerifiesRollbackPoint(s, kinds))
}

// RollbackWarnings are what `cutover check` says about the runbook's point of no return and
// rollback point, beyond the errors the runbook itself refuses (a point of no return that does
// not wait for its rollback point): a point of no return that is the production refresh — the
// documented rollback (restore the AX 2012 database from the backup taken when AX 2012 was turned
// off, turn it back on, restore the integrations: upgrade-cutover-testing.md § Roll back to AX
// 2012) stays possible after it, since the refresh touches only the D365 databases
// (database/database-refresh.md) — and a rollback point whose step does not check the backup
// (RollbackPointVerifier). kinds are the runbook's kinds (every kind this build knows when nil).
func RollbackWarnings(rb *runbook.Runbook, kinds *Registry) []string {
	dt := rb.Downtime
	if dt == nil || dt.PointOfNoReturn == "" {
		return nil
	}
	var out []string
	if s, ok := rb.Step(dt.PointOfNoReturn); ok && s.Kind == (LCSRefreshKind{}).Name() {
		out = append(out, fmt.Sprintf("downtime.point_of_no_return: %q is the production refresh (%s), but the documented rollback (restore AX 2012 from the backup taken when it was turned off, turn it back on, restore the integrations) stays possible until users and integrations are let into production: name the go-live gate that lets them in (the refresh stays destructive and two-person)", s.ID, s.Kind))
	}
	switch s, ok := rb.Step(dt.RollbackPoint); {
	case dt.RollbackPoint == "" || !ok:
	case !StepVerifiesRollbackPoint(s, kinds):
		out = append(out, fmt.Sprintf("downtime.rollback_point: %q (%s) does not check the backup, so the rollback point will only ever be made, not verified: make it a %s step (a full backup with checksums in msdb.dbo.backupset, started after the AOS stopped)", s.ID, s.Kind, rollbackVerifierKind))
	}
	return out
}

// GuardsNoReturn reports whether step is the point of no return (the runbook's
// downtime.point_of_no_return) or the go/no-go gate right before it (a gate the point of no
// return waits for): the confirmations that must say whether there is an AX 2012 rollback
// point to go back to.
func (s Snapshot) GuardsNoReturn(step StepView) bool {
	dt := s.Run.Downtime
	switch {
	case dt == nil || dt.PointOfNoReturn == "":
		return false
	case step.ID == dt.PointOfNoReturn:
		return true
	}
	pnr, ok := s.Step(dt.PointOfNoReturn)
	return ok && step.Mode == ModeGate && slices.Contains(pnr.After, step.ID)
}
