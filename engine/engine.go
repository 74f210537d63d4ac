// Package engine runs a cutover runbook: a DAG scheduler over step kinds, a confirmation protocol
// for destructive steps, a hash-chained journal that makes every state change durable before it is
// acknowledged, and an event bus that front ends (the TUI, SSH sessions, the headless printer)
// subscribe to. It imports nothing from the front ends and no Charm module.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// Options configure an engine.
type Options struct {
	// StateDir holds the journal, the lock and the log file. Required.
	StateDir string
	// Clock is the time source (the real clock when nil).
	Clock clock.Clock
	// Kinds are the step kinds (the built-in ones when nil).
	Kinds *Registry
	// AutoConfirm gives every confirmation and completes manual steps automatically. It is refused
	// unless the runbook says `rehearsal: true`.
	AutoConfirm bool
	// DoneByOthers names the manual steps AutoConfirm leaves to someone else to complete: the
	// demo's simulated operator does their work on the simulators, then marks them done.
	DoneByOthers func(step string) bool
	// Version is recorded in the journal.
	Version string
	// Self is the path of the cutover executable, offered to commands as {self}.
	Self string
	// LogRing is how many log lines are kept in memory (DefaultLogRing when 0).
	LogRing int
	// QueueLimit bounds each subscriber's undelivered must-deliver events.
	QueueLimit int
	// Command describes this process in the lock file.
	Command string
	// NoSync skips fsync in the journal: benchmarks only.
	NoSync bool
	// Ports connect the step kinds and the replication monitor to the world; Ports.Replication
	// feeds the monitor (without it there is none).
	Ports Ports
	// Monitor tunes the replication monitor.
	Monitor MonitorConfig
	// SampleEvery is how often the replication backlog is journaled for the report (default 1m).
	SampleEvery time.Duration
}

// ErrAutoConfirmRefused is returned when automatic confirmation is asked for a real cutover.
var ErrAutoConfirmRefused = errors.New("--yes confirms steps automatically and is only allowed for a rehearsal runbook (`rehearsal: true`); on a real cutover every confirmation must be typed by an operator")

// ErrHalted is returned by actions after the engine stopped itself.
var ErrHalted = errors.New("the engine has halted")

// errStopping cancels runners when the engine stops; their steps stay in flight in the journal.
var errStopping = errors.New("cutover is stopping")

// Engine runs one runbook against one state directory.
type Engine struct {
	rb       *runbook.Runbook
	opts     Options
	clock    clock.Clock
	kinds    *Registry
	stateDir string
	self     string
	bus      *Bus
	logs     *logBook

	mu          sync.Mutex
	j           *journal.Journal
	st          runState
	children    map[string][]*stepRT
	open        bool
	started     bool
	draining    bool
	stopping    bool
	closed      bool
	halted      error
	lastOutcome Outcome
	kick        chan struct{}
	runCtx      context.Context
	runCancel   context.CancelCauseFunc
	loopDone    chan struct{}
	wg          sync.WaitGroup
	report      journal.OpenReport
	monitor     *monitor
	lastSample  time.Time
	validation  *Validation
	holds       map[string]hold
	// baseline is the rehearsal whose actual durations are the plan (nil: the runbook's planned:).
	baseline *Baseline
}

