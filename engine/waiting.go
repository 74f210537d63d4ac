// What the run waits for from its operators: the one rule the cockpit, the headless printer, the
// status glance and the web page all ask.

package engine

// OperatorWait is what a step waits for from an operator, if anything.
type OperatorWait int

const (
	// WaitNone: the step needs nobody now.
	WaitNone OperatorWait = iota
	// WaitConfirmation: a confirmation request is open; it waits for its phrase, typed by as
	// many distinct operators as it needs.
	WaitConfirmation
	// WaitCompletion: a manual step is in the operator's hands; marking it done is its end.
	WaitCompletion
	// WaitDecision: the step failed for good; an operator retries it, skips it or marks it done.
	WaitDecision
)

var operatorWaitWords = [...]string{"nothing", "confirmation", "completion", "decision"}

// String names what is awaited.
func (w OperatorWait) String() string {
	if w >= 0 && int(w) < len(operatorWaitWords) {
		return operatorWaitWords[w]
	}
	return "nothing"
}

// operatorWait is the rule, on a step's state and mode.
func operatorWait(state StepState, mode Mode) OperatorWait {
	switch {
	case state == StateAwaiting:
		return WaitConfirmation
	case state == StateRunning && mode == ModeManual:
		return WaitCompletion
	case state == StateFailed:
		return WaitDecision
	}
	return WaitNone
}

// WaitsFor says what the step waits for from an operator (WaitNone: nothing).
func (v StepView) WaitsFor() OperatorWait { return operatorWait(v.State, v.Mode) }

// WaitsForOperator reports whether the step can go on only when an operator acts.
func (v StepView) WaitsForOperator() bool { return v.WaitsFor() != WaitNone }

// InOperatorsHands reports whether the step is a manual step being done by an operator: it runs
// no code, and marking it done is its normal end.
func (v StepView) InOperatorsHands() bool { return v.WaitsFor() == WaitCompletion }

// Waiting lists the steps that wait for an operator, in runbook order.
func (s Snapshot) Waiting() []StepView {
	var out []StepView
	for _, st := range s.Steps {
		if st.WaitsForOperator() {
			out = append(out, st)
		}
	}
	return out
}

// focusOrder is which step the run is at: the first step awaiting a confirmation, else the first
// failed one, running, retrying, ready, pending.
var focusOrder = [...]StepState{StateAwaiting, StateFailed, StateRunning, StateRetrying, StateReady, StatePending}

// Current is the step that matters now: the first awaiting a confirmation, else the first failed,
// running, retrying, ready or pending one. ok is false when every step is done.
func (s Snapshot) Current() (StepView, bool) {
	for _, want := range focusOrder {
		for _, st := range s.Steps {
			if st.State == want {
				return st, true
			}
		}
	}
	return StepView{}, false
}
