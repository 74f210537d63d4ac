package engine

import "time"

// Projection is the plan from one moment on: for each step not done yet, how long from then
// until it can start and until it ends, following its dependencies and its plan (the baseline's
// duration, else planned:; a running step has its elapsed time deducted). Done steps end at once.
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
type RollbackState int

const (
	// RollbackUntracked: the runbook names no point of no return.
	RollbackUntracked RollbackState = iota
	// RollbackNoPoint: the point of no return is ahead, but no rollback point exists yet (its
	// step has not succeeded, was skipped, or the runbook names none).
	RollbackNoPoint
	// RollbackReady: the rollback point exists and the point of no return is ahead.
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

// RollbackView is the AX 2012 rollback's readiness: the rollback point (the backup taken once the
// AOS instances are down) and the time left before the point of no return.
type RollbackView struct {
	State RollbackState
	// NoReturn is the point of no return's step; Point the rollback point's ("" when the runbook
	// names none).
	NoReturn, Point string
	// PointAt is when the rollback point was made (its step succeeded, or was marked done).
	PointAt time.Time
	// PointState is the rollback point's step's state.
	PointState StepState
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
	made := false
	if v.Point != "" {
		if pt, ok := s.Step(v.Point); ok {
			v.PointState = pt.State
			if pt.State == StateSucceeded {
				made, v.PointAt = true, pt.Finished
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