// New prepares an engine for a validated runbook. It does not touch the state directory yet.
func New(rb *runbook.Runbook, opts Options) (*Engine, error) {
	if opts.StateDir == "" {
		return nil, errors.New("engine: no state directory")
	}
	if opts.AutoConfirm && !rb.Rehearsal {
		return nil, ErrAutoConfirmRefused
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Kinds == nil {
		opts.Kinds = NewRegistry(BuiltinKinds()...)
	}
	self := opts.Self
	if self == "" {
		self, _ = os.Executable()
	}
	e := &Engine{
		rb: rb, opts: opts, clock: opts.Clock, kinds: opts.Kinds, stateDir: opts.StateDir, self: self,
		bus:      NewBus(opts.QueueLimit),
		children: map[string][]*stepRT{},
		holds:    map[string]hold{},
		kick:     make(chan struct{}, 1),
	}
	e.logs = newLogBook(opts.LogRing, e.clock.Now)
	if opts.Ports.Replication != nil {
		e.monitor = newMonitor(e.clock.Now, monitorHooks{
			log:      func(level LogLevel, step, msg string) { e.logs.add(level, step, "", msg) },
			publish:  func(ev Event) { e.bus.Publish(ev) },
			health:   e.recordHealth,
			sample:   e.recordSample,
			removing: e.removingReplication,
		}, opts.Ports.Replication, opts.Monitor)
	}
	if e.opts.SampleEvery <= 0 {
		e.opts.SampleEvery = time.Minute
	}
	e.logs.publish = func(b LogBatch) { e.bus.Publish(b) }
	e.st.steps = map[string]*stepRT{}
	for _, id := range rb.TopoOrder() {
		def, _ := rb.Step(id)
		k, ok := e.kinds.Kind(def.Kind)
		if !ok {
			return nil, fmt.Errorf("engine: step %q has unknown kind %q", def.ID, def.Kind)
		}
		if _, isAction := def.Spec.(Action); !isAction {
			return nil, fmt.Errorf("engine: step %q was not decoded by its kind (load the runbook with the engine's registry)", def.ID)
		}
		st := &stepRT{def: def, kind: k}
		e.st.steps[id] = st
		e.st.order = append(e.st.order, st)
	}
	for _, st := range e.st.order {
		for _, dep := range st.def.After {
			e.children[dep] = append(e.children[dep], st)
		}
	}
	return e, nil
}

// Runbook is the runbook the engine runs.
func (e *Engine) Runbook() *runbook.Runbook { return e.rb }

// StateDir is the state directory.
func (e *Engine) StateDir() string { return e.stateDir }

// OpenReport says what opening the journal found (a torn tail, a stale lock taken over).
func (e *Engine) OpenReport() journal.OpenReport {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.report
}

// Open takes the state directory's lock, verifies and replays the journal, and opens the log file.
// Steps are not run until Start; without Start the engine can still take operator actions (the
// `cutover step` commands use this while no cockpit runs).
func (e *Engine) Open() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open {
		return errors.New("engine: already open")
	}
	if e.rb.Baseline != "" {
		b, err := LoadBaseline(e.rb.Baseline)
		if err != nil {
			return err
		}
		e.baseline = b
	}
	j, rep, err := journal.Open(e.stateDir, journal.Options{NoSync: e.opts.NoSync, Command: e.opts.Command})
	if err != nil {
		return err
	}
	e.j, e.report = j, journal.OpenReport{Torn: rep.Torn, StaleLock: rep.StaleLock, Created: rep.Created, Unanchored: rep.Unanchored, CrashLine: rep.CrashLine}
	for _, rec := range rep.Records {
		if err := e.st.apply(rec); err != nil {
			_ = j.Close()
			return err
		}
	}
	if err := e.logs.openFile(filepath.Join(e.stateDir, LogFileName)); err != nil {
		_ = j.Close()
		return err
	}
	e.open = true
	if rep.Torn != nil {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("journal: dropped an incomplete last line (line %d, %d bytes) left by a crash during a write; nothing acknowledged was lost", rep.Torn.Line, rep.Torn.Bytes))
	}
	if rep.CrashLine != 0 {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("journal: line %d was written as the engine stopped, before its anchor; it is kept (the crash window between the two writes)", rep.CrashLine))
	}
	if rep.Unanchored {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("journal: it had no %s, so whether lines were cut from or added to its end could not be checked; it is anchored from now on", journal.AnchorFileName))
	}
	if rep.StaleLock != nil {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("took over the state directory from %s, which is no longer running", rep.StaleLock))
	}
	if rep.Created || len(rep.Records) == 0 {
		_, err := e.commitLocked(RecRunOpened, "", RunOpened{
			Runbook: e.rb.File, RunbookHash: e.rb.Hash, Name: e.rb.Name, Environment: e.rb.Environment,
			Rehearsal: e.rb.Rehearsal, Steps: len(e.rb.Steps),
		})
		return err
	}
	if last := e.st.runbookHash; last != "" && last != e.rb.Hash {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("the runbook changed since this run started (sha256 %s… → %s…); continuing with the new file", short(last), short(e.rb.Hash)))
		_, err := e.commitLocked(RecRunbookChanged, "", RunbookChanged{OldHash: last, NewHash: e.rb.Hash})
		return err
	}
	return nil
}

// baselinePathLocked is the baseline journal's path ("" without one).
func (e *Engine) baselinePathLocked() string {
	if e.baseline == nil {
		return ""
	}
	return e.baseline.Path
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Start records the engine start, settles attempts a crash or stop interrupted, and begins
// scheduling. Open must have been called.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.open || e.closed {
		return errors.New("engine: Start before Open")
	}
	if e.started {
		return errors.New("engine: already started")
	}
	host, _ := os.Hostname()
	es := EngineStarted{Host: host, PID: os.Getpid(), Version: e.opts.Version, RunbookHash: e.rb.Hash, Baseline: e.baselinePathLocked(),
		Resumed: e.st.starts > 0, AutoConfirm: e.opts.AutoConfirm}
	if t := e.report.Torn; t != nil {
		es.Torn = fmt.Sprintf("line %d (%d bytes) dropped", t.Line, t.Bytes)
	}
	if _, err := e.commitLocked(RecEngineStarted, "", es); err != nil {
		return err
	}
	e.runCtx, e.runCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	e.started = true
	if es.Resumed {
		e.logs.add(LevelInfo, "", "", fmt.Sprintf("resuming run %q from the journal (%d records)", e.rb.Name, e.j.Seq()))
	}
	e.recoverLocked()
	for _, st := range e.st.order {
		e.retireMonitorLocked(st)
	}
	e.loopDone = make(chan struct{})
	go e.loop(ctx)
	if e.monitor != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.monitor.run(e.runCtx, e.clock)
		}()
	}
	return nil
}

// Replication is the replication monitor's newest picture (nil without a monitor).
func (e *Engine) Replication() *ReplicationView {
	if e.monitor == nil {
		return nil
	}
	return e.monitor.latest()
}

// RefreshNow asks the monitor to poll at once (the cockpit's refresh key).
func (e *Engine) RefreshNow() {
	if e.monitor != nil {
		e.monitor.refreshNow()
	}
}

// SetPollIntervals changes the monitor's intervals (0 keeps one).
func (e *Engine) SetPollIntervals(interval, backlog time.Duration) {
	if e.monitor != nil {
		e.monitor.setIntervals(interval, backlog)
	}
}

// maxNotable bounds how many tables a validation record lists (the files hold every table).
const maxNotable = 500

// recordValidation journals a validation's result, keeps it for the cockpit and tells subscribers.
func (e *Engine) recordValidation(step string, attempt int, v *Validation, files []string) {
	rec := ValidationRecord{Attempt: attempt, Passed: v.Passed, Tables: len(v.Tables), Classes: v.Classes, Recounts: v.Recounts, Files: files}
	for _, t := range v.Tables {
		if t.Class != ClassMatch && t.Class != ClassIgnored && len(rec.Notable) < maxNotable {
			rec.Notable = append(rec.Notable, t)
		}
	}
	v.Step = step
	e.mu.Lock()
	e.validation = v
	if !e.closed && e.j != nil {
		_, _ = e.commitLocked(RecValidation, step, rec)
	}
	e.mu.Unlock()
	e.bus.Publish(ValidationUpdated{Validation: v})
}

