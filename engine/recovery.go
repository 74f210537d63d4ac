// Crash recovery: settling the attempts a crash or stop left in flight.

package engine

import (
	"fmt"
)

// recoverLocked settles steps that were running when the previous engine died or stopped.
func (e *Engine) recoverLocked() {
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
		clean, note := true, ""
		if c, ok := action.(Cleaner); ok && len(st.ext) > 0 {
			if note, clean = c.Cleanup(st.ext); note != "" {
				e.logs.add(LevelWarn, st.def.ID, "", note)
			}
		}
		rerun := st.def.Idempotent
		if rr, ok := action.(Rerunnable); ok && rr.Rerunnable() {
			rerun = true
		}
		if rerun && !clean {
			_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: false,
				Reason: fmt.Sprintf("interrupted: attempt %d was cut off by a crash or stop, and what it left running could not all be stopped (%s), so it was not run again next to it; check, then retry or mark it done", st.attempt, note)})
			continue
		}
		if rerun {
			_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: true,
				Reason: fmt.Sprintf("attempt %d was interrupted by a crash or stop; the step is idempotent, so it runs again", st.attempt)})
			continue
		}
		_, _ = e.commitLocked(RecInterrupted, st.def.ID, Interrupted{Attempt: st.attempt, Rerun: false,
			Reason: fmt.Sprintf("interrupted: attempt %d was cut off by a crash or stop while running, and the step is not idempotent, so it was not run again; check what it did, then mark it done or retry it", st.attempt)})
	}
}
