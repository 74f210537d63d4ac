package engine

import "time"

// RecordType names a kind of journal record. Each is one state change; replaying them in order
// rebuilds the run exactly.
type RecordType string

// Journal record types.
const (
	RecRunOpened      RecordType = "run.opened"
	RecEngineStarted  RecordType = "engine.started"
	RecEngineStopped  RecordType = "engine.stopped"
	RecRunbookChanged RecordType = "runbook.changed"
	RecRunPaused      RecordType = "run.paused"
	RecRunResumed     RecordType = "run.resumed"
	RecRunFinished    RecordType = "run.finished"

	RecAwaiting       RecordType = "step.awaiting"
	RecApproved       RecordType = "step.approved"
	RecConfirmRefused RecordType = "step.confirm-refused"
	RecDeclined       RecordType = "step.declined"
	RecStarted        RecordType = "step.started"
	RecExternal       RecordType = "step.external"
	RecSucceeded      RecordType = "step.succeeded"
	RecFailed         RecordType = "step.failed"
	RecInterrupted    RecordType = "step.interrupted"
	RecSkipped        RecordType = "step.skipped"
	RecDoneByHand     RecordType = "step.done-by-hand"
	RecRetry          RecordType = "step.retry"

	// Guarded overrides: an operator asks that a guarded step be skipped or count as done
	// (guard.go). The request, each approval, each refusal and a withdrawal are journaled.
	RecOverrideRequested RecordType = "step.override-requested"
	RecOverrideApproved  RecordType = "step.override-approved"
	RecOverrideRefused   RecordType = "step.override-refused"
	RecOverrideWithdrawn RecordType = "step.override-withdrawn"

	// Conditional steps (runbook `when: {failed: ID}`): the step is not needed because its
	// trigger was done without failing; or its trigger is running again (an operator retried it),
	// so its open confirmation request, approvals or no-go are withdrawn and it waits again.
	RecNotNeeded       RecordType = "step.not-needed"
	RecConditionLapsed RecordType = "step.condition-lapsed"

	RecSourceHealth      RecordType = "source.health"
	RecReplicationSample RecordType = "replication.sample"
	RecValidation        RecordType = "step.validation"
	RecRecount           RecordType = "step.recount"
)

// RunOpened is the first record of a journal.
type RunOpened struct {
	Runbook     string `json:"runbook"`
	RunbookHash string `json:"runbook_hash"`
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
	Rehearsal   bool   `json:"rehearsal,omitempty"`
	Steps       int    `json:"steps"`
}

// EngineStarted is written every time an engine takes over the journal.
type EngineStarted struct {
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	Version     string `json:"version,omitempty"`
	RunbookHash string `json:"runbook_hash"`
	Resumed     bool   `json:"resumed"`
	// Torn reports that a torn last line left by a crash was dropped.
	Torn string `json:"torn,omitempty"`
	// AutoConfirm is set when confirmations are given automatically (rehearsal --yes).
	AutoConfirm bool `json:"auto_confirm,omitempty"`
	// Baseline is the rehearsal journal whose durations are the plan (runbook or --baseline).
	Baseline string `json:"baseline,omitempty"`
}

// EngineStopped is written when an engine stops cleanly.
type EngineStopped struct {
	Reason string `json:"reason"`
	// InFlight lists the steps that were still running; they are resumed, re-run or marked
	// interrupted on the next start, exactly as after a crash.
	InFlight []string `json:"in_flight,omitempty"`
}

// RunbookChanged records that the runbook file differs from the one the run started with.
type RunbookChanged struct {
	OldHash string `json:"old_hash"`
	NewHash string `json:"new_hash"`
}

// RunPaused / RunResumed say who paused or resumed the run and why.
type RunPaused struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

// RunFinished is written once every step has succeeded, been skipped or is not needed.
type RunFinished struct {
	Succeeded int `json:"succeeded"`
	Skipped   int `json:"skipped"`
	NotNeeded int `json:"not_needed,omitempty"`
}