// Validation is the newest record-count validation (reloaded from its file after a restart), or nil.
func (e *Engine) Validation() *Validation {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.validation == nil {
		for _, f := range e.st.validationFiles {
			if strings.HasSuffix(f, ".json") {
				if b, err := os.ReadFile(f); err == nil {
					var v Validation
					if json.Unmarshal(b, &v) == nil {
						e.validation = &v
					}
				}
			}
		}
	}
	return e.validation
}

// Now is the engine's time (the demo's clock runs faster than real time): front ends measure the
// age of figures against it.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// ErrNoValidation is returned by Recount before any validation ran.
var ErrNoValidation = errors.New("no validation has run yet")

// Recount counts one table of the newest validation exactly (COUNT_BIG) on both sides, classifies
// it again with the rules of the step that validated, journals the recount as evidence and
// publishes the updated validation. Only operators may: it loads the production source.
func (e *Engine) Recount(ctx context.Context, table string, actor Actor) (TableCheck, error) {
	if actor.Role != RoleOperator {
		return TableCheck{}, fmt.Errorf("recount %s: %w (%s is a %s)", table, ErrNotOperator, actor.Name, actor.Role)
	}
	v := e.Validation()
	if v == nil {
		return TableCheck{}, fmt.Errorf("recount %s: %w", table, ErrNoValidation)
	}
	var old *TableCheck
	for i := range v.Tables {
		if tableKey(v.Tables[i].Table) == tableKey(table) {
			old = &v.Tables[i]
		}
	}
	if old == nil {
		return TableCheck{}, fmt.Errorf("recount %s: the validation has no such table", table)
	}
	if e.opts.Ports.Counts == nil {
		return TableCheck{}, fmt.Errorf("recount %s: no SQL connections to count with", table)
	}
	rules := ValidationRules{}
	if s, ok := e.rb.Step(v.Step); ok {
		if r, ok := s.Spec.(interface{ Rules() ValidationRules }); ok {
			rules = r.Rules()
		}
	}
	count := func(side Side) (int64, bool, error) {
		res, err := e.opts.Ports.Counts.Exact(ctx, side, []string{old.Table}, 1, nil)
		if err != nil {
			return 0, false, err
		}
		if len(res) != 1 {
			return 0, false, fmt.Errorf("no count returned")
		}
		if res[0].Err != nil {
			return 0, false, res[0].Err
		}
		return res[0].Rows, true, nil
	}
	src, onSrc, err1 := count(SideSource)
	tgt, onTgt, err2 := count(SideTarget)
	if err1 != nil && err2 != nil {
		return TableCheck{}, fmt.Errorf("recount %s: source: %v; target: %w", table, err1, err2)
	}
	if err1 != nil {
		src, onSrc = old.Source, old.Class != ClassExtra
	}
	if err2 != nil {
		tgt, onTgt = old.Target, old.Class != ClassMissing
	}
	tc := newClassifier(rules).classify(old.Table, src, tgt, onSrc, onTgt, old.Pending, err1 == nil && err2 == nil)
	if err := errors.Join(err1, err2); err != nil {
		tc.Error = err.Error()
	}
	now := e.clock.Now()
	nv := v.withTable(tc, now)
	e.mu.Lock()
	if e.validation == v {
		e.validation = nv
	}
	var jerr error
	if e.closed || e.j == nil {
		jerr = ErrClosed
	} else {
		_, jerr = e.commitLocked(RecRecount, v.Step, Recounted{Actor: actor, Check: tc, Before: old.Class})
	}
	e.mu.Unlock()
	if jerr != nil {
		return tc, fmt.Errorf("recount %s: %w", table, jerr)
	}
	e.logs.add(LevelInfo, v.Step, "", fmt.Sprintf("%s recounted %s exactly: source %d, target %d, Δ %d — %s (was %s)", actor.Name, tc.Table, tc.Source, tc.Target, tc.Delta, tc.Class, old.Class))
	e.bus.Publish(ValidationUpdated{Validation: nv})
	return tc, nil
}

// recordHealth journals a data source's change of health; expectedBy names the step whose
// expected effect a failure is.
func (e *Engine) recordHealth(h SourceHealth, expectedBy string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil {
		return
	}
	rec := SourceHealthRecord{Source: h.Name, State: h.State, ExpectedBy: expectedBy}
	if h.State == HealthFailing {
		rec.Error = h.LastError
	} else {
		rec.Outage = h.LastOutage
	}
	_, _ = e.commitLocked(RecSourceHealth, "", rec)
}

// recordSample journals the replication backlog, at most once per SampleEvery.
func (e *Engine) recordSample(v *ReplicationView) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil || (!e.lastSample.IsZero() && v.At.Sub(e.lastSample) < e.opts.SampleEvery) {
		return
	}
	e.lastSample = v.At
	_, _ = e.commitLocked(RecReplicationSample, "", ReplicationSample{Pending: v.TotalPending, DrainRate: v.DrainRate, ETA: v.ETA, Tables: len(v.Tables)})
}

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

