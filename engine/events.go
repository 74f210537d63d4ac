package engine

import (
	"time"

	"cutover/engine/runbook"
)

// Event is something front ends hear about. The set is closed: StepChanged, RunChanged, LogBatch,
// StepProgress and Resync.
type Event interface{ isEvent() }

// StepChanged says a step's state or details changed. It is delivered to every subscriber.
type StepChanged struct {
	Seq    uint64
	At     time.Time
	Record RecordType
	Step   StepView
}

// RunChanged says something about the whole run changed (paused, finished, halted…). Delivered to
// every subscriber.
type RunChanged struct {
	Seq uint64
	At  time.Time
	Run RunView
}

// LogBatch carries new log lines. Batches are coalesced for slow subscribers; Dropped counts lines
// a subscriber missed (they remain in the log file and Engine.Logs).
type LogBatch struct {
	Lines   []LogLine
	Dropped int
}

// StepProgress is a running step's latest progress; only the newest per step is delivered.
type StepProgress struct {
	Step     string
	At       time.Time
	Progress Progress
}

// ValidationUpdated carries a new record-count validation (newest wins).
type ValidationUpdated struct {
	Validation *Validation
}

func (ValidationUpdated) isEvent()            {}
func (ValidationUpdated) coalesceKey() string { return "validation" }
func (v ValidationUpdated) merge(Event) Event { return v }

// Resync tells a subscriber it fell too far behind: its stream ends here and it should subscribe
// again (getting a fresh snapshot).
type Resync struct{}

func (StepChanged) isEvent()  {}
func (RunChanged) isEvent()   {}
func (LogBatch) isEvent()     {}
func (StepProgress) isEvent() {}
func (Resync) isEvent()       {}

// Progress is what a long step reports while it works.
type Progress struct {
	// Percent is 0–100, or negative when unknown.
	Percent float64 `json:"percent"`
	Message string  `json:"message,omitempty"`
	// ETA is the expected remaining time (0: unknown).
	ETA time.Duration `json:"eta,omitempty"`
}

// Mode is how a step kind completes.
type Mode int

// Modes.
const (
	// ModeAuto steps run code (a command, a wait, a check) and finish on their own.
	ModeAuto Mode = iota
	// ModeManual steps are done by a person, who then marks them done.
	ModeManual
	// ModeGate steps are go/no-go decisions: they succeed when confirmed.
	ModeGate
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case ModeManual:
		return "manual"
	case ModeGate:
		return "gate"
	}
	return "auto"
}

// MarshalText writes the mode as its word.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Outcome sums up where the run stands.
type Outcome int

// Outcomes.
const (
	// OutcomeRunning: steps are running or about to.
	OutcomeRunning Outcome = iota
	// OutcomeWaiting: nothing can move until an operator confirms or completes a step.
	OutcomeWaiting
	// OutcomePaused: an operator paused the run.
	OutcomePaused
	// OutcomeBlocked: a failed step stops everything that is left.
	OutcomeBlocked
	// OutcomeCompleted: every step succeeded or was skipped.
	OutcomeCompleted
	// OutcomeHalted: the engine stopped itself because it could not journal a change.
	OutcomeHalted
)

var outcomeWords = [...]string{"running", "waiting for an operator", "paused", "blocked by a failed step", "completed", "halted"}

// String describes the outcome.
func (o Outcome) String() string {
	if int(o) < len(outcomeWords) {
		return outcomeWords[o]
	}
	return "unknown"
}

// MarshalText writes the outcome as words.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Snapshot is the whole run at one moment: what a late joiner sees first.
type Snapshot struct {
	// Seq is the journal sequence number the snapshot includes; later events have higher numbers.
	Seq   uint64
	At    time.Time
	Run   RunView
	Steps []StepView
}

// Step finds a step in the snapshot.
func (s Snapshot) Step(id string) (StepView, bool) {
	for _, st := range s.Steps {
		if st.ID == id {
			return st, true
		}
	}
	return StepView{}, false
}

