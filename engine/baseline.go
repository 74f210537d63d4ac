package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cutover/engine/journal"
)

// StepTiming is how one step actually went in a run, as its journal tells it.
type StepTiming struct {
	Step string
	// Began is when the step was first asked for (its confirmation opened) or started; Ended is
	// when it finally succeeded, was skipped or marked done (zero while it has not).
	Began, Ended time.Time
	// Attempts counts the attempts started; Retries the failed attempts that were followed by
	// another.
	Attempts int
	Retries  int
	// Outcome is the last state the journal recorded: succeeded, skipped, done-by-hand, failed,
	// interrupted, running or awaiting.
	Outcome string
}

// Duration is the step's wall time from first being asked for to its end (zero while running).
func (t StepTiming) Duration() time.Duration {
	if t.Began.IsZero() || t.Ended.IsZero() {
		return 0
	}
	return t.Ended.Sub(t.Began)
}

// Timings is a run's actual timeline: when it began (the first step asked for or started), when
// it finished (run.finished; zero if it has not), and each step's timing in the order the steps
// began.
type Timings struct {
	Began, Finished time.Time
	Steps           map[string]StepTiming
	Order           []string
}

// End is the offset of a step's end from the start of the run (false when it has not ended).
func (t Timings) End(step string) (time.Duration, bool) {
	s, ok := t.Steps[step]
	if !ok || s.Ended.IsZero() || t.Began.IsZero() {
		return 0, false
	}
	return s.Ended.Sub(t.Began), true
}

// Total is the run's elapsed time from its first step to run.finished (or to its last step's end
// when it did not finish).
func (t Timings) Total() time.Duration {
	if t.Began.IsZero() {
		return 0
	}
	end := t.Finished
	if end.IsZero() {
		for _, s := range t.Steps {
			if s.Ended.After(end) {
				end = s.Ended
			}
		}
	}
	if end.IsZero() {
		return 0
	}
	return end.Sub(t.Began)
}

// TimingsOf reads a run's timeline from its journal records.
func TimingsOf(recs []journal.Record) Timings {
	t := Timings{Steps: map[string]StepTiming{}}
	touch := func(r journal.Record) StepTiming {
		s, ok := t.Steps[r.Step]
		if !ok {
			s = StepTiming{Step: r.Step, Began: r.Time}
			t.Order = append(t.Order, r.Step)
			if t.Began.IsZero() || r.Time.Before(t.Began) {
				t.Began = r.Time
			}
		}
		return s
	}
	for _, r := range recs {
		if r.Type == string(RecRunFinished) {
			t.Finished = r.Time
			continue
		}
		if r.Step == "" {
			continue
		}
		var s StepTiming
		switch RecordType(r.Type) {
		case RecAwaiting:
			s = touch(r)
			s.Outcome = "awaiting"
		case RecStarted:
			s = touch(r)
			s.Attempts++
			s.Outcome = "running"
		case RecSucceeded, RecSkipped, RecDoneByHand:
			s = touch(r)
			s.Ended = r.Time
			s.Outcome = strings.TrimPrefix(r.Type, "step.")
		case RecFailed:
			s = touch(r)
			var f Failed
			if r.Decode(&f) == nil && f.RetryAt != nil {
				s.Retries++
			}
			s.Outcome = "failed"
		case RecRetry:
			s = touch(r)
			s.Retries++
		case RecInterrupted:
			s = touch(r)
			s.Outcome = "interrupted"
		default:
			continue
		}
		t.Steps[r.Step] = s
	}
	sort.SliceStable(t.Order, func(i, j int) bool { return t.Steps[t.Order[i]].Began.Before(t.Steps[t.Order[j]].Began) })
	return t
}

// Baseline is a rehearsal's actual timeline used as the plan of a later run.
type Baseline struct {
	// Path is the rehearsal journal it was read from; Head its head hash.
	Path string
	Head string
	Timings
}

// LoadBaseline reads a rehearsal journal (or the state directory holding it) as a baseline. The
// journal must verify: a plan taken from a journal changed after it was written proves nothing.
func LoadBaseline(path string) (*Baseline, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, journal.FileName)
	}
	c, err := journal.Read(path)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	t := TimingsOf(c.Records)
	ended := 0
	for _, s := range t.Steps {
		if !s.Ended.IsZero() {
			ended++
		}
	}
	if ended == 0 {
		return nil, fmt.Errorf("baseline %s: no step finished in that run, so it has no durations to plan with", path)
	}
	return &Baseline{Path: path, Head: c.Head, Timings: t}, nil
}

// BaselineView is what the front ends show of the baseline: the rehearsal it came from and how
// far the current run is behind (positive) or ahead of it.
type BaselineView struct {
	Path  string
	Total time.Duration
	// Lateness compares the latest step this run finished with when the same step finished in
	// the rehearsal, both counted from their run's start; Against names that step. LatenessKnown
	// is false until a step present in both has finished.
	Lateness      time.Duration
	Against       string
	LatenessKnown bool
}

// baselineViewLocked computes the run's lateness against the baseline.
func (e *Engine) baselineViewLocked() *BaselineView {
	b := e.baseline
	if b == nil {
		return nil
	}
	v := &BaselineView{Path: b.Path, Total: b.Total()}
	var began time.Time
	for _, st := range e.st.order {
		for _, t := range []time.Time{st.asked, st.firstStarted} {
			if !t.IsZero() && (began.IsZero() || t.Before(began)) {
				began = t
			}
		}
	}
	if began.IsZero() {
		return v
	}
	var latest time.Time
	for _, st := range e.st.order {
		if !st.state.Done() || st.finished.IsZero() || st.finished.Before(latest) {
			continue
		}
		end, ok := b.End(st.def.ID)
		if !ok {
			continue
		}
		latest = st.finished
		v.Against = st.def.ID
		v.Lateness = st.finished.Sub(began) - end
		v.LatenessKnown = true
	}
	return v
}

// Pace is how the run keeps up with its baseline rehearsal.
type Pace int

const (
	// PaceOn: within a minute of the rehearsal either way (or not known yet).
	PaceOn Pace = iota
	// PaceAhead: a minute or more ahead of the rehearsal.
	PaceAhead
	// PaceBehind: a minute or more behind the rehearsal.
	PaceBehind
	// PaceFarBehind: behind by a tenth of the rehearsal's whole length or more.
	PaceFarBehind
)

// paceSlack is how far from the rehearsal the run may be and still be on pace.
const paceSlack = time.Minute

// Pace says how the run keeps up with the rehearsal: on pace within a minute either way, far
// behind once late by a tenth of the rehearsal's length.
func (b *BaselineView) Pace() Pace {
	switch {
	case b == nil || !b.LatenessKnown:
		return PaceOn
	case b.Lateness >= paceSlack && b.Total > 0 && b.Lateness*10 >= b.Total:
		return PaceFarBehind
	case b.Lateness >= paceSlack:
		return PaceBehind
	case b.Lateness <= -paceSlack:
		return PaceAhead
	}
	return PaceOn
}