// loop is the scheduler: it starts what can start whenever something changes or a retry is due.
func (e *Engine) loop(ctx context.Context) {
	defer close(e.loopDone)
	for {
		e.mu.Lock()
		next := e.scheduleLocked()
		e.mu.Unlock()
		var timer clock.Timer
		var due <-chan time.Time
		if !next.IsZero() {
			timer = e.clock.NewTimer(next.Sub(e.clock.Now()))
			due = timer.C()
		}
		select {
		case <-e.kick:
		case <-due:
		case <-ctx.Done():
		case <-e.runCtx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil || e.runCtx.Err() != nil {
			return
		}
	}
}

func (e *Engine) kickLocked() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// scheduleLocked starts every step that can start and returns when it next needs to look (a retry
// that is due later), or the zero time.
func (e *Engine) scheduleLocked() time.Time {
	var next time.Time
	if !e.started || e.draining || e.stopping || e.halted != nil {
		return next
	}
	now := e.clock.Now()
	running, exclusive := 0, false
	for _, st := range e.st.order {
		if st.running {
			running++
			exclusive = exclusive || st.def.Exclusive
		}
	}
	canRun := func(st *stepRT) bool {
		if exclusive {
			return false
		}
		if st.def.Exclusive && running > 0 {
			return false
		}
		return e.rb.Parallelism == 0 || running < e.rb.Parallelism
	}
	for _, st := range e.st.order {
		if e.halted != nil {
			return time.Time{}
		}
		if st.def.When != nil && e.settleConditionLocked(st, nil) {
			continue
		}
		switch {
		case e.opts.AutoConfirm && st.state == StateAwaiting && st.def.When == nil && !e.st.paused:
			// A request left open by a crash right after it was made.
			e.autoApproveLocked(st, st.request)
		case e.opts.AutoConfirm && st.state == StateRunning && st.kind.Mode() == ModeManual && !e.st.paused &&
			(e.opts.DoneByOthers == nil || !e.opts.DoneByOthers(st.def.ID)):
			e.autoCompleteLocked(st)
		case st.state == StateRetrying:
			if st.retryAt.After(now) {
				if next.IsZero() || st.retryAt.Before(next) {
					next = st.retryAt
				}
				continue
			}
			if e.st.paused || !canRun(st) {
				continue
			}
			if e.startLocked(st, st.attempt+1) {
				running++
				exclusive = exclusive || st.def.Exclusive
			}
		case st.state == StatePending && e.st.depsDone(st):
			if e.st.paused {
				continue
			}
			if st.guarded() && !st.approved {
				if st.request == 0 && !st.previewing {
					if pv, ok := st.def.Spec.(Previewer); ok {
						e.previewLocked(st, pv)
					} else {
						e.requestLocked(st, "")
					}
				}
				if !st.approved {
					continue
				}
			}
			switch st.kind.Mode() {
			case ModeGate:
				_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: 1, Message: "go: " + approvers(st.confirmed), Actor: lastApprover(st.confirmed)})
			case ModeManual:
				if _, err := e.commitLocked(RecStarted, st.def.ID, Started{Attempt: 1, Action: e.describe(st.def, 1)}); err != nil {
					continue
				}
				if e.opts.AutoConfirm && (e.opts.DoneByOthers == nil || !e.opts.DoneByOthers(st.def.ID)) {
					e.autoCompleteLocked(st)
				}
			default:
				if !canRun(st) {
					if st.def.Exclusive {
						// Hold everything else back so the exclusive step is not starved.
						exclusive = true
					}
					continue
				}
				if e.startLocked(st, st.attempt+1) {
					running++
					exclusive = exclusive || st.def.Exclusive
				}
			}
		}
	}
	e.maybeFinishLocked()
	return next
}

// settleConditionLocked keeps a conditional step (runbook `when: {failed: ID}`) in line with its
// trigger while it has not acted on its condition (conditionOpen): once the trigger is done the
// step is not needed; while the trigger is neither failed nor done (an operator retried it: the
// toolkit's Resume) the step's open confirmation request, its approvals or its no-go are
// withdrawn and it waits again, so the two choices never run at once. by is who retried the
// trigger (nil when the scheduler finds it so). It reports whether it journaled anything.
func (e *Engine) settleConditionLocked(st *stepRT, by *Actor) bool {
	c := st.def.When
	if c == nil || !st.conditionOpen() {
		return false
	}
	trig := e.st.steps[c.Failed]
	if trig == nil {
		return false
	}
	switch {
	case trig.state.Done():
		_, err := e.commitLocked(RecNotNeeded, st.def.ID, NotNeeded{Trigger: c.Failed, Outcome: doneWords(trig)})
		return err == nil
	case trig.state != StateFailed && (st.state != StatePending || st.request != 0 || st.approved):
		_, err := e.commitLocked(RecConditionLapsed, st.def.ID, ConditionLapsed{Trigger: c.Failed,
			TriggerState: e.st.viewState(trig).String(), Request: st.request, Actor: by})
		return err == nil
	}
	return false
}

// fallbacksLocked are the conditional steps that answer step's failure (`when: {failed: step}`).
func (e *Engine) fallbacksLocked(step string) []*stepRT {
	var out []*stepRT
	for _, c := range e.children[step] {
		if c.def.Triggers(step) {
			out = append(out, c)
		}
	}
	return out
}

// previewTimeout bounds how long a preview may take before the request opens without it.
const previewTimeout = 2 * time.Minute

// previewLocked looks at the world for st's confirmation request in the background, then opens
// the request with what it saw.
func (e *Engine) previewLocked(st *stepRT, pv Previewer) {
	st.previewing = true
	run := &Run{Step: st.def, Attempt: st.attempt + 1, e: e}
	run.earlierOf, run.earlier = st.earlierThan(run.Attempt)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.runCtx, previewTimeout)
		text, err := pv.Preview(ctx, run)
		cancel()
		if err != nil {
			text = "could not look before asking: " + err.Error()
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		st.previewing = false
		if e.stopping || e.halted != nil || st.state != StatePending || st.request != 0 || st.approved || !e.st.depsDone(st) {
			return
		}
		e.requestLocked(st, text)
		e.kickLocked()
	}()
}