// NotNeeded says a conditional step will not run: its trigger (the step whose failure it
// answers) ended with Outcome ("succeeded", "done by hand", "skipped", "not needed").
type NotNeeded struct {
	Trigger string `json:"trigger"`
	Outcome string `json:"outcome"`
}

// ConditionLapsed says a conditional step's trigger is no longer failed — Actor retried it, or
// nil when the engine found it so — and TriggerState is where it went. Request is the
// confirmation request this withdrew (0 when none was open).
type ConditionLapsed struct {
	Trigger      string `json:"trigger"`
	TriggerState string `json:"trigger_state"`
	Request      uint64 `json:"request,omitempty"`
	Actor        *Actor `json:"actor,omitempty"`
}

// Awaiting opens a confirmation request. Its record sequence number is the request id.
type Awaiting struct {
	Action    string `json:"action"`
	Needed    int    `json:"needed"`
	Reconfirm bool   `json:"reconfirm,omitempty"`
	// Lists are the lists the action's text names only in part, in full (ConfirmList).
	Lists []ConfirmList `json:"lists,omitempty"`
}

// Approved is one operator's confirmation.
type Approved struct {
	Request uint64 `json:"request"`
	Actor   Actor  `json:"actor"`
	Count   int    `json:"count"`
	Needed  int    `json:"needed"`
	// Auto is set when the approval was given automatically (a rehearsal run with --yes); it
	// satisfies the request on its own.
	Auto bool `json:"auto,omitempty"`
}

// ConfirmRefused is an attempt to confirm that was turned away (kept as evidence).
type ConfirmRefused struct {
	Request uint64 `json:"request"`
	Actor   Actor  `json:"actor"`
	Reason  string `json:"reason"`
}

// Declined is a no-go: an operator refused the step.
type Declined struct {
	Request uint64 `json:"request"`
	Actor   Actor  `json:"actor"`
	Reason  string `json:"reason"`
}

// Started begins an attempt. It is journaled before the step does anything.
type Started struct {
	Attempt int    `json:"attempt"`
	Action  string `json:"action,omitempty"`
}

// External records what an attempt started outside the process (a process id, an operation id, a
// deadline) before the engine waits for it, so a restart resumes instead of starting it again.
type External struct {
	Attempt int               `json:"attempt"`
	Ref     map[string]string `json:"ref"`
}

// Succeeded ends a step well.
type Succeeded struct {
	Attempt int    `json:"attempt"`
	Message string `json:"message,omitempty"`
	// Actor is set when a person completed it (a manual step, a gate).
	Actor *Actor `json:"actor,omitempty"`
}

// Failed ends an attempt badly. With RetryAt set another attempt follows at that time.
type Failed struct {
	Attempt int        `json:"attempt"`
	Error   string     `json:"error"`
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// AbortedBy is set when an operator stopped the step.
	AbortedBy *Actor `json:"aborted_by,omitempty"`
	// Output is the last lines the step printed.
	Output []string `json:"output,omitempty"`
}

// Interrupted says an attempt was cut off by a crash or a stop. Rerun tells whether it will be run
// again (idempotent steps) or waits for an operator.
type Interrupted struct {
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
	Rerun   bool   `json:"rerun"`
}

// ByActor is an operator action with a reason: a skip, a step done by hand, a retry.
type ByActor struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// Override is the override request whose approvals let a guarded step be skipped or count
	// as done (its step.override-requested record's sequence number); Actor and Reason are then
	// the request's. Zero for a step that is not guarded (and in journals older than the guard).
	Override uint64 `json:"override,omitempty"`
	// Approvals are the distinct operators who approved that override.
	Approvals []Approval `json:"approvals,omitempty"`
	// Reconfirm, on a retry, says the step asks for its confirmation again before it runs (a
	// guarded step, even one waiting for its next automatic attempt). Journals older than the
	// guard lack it: a retried step that was waiting for its next attempt kept its confirmation.
	Reconfirm bool `json:"reconfirm,omitempty"`
}

// OverrideRequested opens a guarded override: an operator asks that a guarded step be skipped or
// count as done. Its record sequence number is the request id. The opener's approval follows in
// its own record.
type OverrideRequested struct {
	Action OverrideAction `json:"action"`
	Actor  Actor          `json:"actor"`
	Reason string         `json:"reason"`
	// Needed is how many distinct operators must approve (the step's approvals, at least one).
	Needed int `json:"needed"`
}