// Fallbacks are the conditional steps that answer the step's failure (`when: {failed: id}`), in
// runbook order: while it is failed, an operator chooses between retrying it and confirming one
// of them.
func (s Snapshot) Fallbacks(id string) []StepView {
	var out []StepView
	for _, st := range s.Steps {
		if st.WhenFailed == id && id != "" {
			out = append(out, st)
		}
	}
	return out
}

// RunView describes the run as a whole.
type RunView struct {
	Name        string
	Environment string
	Runbook     string
	RunbookHash string
	StateDir    string
	Rehearsal   bool
	AutoConfirm bool
	Phases      []string
	Downtime    *runbook.Downtime
	Opened      time.Time
	Finished    time.Time
	Paused      bool
	PausedBy    *Actor
	PauseReason string
	Outcome     Outcome
	// Starts counts engine starts on this journal (more than one means it was resumed).
	Starts      int
	JournalHead string
	// Halted explains why the engine stopped itself, when it did.
	Halted string
	// Baseline is the rehearsal used as the plan, if any.
	Baseline *BaselineView
}

// Plan is the step's expected duration: its baseline when there is one, else its planned:.
func (v StepView) Plan() time.Duration {
	if v.Baseline > 0 {
		return v.Baseline
	}
	return v.Planned
}

// StepView is one step as front ends show it.
type StepView struct {
	ID          string
	Title       string
	Phase       string
	Kind        string
	Mode        Mode
	Description string
	Owner       string
	// Doc is the document the step implements (the runbook's doc:).
	Doc         string
	After       []string
	Destructive bool
	Idempotent  bool
	Planned     time.Duration
	// Baseline is how long the step took in the baseline rehearsal (zero: no baseline, or the
	// step did not finish there).
	Baseline time.Duration
	Timeout  time.Duration
	// Action says exactly what the step does.
	Action string
	// StopEffect says what stopping the step while it runs does (and what goes on regardless).
	StopEffect string

	State StepState
	// Since is when the step entered its state: the time of the journal record that put it there
	// (zero for a step no record has changed; Ready is derived, not journaled, so a ready step
	// shows when it became pending).
	Since       time.Time
	Attempt     int
	MaxAttempts int
	// FirstAsked is when the step first asked for its confirmation (zero if it never did).
	FirstAsked time.Time
	// FirstStarted is when the first attempt began, Started when the current one did.
	FirstStarted time.Time
	Started      time.Time
	Finished     time.Time
	RetryAt      time.Time
	LastError    string
	Message      string
	Output       []string
	// WhenFailed makes the step conditional (runbook `when: {failed: ID}`): it runs only if that
	// step fails, and is not needed once that step is done. Empty for a step that always runs.
	WhenFailed string
	// VerifiesBackup is set when the step's kind checks the backup it stands for
	// (RollbackPointVerifier): as the rollback point, its success is a verified one.
	VerifiesBackup bool
	// ByHand is set when an operator marked the step done instead of it running.
	ByHand bool
	// By and Reason say who skipped, marked, aborted or retried the step, and why.
	By     *Actor
	Reason string
	// Confirmation is the open request when State is StateAwaiting.
	Confirmation *ConfirmationView
	// ConfirmedBy lists who confirmed the step.
	ConfirmedBy []Approval
	// Guard says what skipping, marking done or confirming the step takes; nil when the step is
	// not guarded (neither destructive, a gate, nor with confirm:/approvals:).
	Guard *GuardView
	// Override is the open request to skip the guarded step or mark it done, if any.
	Override *OverrideView
	// OverriddenBy lists who approved the skip or done-by-hand of a guarded step.
	OverriddenBy []Approval
}

// ConfirmationView is an open confirmation request.
type ConfirmationView struct {
	Request   uint64
	Phrase    string
	Needed    int
	Approvals []Approval
	Since     time.Time
	// Action is what the step will do and what it saw before asking, as text (lists cut at
	// ConfirmListShown items); Lists are those lists in full (Body splits the two).
	Action string
	Lists  []ConfirmList
	// HeldBy is the operator confirming the step right now, if any.
	HeldBy *HoldView
}