// requestLocked opens a confirmation request for st (and answers it when auto-confirming). preview
// is what the step saw just before asking.
func (e *Engine) requestLocked(st *stepRT, preview string) {
	action := e.describe(st.def, st.attempt+1)
	if preview != "" {
		action += "\n" + preview
	}
	rec, err := e.commitLocked(RecAwaiting, st.def.ID, Awaiting{Action: action, Needed: st.def.RequiredApprovals()})
	if err != nil {
		return
	}
	because := ""
	if c := st.def.When; c != nil {
		because = fmt.Sprintf(" (because %s failed; the other choice is to retry %s)", c.Failed, c.Failed)
		if e.opts.AutoConfirm {
			// Taking the fallback over retrying its trigger is a decision: --yes never makes it.
			because += "; not confirmed automatically (--yes): choosing between them is an operator's decision"
		}
	} else if e.opts.AutoConfirm {
		e.autoApproveLocked(st, rec.Seq)
		return
	}
	e.logs.addLine(LevelWarn, st.def.ID, "", true, fmt.Sprintf("needs confirmation%s: type %q (%d operator(s)) to %s", because, st.def.Phrase(), st.def.RequiredApprovals(), action))
}

// autoApproveLocked answers a confirmation request automatically (rehearsal run with --yes).
func (e *Engine) autoApproveLocked(st *stepRT, request uint64) {
	_, _ = e.commitLocked(RecApproved, st.def.ID, Approved{Request: request, Actor: System("rehearsal --yes"),
		Count: st.def.RequiredApprovals(), Needed: st.def.RequiredApprovals(), Auto: true})
}

// autoCompleteLocked marks a manual step done automatically (rehearsal run with --yes).
func (e *Engine) autoCompleteLocked(st *stepRT) {
	auto := System("rehearsal --yes")
	_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: st.attempt, Message: "marked done automatically (rehearsal run with --yes)", Actor: &auto})
}

// startLocked journals the start of an attempt and launches its runner.
func (e *Engine) startLocked(st *stepRT, attempt int) bool {
	runner, ok := st.def.Spec.(Runner)
	if !ok {
		return false
	}
	if _, err := e.commitLocked(RecStarted, st.def.ID, Started{Attempt: attempt, Action: e.describe(st.def, attempt)}); err != nil {
		return false
	}
	e.launchLocked(st, runner, false)
	return true
}

// launchLocked runs (or resumes) the current attempt of st in its own goroutine.
func (e *Engine) launchLocked(st *stepRT, runner Runner, resume bool) {
	ctx, cancel := context.WithCancelCause(e.runCtx)
	st.cancel, st.running = cancel, true
	run := &Run{Step: st.def, Attempt: st.attempt, Started: st.started, e: e}
	run.earlierOf, run.earlier = st.earlierThan(run.Attempt)
	for k, v := range st.ext {
		if run.ref == nil {
			run.ref = map[string]string{}
		}
		run.ref[k] = v
	}
	timeout := time.Duration(0)
	if st.def.Timeout > 0 {
		timeout = st.def.Timeout - e.clock.Now().Sub(st.started)
		if timeout <= 0 {
			timeout = time.Nanosecond
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		err := e.execute(ctx, run, runner, resume, timeout)
		e.finish(st, run, err, context.Cause(ctx))
		cancel(nil)
	}()
}

// timeoutError is how an attempt that ran out of time fails.
type timeoutError struct{ d time.Duration }

func (t timeoutError) Error() string {
	return "timed out after " + runbook.FormatDuration(t.d)
}

// execute runs the step's code, enforcing its timeout and containing panics.
func (e *Engine) execute(ctx context.Context, run *Run, runner Runner, resume bool, timeout time.Duration) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.logs.add(LevelError, run.Step.ID, "", fmt.Sprintf("panic in %s step: %v\n%s", run.Step.Kind, p, debug.Stack()))
			err = Permanent(fmt.Errorf("internal error in the %s step kind: %v (see the log)", run.Step.Kind, p))
		}
	}()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithTimeout(ctx, e.clock, timeout, timeoutError{run.Step.Timeout})
		defer cancel()
	}
	if resume {
		err = runner.(Resumer).Resume(ctx, run)
	} else {
		err = runner.Run(ctx, run)
	}
	if err != nil {
		var te timeoutError
		if errors.As(context.Cause(ctx), &te) && !errors.As(err, &te) {
			err = fmt.Errorf("%w (%v)", te, err)
		}
	}
	return err
}

// abortCause cancels a runner when an operator aborts the step.
type abortCause struct {
	actor  Actor
	reason string
}

func (a abortCause) Error() string { return "aborted by " + a.actor.Name + ": " + a.reason }

// finish journals the end of an attempt.
func (e *Engine) finish(st *stepRT, run *Run, err, cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st.running, st.cancel = false, nil
	defer e.kickLocked()
	if st.state != StateRunning || st.attempt != run.Attempt || e.halted != nil || e.closed {
		return
	}
	if err == nil {
		_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: run.Attempt, Message: run.message})
		return
	}
	if errors.Is(cause, errStopping) {
		// The step stays in flight; the next start resumes, re-runs or marks it interrupted.
		e.logs.add(LevelWarn, st.def.ID, "", fmt.Sprintf("stopped with cutover: %v", err))
		return
	}
	f := Failed{Attempt: run.Attempt, Error: err.Error(), Output: append([]string(nil), st.output...)}
	var ab abortCause
	if errors.As(cause, &ab) {
		f.Error, f.AbortedBy = ab.Error(), &ab.actor
	} else if run.Attempt <= st.def.Retries && !IsPermanent(err) {
		at := e.clock.Now().Add(e.backoff(st.def, run.Attempt))
		var ra retryAt
		if errors.As(err, &ra) && ra.at.After(e.clock.Now()) {
			at = ra.at
		}
		f.RetryAt = &at
	}
	_, _ = e.commitLocked(RecFailed, st.def.ID, f)
}

