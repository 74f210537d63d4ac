// Package report turns a run's journal into a go-live evidence report: what was planned (the
// runbook), what happened and when (the journal), who confirmed what, how the record counts were
// validated and their differences resolved, how replication drained, which LCS operations ran,
// everything that went differently from the plan, and whether the journal itself can be trusted.
//
// A report is built from the journal alone (plus the runbook for titles, phases and plans, and an
// optional baseline rehearsal journal). It never fails because the journal was tampered with: it
// reports what verifies — every record before the first bad line — and says so loudly at the top.
// It renders as Markdown or as one self-contained HTML file (inline style and SVG, no scripts, no
// external references).
package report

import (
	"errors"
	"fmt"
	"io"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// Section headings, the same in both formats and in this order.
const (
	SectionSummary       = "Summary"
	SectionTimeline      = "Timeline"
	SectionConfirmations = "Confirmations"
	SectionValidation    = "Validation"
	SectionDrain         = "Replication drain curve"
	SectionLCS           = "LCS operations"
	SectionAnomalies     = "Anomalies"
	SectionNotify        = "Notifications"
	SectionIntegrity     = "Journal integrity"
)

// Sections lists the section headings in the order the report shows them.
var Sections = []string{SectionSummary, SectionTimeline, SectionConfirmations, SectionValidation,
	SectionDrain, SectionLCS, SectionAnomalies, SectionNotify, SectionIntegrity}

// Outcomes of a run as the report states them.
const (
	OutcomeCompleted  = "completed"
	OutcomeBlocked    = "blocked"
	OutcomeHalted     = "halted"
	OutcomeInProgress = "in progress"
)

// Options say what to report on.
type Options struct {
	// Runbook is the run's runbook (titles, phases, planned durations, the downtime window).
	// Required.
	Runbook *runbook.Runbook
	// Journal is the path of the run's journal file (state directory/journal.jsonl). Required.
	Journal string
	// Kinds are the runbook's step kinds (every kind this build knows when nil): they say
	// whether the rollback point's step checks its backup.
	Kinds *engine.Registry
	// Baseline is an earlier run's journal whose actual durations the timeline is compared
	// with; when empty, the baseline the run journaled it planned with, else Runbook.Baseline. A baseline given here that cannot be read is an error;
	// one named only by the runbook is reported as a note instead.
	Baseline string
	// Now is the time the report is made at (time.Now when nil): the end of a downtime that has
	// not ended yet.
	Now func() time.Time
}

// Report is a run's evidence, ready to render. Build fills it; Markdown and HTML render it.
type Report struct {
	// Generated is when the report was built.
	Generated time.Time
	// Integrity is the journal's verification; when it failed, everything else covers only the
	// records before the bad line.
	Integrity Integrity
	// Summary is the run at a glance.
	Summary Summary
	// Timeline is every step with its plan and its actual timing.
	Timeline Timeline
	// Confirmations are the confirmation requests, approvals, refusals and no-gos.
	Confirmations Confirmations
	// Gates are the go/no-go decisions: every confirmation request of a gate step, with the
	// time the gate waited and what was decided.
	Gates []Gate
	// Validations are the record-count validations in journal order; Recounts the operators'
	// exact recounts.
	Validations []Validation
	Recounts    []Recount
	// Drain is the replication backlog over time.
	Drain Drain
	// LCS are the steps that ran Lifecycle Services operations.
	LCS []LCSStep
	// Anomalies are the things that went differently from the plan, in time order.
	Anomalies []Anomaly
	// Notifications are the milestone messages delivered to the runbook's notify: targets, or
	// given up on, in time order.
	Notifications []Notification
	// Notes are facts about the inputs worth knowing (a baseline that could not be read, a
	// journal written for a different runbook, steps the runbook no longer has).
	Notes []string
}

// Integrity is the result of verifying the journal's hash chain.
type Integrity struct {
	// Path is the journal file.
	Path string
	// Records is how many records verified (and are covered by the report); Head is the hash
	// of the last of them (journal.Genesis when none).
	Records int
	Head    string
	// First and Last are the times of the first and last verified records.
	First, Last time.Time
	// Verified is true when every complete line verified.
	Verified bool
	// BadLine and BadReason name the first line that failed verification (0 and "" when none).
	BadLine   int
	BadReason string
	// TailReason says how the journal does not end where its anchor says the last acknowledged
	// line is (lines cut from its end, or added after it); "" when it does or has no anchor.
	TailReason string
	// Anchored is true when the journal's end was checked against its anchor.
	Anchored bool
	// TornLine and TornBytes describe an incomplete last line (a crash during a write, or a
	// write in progress) that was left out (0 when none).
	TornLine, TornBytes int
	// RunbookHash is the SHA-256 of the runbook given to the report; OpenedWith the one the
	// journal's run.opened record names and CurrentHash the last one the journal recorded (after
	// runbook.changed records). RunbookMatches is true when RunbookHash is CurrentHash.
	RunbookFile    string
	RunbookHash    string
	OpenedWith     string
	CurrentHash    string
	RunbookMatches bool
}

// Banner is the warning shown at the top of the report when the journal failed verification
// ("" when it verified).
func (i Integrity) Banner() string {
	if i.Verified {
		return ""
	}
	if i.BadLine == 0 && i.TailReason != "" {
		return fmt.Sprintf("JOURNAL FAILED VERIFICATION: %s; this report covers the %d record(s) the journal holds", i.TailReason, i.Records)
	}
	return fmt.Sprintf("JOURNAL FAILED VERIFICATION at line %d: %s; this report covers only the records before it (%d record(s))",
		i.BadLine, i.BadReason, i.Records)
}

// Summary is the run at a glance.
type Summary struct {
	// Name, Environment and Rehearsal come from the runbook.
	Name        string
	Environment string
	Rehearsal   bool
	// Opened is when the journal was opened (run.opened); Finished when the run finished (zero
	// when it has not).
	Opened   time.Time
	Finished time.Time
	// Outcome is completed, blocked (a step failed and nothing after it can go on), halted (the
	// last engine was stopped before the run finished) or in progress; OutcomeDetail says why.
	Outcome       string
	OutcomeDetail string
	// Steps counts the runbook's steps; the rest count them by their last recorded state
	// (Succeeded includes DoneByHand).
	Steps      int
	Succeeded  int
	DoneByHand int
	Skipped    int
	// NotNeeded counts conditional steps (`when: {failed}`) whose trigger was done without
	// failing: they never ran and count as done.
	NotNeeded  int
	Failed     int
	Unfinished int
	NotStarted int
	// EngineStarts counts engine.started records; Resumes those that resumed the run, and
	// CrashRecoveries the resumes not preceded by a clean stop.
	EngineStarts    int
	Resumes         int
	CrashRecoveries int
	// AutoConfirm is set when an engine confirmed steps automatically (a rehearsal with --yes).
	AutoConfirm bool
	// Paused is set when the run is paused at the end of the journal.
	Paused bool
	// Downtime is the downtime window (nil when the runbook has none).
	Downtime *Downtime
}

// Downtime is the downtime window as planned and as it went.
type Downtime struct {
	// PlannedStart is the runbook's planned start (zero when not given), Budget the agreed
	// length, Planned the longest chain of planned step durations from BeginsWith.
	PlannedStart time.Time
	Budget       time.Duration
	Planned      time.Duration
	// BeginsWith is the step whose start starts the downtime clock; PointOfNoReturn the step
	// after which AX 2012 rollback is impossible (titled PointOfNoReturnTitle), passed at
	// PointOfNoReturnAt (zero if not yet): its first start, or its end when it never started (a
	// gate confirmed, a step skipped or marked done) — the engine's rule (engine.RollbackView).
	BeginsWith           string
	PointOfNoReturn      string
	PointOfNoReturnTitle string
	PointOfNoReturnAt    time.Time
	// RollbackPoint is the step that made the AX 2012 rollback point (the runbook's
	// rollback_point), made at RollbackPointAt (zero: never); RollbackPointOutcome is its step's
	// last state in words, and RollbackPointProof whether the backup was verified (ProofNone
	// until it is made).
	RollbackPoint        string
	RollbackPointAt      time.Time
	RollbackPointOutcome string
	RollbackPointProof   engine.PointProof
	// Began is when the downtime began (zero: not yet) and BeganBy how that was decided.
	Began   time.Time
	BeganBy string
	// Ended is when it ended: the run's finish, or the report's time while Ongoing. When the
	// journal failed verification before the run finished, the end is unknown: Truncated is set
	// and Ended is the last verified record's time, so Used is a lower bound.
	Ended     time.Time
	Ongoing   bool
	Truncated bool
	// Used is Ended - Began; Over is Used - Budget (negative: under budget).
	Used time.Duration
	Over time.Duration
	// StartDelay is Began - PlannedStart (negative: early; zero when either is unknown).
	StartDelay time.Duration
}

// Timeline is every step of the runbook in order, with what happened to it.
type Timeline struct {
	Steps []StepRow
	// Began is when the first step was asked for or started; Finished when the run finished
	// (zero when it has not); Elapsed the run's time from Began to Finished (or its last step's
	// end).
	Began    time.Time
	Finished time.Time
	Elapsed  time.Duration
	// PlannedCritical is the longest chain of planned durations through the runbook.
	PlannedCritical time.Duration
	// Baseline compares with an earlier run (nil without a baseline).
	Baseline *BaselineComparison
}

// StepRow is one step in the timeline.
type StepRow struct {
	ID, Title, Phase, Kind string
	// Doc is the document (and section) the step implements, as the runbook names it.
	Doc string
	// InRunbook is false for a step the journal names but the runbook no longer has.
	InRunbook bool
	// Gate is set for a go/no-go gate: it makes no attempts, its duration is its wait for the
	// decision and its outcome the decision.
	Gate bool
	// Planned is the runbook's planned duration.
	Planned time.Duration
	// Began is when the step was first asked for (its confirmation opened) or started; Ended
	// when it succeeded, was skipped or was marked done; Duration the time between.
	Began, Ended time.Time
	Duration     time.Duration
	// Attempts counts the attempts started; Retries the failed attempts followed by another.
	Attempts, Retries int
	// Outcome is the step's last recorded state in words; Result what its end said (its success
	// message, or why it was skipped or marked done by hand; "" when it said nothing).
	Outcome string
	Result  string
	// Baseline is the step's duration in the baseline run (HasBaseline false when that run has
	// no finished duration for it); Diff is Duration - Baseline when both are known.
	HasBaseline bool
	Baseline    time.Duration
	HasDiff     bool
	Diff        time.Duration
}

// BaselineComparison is the run compared with a baseline run.
type BaselineComparison struct {
	// Path and Head identify the baseline journal.
	Path string
	Head string
	// Elapsed is the baseline run's total time; Diff this run's Elapsed minus it.
	Elapsed time.Duration
	Diff    time.Duration
	// Compared counts the steps finished in both runs; Actual and Baseline sum their durations.
	Compared int
	Actual   time.Duration
	Baseline time.Duration
}

// Confirmations are every confirmation request and what operators answered.
type Confirmations struct {
	Requests  []Request
	Approvals []Approval
	// Refusals are confirmations turned away and no-gos (declines), with their reasons.
	Refusals []Refusal
}

// Request is one confirmation request (its id is the sequence number of its step.awaiting
// record).
type Request struct {
	ID     uint64
	Step   string
	At     time.Time
	Needed int
	// Reconfirm is set when the step asked again (a retry of a confirmed step).
	Reconfirm bool
	// Override is "skip" or "done" for a request to skip a guarded step or mark it done by hand
	// (empty for a confirmation request); Withdrawn says an operator withdrew it.
	Override  string
	Withdrawn bool
	// Approvals counts the approvals given; Satisfied says the request was satisfied and
	// Declined that it ended in a no-go.
	Approvals int
	Satisfied bool
	Declined  bool
	// SatisfiedAt is when the last needed approval came.
	SatisfiedAt time.Time
	// State is how the request ended (RequestOpen while nothing in the journal closed it);
	// ClosedAt and ClosedBy when and by whom (the approvers of a confirmed request), Reason a
	// no-go's, a withdrawal's or a skip's reason, ReplacedBy the request that replaced it.
	State      RequestState
	ClosedAt   time.Time
	ClosedBy   string
	Reason     string
	ReplacedBy uint64
}

// Approval is one operator's confirmation.
type Approval struct {
	Request uint64
	Step    string
	At      time.Time
	Actor   engine.Actor
	// Count is the approvals so far for the request, Needed how many it needed.
	Count, Needed int
	// Auto is set when it was given automatically (a rehearsal run with --yes).
	Auto bool
	// Override is "skip" or "done" when the approval was of an override request.
	Override string
	// SharedOrigin, when set, says that another approval of the same request came from the same
	// place (Actor.Place: one address, one jump box) or the same identity: two people who may be
	// one, worth a look ("same origin as Ben's: ssh 10.0.0.5").
	SharedOrigin string
}

// Refusal is a confirmation turned away or a no-go.
type Refusal struct {
	// Kind is "refused" (the confirmation was not accepted), "no-go" (the step was declined),
	// "refused skip" / "refused done" (an override attempt turned away) or "withdrawn skip" /
	// "withdrawn done" (an open override withdrawn).
	Kind    string
	Request uint64
	Step    string
	At      time.Time
	Actor   engine.Actor
	Reason  string
}

// Validation is one record-count validation's result.
type Validation struct {
	// Seq is the journal sequence number of its record.
	Seq      uint64
	Step     string
	At       time.Time
	Attempt  int
	Passed   bool
	Tables   int
	Classes  []ClassCount
	Recounts int
	Files    []string
	// Notable are the tables that did not simply match, with how each was resolved.
	Notable []Notable
}

// ClassCount is how many tables a validation put in one class.
type ClassCount struct {
	Class string
	Count int
}

// Resolution states of a notable table.
const (
	// ResolvedExpected: the difference was expected (the runbook says why).
	ResolvedExpected = "expected"
	// ResolvedRecount: an exact recount showed the table matches (or differs as expected).
	ResolvedRecount = "resolved by recount"
	// ResolvedRevalidated: a later validation of the step passed or no longer lists the table.
	ResolvedRevalidated = "resolved by a later validation"
	// CarriedOver: a later validation still lists the table (see that validation).
	CarriedOver = "carried over"
	// Waived: the validation step was skipped or marked done by hand with the table unresolved.
	Waived = "waived by an operator"
	// Unresolved: nothing in the journal resolves it.
	Unresolved = "unresolved"
)

// Notable is one table a validation found not to simply match.
type Notable struct {
	Table   string
	Class   string
	Source  int64
	Target  int64
	Delta   int64
	Pending int64
	Exact   bool
	// Reason explains an expected difference; Error why an exact recount failed.
	Reason string
	Error  string
	// Status is one of the resolution states (ResolvedExpected … Unresolved); Resolution says
	// what resolved it, when and by whom.
	Status     string
	Resolution string
}

// Recount is an operator's exact recount of one table.
type Recount struct {
	Seq    uint64
	Step   string
	At     time.Time
	Actor  engine.Actor
	Table  string
	Before string
	After  string
	Source int64
	Target int64
	Delta  int64
	Error  string
}

// Drain is the replication backlog over time, from the journaled samples.
type Drain struct {
	// Samples are all the samples; Rows at most MaxDrainRows of them for a table (the first and
	// the last included).
	Samples []Sample
	Rows    []Sample
	// First, Last and Peak are the first, last and largest samples (zero without samples).
	First, Last, Peak Sample
	// Chart is the curve laid out for an SVG drawing (nil without samples).
	Chart *Chart
}

// MaxDrainRows is the most samples the drain table shows.
const MaxDrainRows = 20

// Sample is the replication backlog at one moment.
type Sample struct {
	At time.Time
	// Pending is the number of undistributed commands, DrainRate their smoothed net drain
	// (commands/s), ETA the forecast until drained.
	Pending   int64
	DrainRate float64
	ETA       time.Duration
	Tables    int
}

// LCSStep is a step that ran Lifecycle Services operations.
type LCSStep struct {
	Step, Title, Kind string
	// Operations are the LCS operations (activity ids) it followed, in order.
	Operations []LCSOperation
	// Events are the step's journaled moments: attempts, references, the end.
	Events []LCSEvent
	// Outcome is the step's last state; Message its success message or failure error.
	Outcome string
	Message string
}

// LCSOperation is one LCS operation a step followed.
type LCSOperation struct {
	ID      string
	Attempt int
	At      time.Time
	// States are the operation states journaled, in order; Final the last of them.
	States []string
	Final  string
}

// LCSEvent is one journaled moment of an LCS step.
type LCSEvent struct {
	At      time.Time
	Attempt int
	What    string
}

// Anomaly kinds.
const (
	AnomalyRetry          = "retry"
	AnomalyFailure        = "failure"
	AnomalyAborted        = "aborted"
	AnomalyInterrupted    = "interrupted"
	AnomalySkipped        = "skipped"
	AnomalyDoneByHand     = "done by hand"
	AnomalyNoGo           = "no-go"
	AnomalyOutage         = "source outage"
	AnomalyRunbookChanged = "runbook changed"
	AnomalyPaused         = "paused"
	AnomalyAccess         = "access withdrawn"
	AnomalyCrash          = "crash recovery"
	AnomalyStopped        = "engine stopped"
)

// Anomaly is something that went differently from the plan.
type Anomaly struct {
	At   time.Time
	Kind string
	// Step is the step concerned ("" for the run); Actor who did it ("" for the engine).
	Step   string
	Actor  string
	Detail string
}

// journaledBaseline is the baseline the run itself planned with: the last one an engine start
// journaled (runbook baseline: or --baseline), else the runbook's.
func journaledBaseline(recs []journal.Record, runbook string) string {
	path := runbook
	for _, rec := range recs {
		var es engine.EngineStarted
		if rec.Type == string(engine.RecEngineStarted) && rec.Decode(&es) == nil && es.Baseline != "" {
			path = es.Baseline
		}
	}
	return path
}

// Build reads the journal and makes the report. It fails only when the journal or an explicitly
// given baseline cannot be read at all; a journal that fails verification is reported as far as
// it verifies, with a banner saying so.
func Build(opts Options) (*Report, error) {
	if opts.Runbook == nil {
		return nil, errors.New("report: no runbook")
	}
	if opts.Journal == "" {
		return nil, errors.New("report: no journal path")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	c, vr, err := journal.ReadEvidence(opts.Journal)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r := &Report{Generated: now().UTC()}
	r.Integrity = Integrity{
		Path: opts.Journal, Records: vr.Records, Head: vr.Head, First: vr.First, Last: vr.Last,
		Verified: vr.OK(), RunbookFile: opts.Runbook.File, RunbookHash: opts.Runbook.Hash,
	}
	if vr.Bad != nil {
		r.Integrity.BadLine, r.Integrity.BadReason = vr.Bad.Line, vr.Bad.Reason
	}
	switch {
	case vr.Tail != nil:
		r.Integrity.TailReason = vr.Tail.Reason
	case vr.AnchorStatus == journal.AnchorUnreadable:
		r.Integrity.TailReason = "its anchor (" + journal.AnchorFileName + ") has no readable slot, so where it should end is unknown"
	}
	r.Integrity.Anchored = vr.AnchorStatus == journal.AnchorOK
	if vr.Torn != nil {
		r.Integrity.TornLine, r.Integrity.TornBytes = vr.Torn.Line, vr.Torn.Bytes
	}

	var base *engine.Baseline
	switch implicit := journaledBaseline(c.Records, opts.Runbook.Baseline); {
	case opts.Baseline != "":
		if base, err = engine.LoadBaseline(opts.Baseline); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	case implicit != "":
		if base, err = engine.LoadBaseline(implicit); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("The run's baseline could not be used, so the timeline has no comparison: %v", err))
			base = nil
		}
	}

	b := newBuilder(opts.Runbook, c.Records, r, r.Generated)
	b.kinds = opts.Kinds
	if b.kinds == nil {
		b.kinds = engine.NewRegistry(engine.AllKinds()...)
	}
	b.walk()
	b.finish(base)
	return r, nil
}

// Markdown renders the report as Markdown.
func (r *Report) Markdown(w io.Writer) error {
	return writeMarkdown(w, r)
}

// HTML renders the report as one self-contained HTML file.
func (r *Report) HTML(w io.Writer) error {
	return writeHTML(w, r)
}

// Notification is one milestone message's delivery to one target, as journaled.
type Notification struct {
	At     time.Time
	Target string
	Format string
	// Event is the milestone (step.failed, run.completed, …); Title what the message said.
	Event string
	Title string
	Step  string
	// Sent is true when the target took it; Tries how many attempts were made; Error the last
	// failure of one that was not sent.
	Sent  bool
	Tries int
	Error string
}