// OverrideApproved is one operator's approval of an open override: they typed its phrase.
type OverrideApproved struct {
	Request uint64         `json:"request"`
	Action  OverrideAction `json:"action"`
	Actor   Actor          `json:"actor"`
	Count   int            `json:"count"`
	Needed  int            `json:"needed"`
	// Note is what a later approver added (the request's reason is the opener's).
	Note string `json:"note,omitempty"`
}

// OverrideRefused is an attempt to skip or mark done a guarded step that was turned away: a
// viewer, a missing or wrong phrase, the same operator twice (kept as evidence). Request is the
// open override it was meant for, or zero when none was open.
type OverrideRefused struct {
	Request uint64         `json:"request,omitempty"`
	Action  OverrideAction `json:"action"`
	Actor   Actor          `json:"actor"`
	Reason  string         `json:"reason"`
}

// OverrideWithdrawn closes an open override without acting: an operator withdrew it.
type OverrideWithdrawn struct {
	Request uint64         `json:"request"`
	Action  OverrideAction `json:"action"`
	Actor   Actor          `json:"actor"`
	Reason  string         `json:"reason,omitempty"`
}

// SourceHealthRecord is a data source changing health (an outage starting or ending).
type SourceHealthRecord struct {
	Source string `json:"source"`
	State  Health `json:"state"`
	Error  string `json:"error,omitempty"`
	// Outage is how long the failing period that just ended lasted.
	Outage time.Duration `json:"outage,omitempty"`
	// ExpectedBy names the step whose expected effect a failure is (the distributor going away
	// while «Remove replication setup» runs): not an outage.
	ExpectedBy string `json:"expected_by,omitempty"`
}

// ReplicationSample is the replication backlog at one moment (the report's drain curve).
type ReplicationSample struct {
	Pending   int64         `json:"pending"`
	DrainRate float64       `json:"drain_rate"`
	ETA       time.Duration `json:"eta,omitempty"`
	Tables    int           `json:"tables"`
}

// Recounted is an operator's exact recount of one table after a validation.
type Recounted struct {
	Actor  Actor      `json:"actor"`
	Check  TableCheck `json:"check"`
	Before CountClass `json:"before"`
}

// ValidationRecord is a record-count validation's result: the counts per class, every table that
// did not simply match (mismatches, missing and extra tables, expected differences with their
// reasons), and the files holding every table.
type ValidationRecord struct {
	Attempt  int                `json:"attempt"`
	Passed   bool               `json:"passed"`
	Tables   int                `json:"tables"`
	Classes  map[CountClass]int `json:"classes"`
	Recounts int                `json:"recounts"`
	Notable  []TableCheck       `json:"notable,omitempty"`
	Files    []string           `json:"files,omitempty"`
}

// Notification deliveries (engine/notify). Each outcome of delivering one milestone to one target
// is journaled: the report lists them, the log shows them, and a restarted engine does not send
// a milestone again to a target that already had it (a delivery cut off by a crash or stop is
// sent again: at least once).
const (
	RecNotifySent   RecordType = "notify.sent"
	RecNotifyFailed RecordType = "notify.failed"
)

// NotifyDelivery is one milestone notification's delivery to one target. It never holds the
// target's URL (a secret: it comes from the environment).
type NotifyDelivery struct {
	// Milestone identifies the occurrence ("step.failed/aos-stop/…"); Event is its kind.
	Milestone string `json:"milestone"`
	Event     string `json:"event"`
	// Target is the runbook's name of the target, Format its type (generic, teams, slack).
	Target string `json:"target"`
	Format string `json:"format"`
	// Title is what the message said, in one line; Step the step it is about, if any.
	Title string `json:"title"`
	Step  string `json:"step,omitempty"`
	// Tries is how many attempts were made; Error the last one's failure (notify.failed).
	Tries int    `json:"tries"`
	Error string `json:"error,omitempty"`
}