// backoff is the wait before attempt+1: the step's retry_backoff (10s by default), doubling each
// time, at most 10 minutes.
func (e *Engine) backoff(def *runbook.Step, attempt int) time.Duration {
	base := def.RetryBackoff
	if base <= 0 {
		base = 10 * time.Second
	}
	d := base
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, max(10*time.Minute, base))
}

// noteOutput keeps the last lines a step printed, for its failure record.
func (e *Engine) noteOutput(step string, attempt int, line string) {
	const keep = 20
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.steps[step]
	if st == nil || st.attempt != attempt {
		return
	}
	st.output = append(st.output, line)
	if len(st.output) > keep {
		st.output = st.output[len(st.output)-keep:]
	}
}

// recordExternal journals an attempt's external references.
func (e *Engine) recordExternal(step string, attempt int, ref map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.steps[step]
	if st == nil || st.state != StateRunning || st.attempt != attempt {
		return fmt.Errorf("step %s attempt %d is no longer running", step, attempt)
	}
	_, err := e.commitLocked(RecExternal, step, External{Attempt: attempt, Ref: ref})
	return err
}

// maybeFinishLocked journals the end of the run once every step is done.
func (e *Engine) maybeFinishLocked() {
	if !e.st.finished.IsZero() {
		return
	}
	var ok, skipped, notNeeded int
	for _, st := range e.st.order {
		switch st.state {
		case StateSucceeded:
			ok++
		case StateSkipped:
			skipped++
		case StateNotNeeded:
			notNeeded++
		default:
			return
		}
	}
	if _, err := e.commitLocked(RecRunFinished, "", RunFinished{Succeeded: ok, Skipped: skipped, NotNeeded: notNeeded}); err == nil {
		msg := fmt.Sprintf("run completed: %d steps succeeded, %d skipped", ok, skipped)
		if notNeeded > 0 {
			msg += fmt.Sprintf(", %d not needed", notNeeded)
		}
		e.logs.add(LevelInfo, "", "", msg)
	}
}

// commitLocked makes one state change: journal it durably, fold it into the state, tell the
// subscribers. Nothing changes if the journal write fails; the engine then halts.
func (e *Engine) commitLocked(t RecordType, step string, payload any) (journal.Record, error) {
	if e.halted != nil {
		return journal.Record{}, fmt.Errorf("%w: %v", ErrHalted, e.halted)
	}
	if e.j == nil {
		return journal.Record{}, errors.New("engine: not open")
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return journal.Record{}, fmt.Errorf("encode %s record: %w", t, err)
	}
	rec, err := e.j.Append(journal.Record{Time: e.clock.Now(), Type: string(t), Step: step, Data: data})
	if err != nil {
		e.haltLocked(fmt.Errorf("cannot write the journal (%w); nothing more will happen until cutover is restarted with a writable state directory", err))
		return rec, e.halted
	}
	if err := e.st.apply(rec); err != nil {
		e.haltLocked(fmt.Errorf("internal error applying journal record %d: %w", rec.Seq, err))
		return rec, e.halted
	}
	e.logRecordLocked(rec, payload)
	e.publishLocked(rec)
	if st := e.st.steps[rec.Step]; st != nil {
		e.retireMonitorLocked(st)
	}
	e.kickLocked()
	return rec, nil
}

// ReplicationRetirer is an action whose success means replication no longer exists (the toolkit's
// «Remove replication setup»): the replication monitor stops polling when its step is done.
type ReplicationRetirer interface {
	RetiresReplication() bool
}

// removingReplication names the running step that removes replication, if any.
func (e *Engine) removingReplication() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.st.order {
		if r, ok := st.def.Spec.(ReplicationRetirer); ok && r.RetiresReplication() && st.state == StateRunning {
			return st.def.ID
		}
	}
	return ""
}

// retireMonitorLocked stops the replication monitor once a step that removes replication is done.
func (e *Engine) retireMonitorLocked(st *stepRT) {
	if e.monitor == nil || st.state != StateSucceeded {
		return
	}
	if r, ok := st.def.Spec.(ReplicationRetirer); ok && r.RetiresReplication() {
		e.monitor.retire(st.finished, st.def.ID)
	}
}

// haltLocked stops the engine from doing anything more after a failure it cannot record.
func (e *Engine) haltLocked(err error) {
	if e.halted != nil {
		return
	}
	e.halted = err
	e.logs.add(LevelError, "", "", "engine halted: "+err.Error())
	if e.runCancel != nil {
		for _, st := range e.st.order {
			if st.cancel != nil {
				st.cancel(errStopping)
			}
		}
	}
	e.bus.Publish(RunChanged{Seq: e.j.Seq(), At: e.clock.Now(), Run: e.runViewLocked()})
}

// publishLocked tells subscribers what a record changed: the step, the steps that depend on it
// (their readiness may have changed), and the run when its outcome moved.
func (e *Engine) publishLocked(rec journal.Record) {
	if rec.Step != "" {
		st := e.st.steps[rec.Step]
		e.bus.Publish(StepChanged{Seq: rec.Seq, At: rec.Time, Record: RecordType(rec.Type), Step: e.viewLocked(st)})
		for _, c := range e.children[rec.Step] {
			// A conditional step's readiness follows its trigger's failure, not only its end.
			if st.state.Done() || c.def.Triggers(rec.Step) {
				e.bus.Publish(StepChanged{Seq: rec.Seq, At: rec.Time, Record: RecordType(rec.Type), Step: e.viewLocked(c)})
			}
		}
	}
	out := e.outcomeLocked()
	if rec.Step == "" || out != e.lastOutcome {
		e.lastOutcome = out
		e.bus.Publish(RunChanged{Seq: rec.Seq, At: rec.Time, Run: e.runViewLocked()})
	}
}

