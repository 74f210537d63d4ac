package engine

import "time"

// DowntimeView is the downtime clock at one moment: when the downtime began, how long it has run
// and the budget it runs against.
type DowntimeView struct {
	// Began is when the downtime began (zero: not yet).
	Began time.Time
	// Elapsed is how long it has run (until the run finished, once it has).
	Elapsed time.Duration
	// Budget is the runbook's downtime budget; Planned its planned start (zero: none).
	Budget  time.Duration
	Planned time.Time
}

// Over reports whether the downtime ran past its budget.
func (d DowntimeView) Over() bool { return d.Budget > 0 && d.Elapsed > d.Budget }

// downtimeWarnPercent is the share of the budget after which the downtime clock warns.
const downtimeWarnPercent = 80

// WarnAt is how much of the budget may be used before the downtime clock warns (zero without a
// budget): 80%.
func (d DowntimeView) WarnAt() time.Duration { return d.Budget * downtimeWarnPercent / 100 }

// Near reports whether the downtime used WarnAt of its budget or more without being over.
func (d DowntimeView) Near() bool { return d.Budget > 0 && !d.Over() && d.Elapsed >= d.WarnAt() }

// End is when the budget runs out: zero before the downtime began or without a budget.
func (d DowntimeView) End() time.Time {
	if d.Began.IsZero() || d.Budget <= 0 {
		return time.Time{}
	}
	return d.Began.Add(d.Budget)
}

// Late is how far past the end of the budget a finish at finish is (negative: time to spare);
// ok is false when there is no end to compare with (End).
func (d DowntimeView) Late(finish time.Time) (late time.Duration, ok bool) {
	end := d.End()
	if end.IsZero() {
		return 0, false
	}
	return finish.Sub(end), true
}

// Downtime is the downtime clock at now. The downtime begins when the runbook's begins_with step
// first starts (or, for a step that was never started, when it was marked done or skipped); a
// step waiting for its confirmation has not begun it. Without begins_with it begins at the
// planned start. The clock stops when the run finishes. A runbook without a downtime block has
// the zero view.
func (s Snapshot) Downtime(now time.Time) DowntimeView {
	dt := s.Run.Downtime
	if dt == nil {
		return DowntimeView{}
	}
	out := DowntimeView{Budget: dt.Budget, Planned: dt.Start}
	if dt.BeginsWith != "" {
		if st, ok := s.Step(dt.BeginsWith); ok {
			switch {
			case !st.FirstStarted.IsZero():
				out.Began = st.FirstStarted
			case st.State == StateAwaiting && st.Confirmation != nil:
			case st.State.Done() && !st.Finished.IsZero():
				out.Began = st.Finished
			}
		}
	} else if !dt.Start.IsZero() && !now.Before(dt.Start) {
		out.Began = dt.Start
	}
	if !out.Began.IsZero() {
		end := now
		if !s.Run.Finished.IsZero() {
			end = s.Run.Finished
		}
		out.Elapsed = end.Sub(out.Began)
	}
	return out
}

// Phase is the phase the run is in: the phase of the step that matters now (Current), or "done"
// when every step is done.
func (s Snapshot) Phase() string {
	if st, ok := s.Current(); ok {
		return st.Phase
	}
	return "done"
}
