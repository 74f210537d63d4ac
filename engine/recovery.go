// Crash recovery: settling the attempts a crash or stop left in flight.

package engine

import (
	"fmt"
	"maps"
)

// cleanup is an interrupted attempt whose leftovers (a process group) must be cleaned up before
// the step is re-run or marked interrupted. Cleaning up can take seconds (process-table scans,
// kills and waits), so it runs outside the engine lock: recoverLocked decides, runCleanups cleans
// up, settleCleanupsLocked commits.
type cleanup struct {
	st      *stepRT
	attempt int
	cleaner Cleaner
	ref     map[string]string
	// note and clean are Cleanup's answer.
	note  string
	clean bool
}

// recoverLocked settles steps that were running when the previous engine died or stopped: manual
// steps stay in the operator's hands, resumable attempts resume, the rest are re-run or marked
// interrupted. Attempts that left something to clean up are returned instead, to be cleaned up
// outside the lock (runCleanups) and settled after (settleCleanupsLocked).
func (e *Engine) recoverLocked() []*cleanup {
	var pending []*cleanup
	for _, st := range e.st.order {
		if st.state != StateRunning {
			continue
		}
		switch st.kind.Mode() {
		case ModeManual:
			e.logs.add(LevelInfo, st.def.ID, "", "still in the operator's hands (manual step)")
			continue
		case ModeGate:
			continue
		}
		action := st.def.Spec.(Action)
		if r, ok := action.(Resumer); ok && len(st.ext) > 0 {
			e.logs.add(LevelInfo, st.def.ID, "", fmt.Sprintf("resuming attempt %d where it left off", st.attempt))
			e.launchLocked(st, r, true)
			continue
		}
		if c, ok := action.(Cleaner); ok && len(st.ext) > 0 {
			pending = append(pending, &cleanup{st: st, attempt: st.attempt, cleaner: c, ref: maps.Clone(st.ext)})
			continue
		}
		e.interruptedLocked(st, true, "")
	}
	return pending
}

// runCleanups cleans up what interrupted attempts left behind. It must be called without the
// engine lock: a cleanup may wait seconds for processes to die.
func runCleanups(pending []*cleanup) {
	for _, c := range pending {
		c.note, c.clean = c.cleaner.Cleanup(c.ref)
	}
}

// settleCleanupsLocked logs each cleanup's note and settles its step, unless an operator acted on
// the step while the lock was free (it is no longer the same attempt in flight).
func (e *Engine) settleCleanupsLocked(done []*cleanup) {
	for _, c := range done {
		if c.note != "" {
			e.logs.add(LevelWarn, c.st.def.ID, "", c.note)
		}
		if c.st.state != StateRunning || c.st.attempt != c.attempt || c.st.running {
			continue
		}
		e.interruptedLocked(c.st, c.clean, c.note)
	}
}

// interruptedLocked journals that st's attempt was cut off by a crash or stop: it runs again when
// the step is idempotent (or always safe to re-run) and what it left behind is gone (clean, with
// the cleanup's note when it is not); otherwise it waits for an operator.
func (e *Engine) interruptedLocked(st *stepRT, clean bool, note string) {
	rerun := st.def.Idempotent
	if rr, ok := st.def.Spec.(Rerunnable); ok && rr.Rerunnable() {
		rerun = true
	}
	switch {
	case rerun && !clean:
		_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: false,
			Reason: fmt.Sprintf("interrupted: attempt %d was cut off by a crash or stop, and what it left running could not all be stopped (%s), so it was not run again next to it; check, then retry or mark it done", st.attempt, note)})
	case rerun:
		_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: true,
			Reason: fmt.Sprintf("attempt %d was interrupted by a crash or stop; the step is idempotent, so it runs again", st.attempt)})
	default:
		_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: false,
			Reason: fmt.Sprintf("interrupted: attempt %d was cut off by a crash or stop while running, and the step is not idempotent, so it was not run again; check what it did, then mark it done or retry it", st.attempt)})
	}
}
