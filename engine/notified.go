package engine

import (
	"errors"
	"fmt"
)

// errNotifyRecord refuses a delivery record that could not be replayed.
var errNotifyRecord = errors.New("a notification record needs a milestone, an event and a target")

// Notified reports whether the milestone was already delivered to the target, or given up on,
// by this engine or an earlier one on the same journal: a restart does not send it again.
func (e *Engine) Notified(milestone, target string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.notified[notifyKey(milestone, target)]
}

// RecordDelivery journals the outcome of delivering a milestone notification to one target:
// sent, or failed after d.Tries tries. The journal's log line puts it in the Logs pane.
func (e *Engine) RecordDelivery(d NotifyDelivery, sent bool) error {
	if d.Milestone == "" || d.Event == "" || d.Target == "" {
		return errNotifyRecord
	}
	t := RecNotifySent
	if !sent {
		t = RecNotifyFailed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil {
		return fmt.Errorf("record notification %s to %s: %w", d.Event, d.Target, ErrClosed)
	}
	if _, err := e.commitLocked(t, "", d); err != nil {
		return fmt.Errorf("record notification %s to %s: %w", d.Event, d.Target, err)
	}
	return nil
}

// deliveryLine is the log line of a journaled delivery.
func deliveryLine(t RecordType, d NotifyDelivery) (LogLevel, string) {
	tries := "1 try"
	if d.Tries != 1 {
		tries = fmt.Sprintf("%d tries", d.Tries)
	}
	if t == RecNotifySent {
		return LevelInfo, fmt.Sprintf("notify %s (%s): sent %q (%s)", d.Target, d.Format, d.Title, tries)
	}
	return LevelWarn, fmt.Sprintf("notify %s (%s): FAILED after %s: %s — %q was not delivered", d.Target, d.Format, tries, d.Error, d.Title)
}