// logRecordLocked writes the human line for a state change.
func (e *Engine) logRecordLocked(rec journal.Record, payload any) {
	lvl, msg := LevelInfo, ""
	switch p := payload.(type) {
	case Started:
		msg = fmt.Sprintf("started (attempt %d): %s", p.Attempt, p.Action)
	case Succeeded:
		msg = "succeeded"
		if p.Message != "" {
			msg += ": " + p.Message
		}
		if p.Actor != nil && p.Actor.Role != RoleSystem {
			msg += " (by " + p.Actor.Name + ")"
		}
	case Failed:
		lvl, msg = LevelError, fmt.Sprintf("failed (attempt %d): %s", p.Attempt, p.Error)
		if p.RetryAt != nil {
			lvl = LevelWarn
			msg += fmt.Sprintf("; retrying at %s", p.RetryAt.Local().Format("15:04:05"))
		}
	case Interrupted:
		lvl, msg = LevelWarn, p.Reason
	case Approved:
		msg = fmt.Sprintf("confirmed by %s (%d of %d)", p.Actor, p.Count, p.Needed)
		if p.Auto {
			msg = "confirmed automatically (rehearsal run with --yes)"
		}
	case ConfirmRefused:
		lvl, msg = LevelWarn, fmt.Sprintf("confirmation by %s refused: %s", p.Actor, p.Reason)
	case Declined:
		lvl, msg = LevelWarn, fmt.Sprintf("no-go from %s: %s", p.Actor, p.Reason)
	case ByActor:
		switch RecordType(rec.Type) {
		case RecSkipped:
			lvl, msg = LevelWarn, fmt.Sprintf("skipped by %s: %s", p.Actor, p.Reason)
		case RecDoneByHand:
			msg = fmt.Sprintf("marked done by %s: %s", p.Actor, p.Reason)
		case RecRetry:
			msg = fmt.Sprintf("retry requested by %s", p.Actor)
			if p.Reconfirm {
				msg += "; it asks for its confirmation again"
			}
		}
		if len(p.Approvals) > 0 {
			msg += " (" + approvers(p.Approvals) + ")"
		}
	case OverrideRequested:
		lvl, msg = LevelWarn, fmt.Sprintf("%s asks to %s (%d operator(s) must type %q): %s", p.Actor, p.Action.Words(), p.Needed, OverridePhrase(e.st.steps[rec.Step].def, p.Action), p.Reason)
	case OverrideApproved:
		msg = fmt.Sprintf("%s approved by %s (%d of %d)", p.Action, p.Actor, p.Count, p.Needed)
		if p.Note != "" {
			msg += ": " + p.Note
		}
	case OverrideRefused:
		lvl, msg = LevelWarn, fmt.Sprintf("%s by %s refused: %s", p.Action, p.Actor, p.Reason)
	case OverrideWithdrawn:
		msg = fmt.Sprintf("the request to %s was withdrawn by %s", p.Action.Words(), p.Actor)
		if p.Reason != "" {
			msg += ": " + p.Reason
		}
	case NotNeeded:
		msg = fmt.Sprintf("not needed: %s %s (this step runs only if it fails)", p.Trigger, p.Outcome)
	case ConditionLapsed:
		lvl, msg = LevelWarn, fmt.Sprintf("%s is %s again", p.Trigger, p.TriggerState)
		if p.Actor != nil {
			msg = fmt.Sprintf("%s retried %s", p.Actor, p.Trigger)
		}
		if p.Request != 0 {
			msg += "; this step's confirmation request is withdrawn"
		}
		msg += "; it runs only if " + p.Trigger + " fails again"
	case RunPaused:
		lvl, msg = LevelWarn, fmt.Sprintf("run paused by %s: %s", p.Actor, p.Reason)
	case EngineStarted:
		msg = fmt.Sprintf("engine started on %s (pid %d)", p.Host, p.PID)
	case NotifyDelivery:
		lvl, msg = deliveryLine(RecordType(rec.Type), p)
	case EngineStopped:
		msg = "engine stopped: " + p.Reason
		if len(p.InFlight) > 0 {
			msg += " (in flight: " + strings.Join(p.InFlight, ", ") + ")"
		}
	}
	if RecordType(rec.Type) == RecRunResumed {
		msg = "run resumed"
	}
	if msg != "" {
		e.logs.addLine(lvl, rec.Step, "", true, msg)
	}
}

// Stop ends the engine: no new steps start, running ones are cancelled (their processes killed)
// and stay in flight in the journal, so the next start resumes, re-runs or marks them interrupted
// exactly as after a crash. The journal and lock are released.
func (e *Engine) Stop(reason string) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	var inFlight []string
	for _, st := range e.st.order {
		if st.running && st.cancel != nil {
			inFlight = append(inFlight, st.def.ID)
			st.cancel(errStopping)
		}
	}
	started := e.started
	if e.runCancel != nil {
		e.runCancel(errStopping)
	}
	e.mu.Unlock()
	if started {
		<-e.loopDone
	}
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if started && e.halted == nil {
		sort.Strings(inFlight)
		if _, err := e.commitLocked(RecEngineStopped, "", EngineStopped{Reason: reason, InFlight: inFlight}); err != nil {
			errs = append(errs, err)
		}
	}
	e.closed = true
	if e.j != nil {
		errs = append(errs, e.j.Close())
	}
	errs = append(errs, e.logs.close())
	e.bus.Close()
	return errors.Join(errs...)
}

// Drain stops starting new steps; running ones finish. Used for a gentle Ctrl-C.
func (e *Engine) Drain() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.draining = true
	e.logs.add(LevelWarn, "", "", "draining: no new steps start; running steps finish")
}

// Running lists the steps whose code is running now.
func (e *Engine) Running() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, st := range e.st.order {
		if st.running {
			out = append(out, st.def.ID)
		}
	}
	return out
}

// Snapshot returns the whole run as it is now.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked()
}

// Subscribe returns the current snapshot and the events that follow it, with no gap and no
// overlap. The channel closes when ctx ends or the engine stops; after a Resync event, subscribe
// again.
func (e *Engine) Subscribe(ctx context.Context) (Snapshot, <-chan Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked(), e.bus.Subscribe(ctx)
}

// Logs returns up to n of the newest log lines, optionally only one step's.
func (e *Engine) Logs(n int, step string) []LogLine {
	var keep func(LogLine) bool
	if step != "" {
		keep = func(l LogLine) bool { return l.Step == step }
	}
	return e.logs.tail(n, keep)
}

// Logf writes a log line (front ends and the demo note what they did).
func (e *Engine) Logf(level LogLevel, step, format string, args ...any) {
	e.logs.add(level, step, "", fmt.Sprintf(format, args...))
}

func (e *Engine) snapshotLocked() Snapshot {
	snap := Snapshot{At: e.clock.Now(), Run: e.runViewLocked(), Steps: make([]StepView, 0, len(e.rb.Steps))}
	if e.j != nil {
		snap.Seq = e.j.Seq()
	}
	for _, def := range e.rb.Steps {
		snap.Steps = append(snap.Steps, e.viewLocked(e.st.steps[def.ID]))
	}
	return snap
}

func (e *Engine) runViewLocked() RunView {
	rv := RunView{
		Name: e.rb.Name, Environment: e.rb.Environment, Runbook: e.rb.File, RunbookHash: e.rb.Hash,
		StateDir: e.stateDir, Rehearsal: e.rb.Rehearsal, AutoConfirm: e.opts.AutoConfirm,
		Phases: append([]string(nil), e.rb.Phases...), Downtime: e.rb.Downtime,
		Opened: e.st.opened, Finished: e.st.finished, Paused: e.st.paused, PausedBy: e.st.pausedBy,
		PauseReason: e.st.pauseWhy, Outcome: e.outcomeLocked(), Starts: e.st.starts,
	}
	if e.j != nil {
		rv.JournalHead = e.j.Head()
	}
	if e.halted != nil {
		rv.Halted = e.halted.Error()
	}
	rv.Baseline = e.baselineViewLocked()
	return rv
}

// outcomeLocked sums up where the run stands.
func (e *Engine) outcomeLocked() Outcome {
	if e.halted != nil {
		return OutcomeHalted
	}
	if !e.st.finished.IsZero() {
		return OutcomeCompleted
	}
	if e.st.paused {
		return OutcomePaused
	}
	waiting := false
	for _, st := range e.st.order {
		switch e.st.viewState(st) {
		case StateRunning:
			if st.kind.Mode() == ModeManual {
				waiting = true
				continue
			}
			return OutcomeRunning
		case StateRetrying:
			return OutcomeRunning
		case StateReady:
			if !st.guarded() || st.approved || st.request == 0 {
				return OutcomeRunning
			}
			waiting = true
		case StateAwaiting:
			waiting = true
		}
	}
	if waiting {
		return OutcomeWaiting
	}
	for _, st := range e.st.order {
		if !st.state.Done() {
			return OutcomeBlocked
		}
	}
	// Every step is done; the run is completed once run.finished is journaled.
	return OutcomeRunning
}

func (e *Engine) viewLocked(st *stepRT) StepView {
	d := st.def
	v := StepView{
		ID: d.ID, Title: d.Title, Phase: d.Phase, Kind: d.Kind, Mode: st.kind.Mode(), Description: d.Description, Doc: d.Doc,
		Owner: d.Owner, After: d.After, Destructive: d.Destructive, Idempotent: d.Idempotent,
		Planned: d.Planned, Timeout: d.Timeout, Action: e.describe(d, st.attempt+1),
		State: e.st.viewState(st), Attempt: st.attempt, MaxAttempts: d.Retries + 1,
		FirstStarted: st.firstStarted, Started: st.started, Finished: st.finished, RetryAt: st.retryAt,
		LastError: st.lastError, Message: st.message, Output: append([]string(nil), st.output...),
		ByHand: st.byHand, By: st.by, Reason: st.reason, VerifiesBackup: verifiesRollbackPoint(st.kind, d.Spec),
		ConfirmedBy: append([]Approval(nil), st.confirmed...),
		Guard:       guardView(st), Override: overrideView(st),
		OverriddenBy: append([]Approval(nil), st.overriddenBy...),
	}
	if d.When != nil {
		v.WhenFailed = d.When.Failed
	}
	if e.baseline != nil {
		v.Baseline = e.baseline.Steps[d.ID].Duration()
	}
	if st.state == StateAwaiting {
		v.Confirmation = &ConfirmationView{Request: st.request, Phrase: d.Phrase(), Needed: st.needed,
			Approvals: append([]Approval(nil), st.approvals...), Since: st.asked, Action: st.action}
		if h, ok := e.holds[d.ID]; ok && time.Now().Before(h.until) {
			v.Confirmation.HeldBy = &HoldView{Actor: h.actor, Since: h.since, Until: h.until}
		}
	}
	return v
}

func approvers(as []Approval) string {
	names := make([]string, 0, len(as))
	for _, a := range as {
		if a.Actor.Role == RoleSystem {
			names = append(names, a.Actor.Origin)
			continue
		}
		names = append(names, a.Actor.Name)
	}
	if len(names) == 0 {
		return "approved"
	}
	return "approved by " + strings.Join(names, ", ")
}

func lastApprover(as []Approval) *Actor {
	if len(as) == 0 {
		return nil
	}
	a := as[len(as)-1].Actor
	return &a
}
