// Lifecycle: building an engine, opening its state directory, starting, draining and stopping it.

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	// Kinds are the step kinds (every kind this build knows, AllKinds, when nil).
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
	// Lock is the state directory's lock when the caller took it before writing anything there
	// (journal.LockDir): Open uses it instead of taking it, and the caller releases it after Stop.
	Lock *journal.Lock
	// NoSync skips fsync in the journal: benchmarks only.
	NoSync bool
	// Ports connect the step kinds and the replication monitor to the world; Ports.Replication
	// feeds the monitor (without it there is none).
	Ports Ports
	// Monitor tunes the replication monitor.
	Monitor MonitorConfig
	// SampleEvery is how often the replication backlog is journaled for the report (default 1m).
	SampleEvery time.Duration
	// EvidenceWriter, when set, is what the evidence files (a validation's CSV, JSON and dv file)
	// are written through: it gets each file's path and the writer of its temporary file and
	// returns the writer to use. Tests put a full disk here; nil writes to the file.
	EvidenceWriter func(path string, w io.Writer) io.Writer
}

// ErrAutoConfirmRefused is returned when automatic confirmation is asked for a real cutover.
var ErrAutoConfirmRefused = errors.New("--yes confirms steps automatically and is only allowed for a rehearsal runbook (`rehearsal: true`); on a real cutover every confirmation must be typed by an operator")

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
		opts.Kinds = NewRegistry(AllKinds()...)
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
	e.picture = &pictureSaver{path: filepath.Join(opts.StateDir, PictureFileName), realNow: time.Now,
		warn: func(msg string) { e.logs.add(LevelWarn, "", "", msg) }}
	if opts.Ports.Replication != nil {
		cfg := opts.Monitor
		cfg.Ignore = append(slices.Clip(cfg.Ignore), IgnoredTables(rb)...)
		e.monitor = newMonitor(e.clock.Now, monitorHooks{
			log:      func(level LogLevel, step, msg string) { e.logs.add(level, step, "", msg) },
			publish:  func(ev Event) { e.bus.Publish(ev) },
			health:   e.recordHealth,
			sample:   e.recordSample,
			removing: e.removingReplication,
			polled:   func(v *ReplicationView) { e.picture.save(v, v.At, false) },
		}, opts.Ports.Replication, cfg)
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
	if e.open || e.opening {
		e.mu.Unlock()
		return errors.New("engine: already open")
	}
	e.opening = true
	e.mu.Unlock()

	// The files are read and opened without the engine lock.
	base, j, rep, back, err := e.openFiles()

	e.mu.Lock()
	defer e.mu.Unlock()
	e.opening = false
	if err != nil {
		return err
	}
	for _, rec := range rep.Records {
		if err := e.st.apply(rec); err != nil {
			_ = j.Close()
			_ = e.logs.close()
			return err
		}
	}
	e.baseline = base
	e.j, e.report = j, journal.OpenReport{Torn: rep.Torn, StaleLock: rep.StaleLock, Created: rep.Created, Unanchored: rep.Unanchored, CrashLine: rep.CrashLine}
	e.open = true
	e.restoreLocked(back)
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
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("the runbook changed since this run started (sha256 %s → %s); continuing with the new file", journal.ShortHash(last), journal.ShortHash(e.rb.Hash)))
		_, err := e.commitLocked(RecRunbookChanged, "", RunbookChanged{OldHash: last, NewHash: e.rb.Hash})
		return err
	}
	return nil
}

// openFiles loads the baseline rehearsal (if the runbook names one), opens the journal (taking
// the state directory's lock), reads back what the previous engine left for the cockpit (the log
// file's tail into the ring, the replication picture) and opens the log file.
func (e *Engine) openFiles() (*Baseline, *journal.Journal, journal.OpenReport, restored, error) {
	var base *Baseline
	if e.rb.Baseline != "" {
		b, err := LoadBaseline(e.rb.Baseline)
		if err != nil {
			return nil, nil, journal.OpenReport{}, restored{}, err
		}
		base = b
	}
	j, rep, err := journal.Open(e.stateDir, journal.Options{NoSync: e.opts.NoSync, Command: e.opts.Command, Lock: e.opts.Lock})
	if err != nil {
		return nil, nil, rep, restored{}, err
	}
	// Read under the state directory's lock: no other engine writes these files now.
	back := e.readBack()
	if err := e.logs.openFile(filepath.Join(e.stateDir, LogFileName)); err != nil {
		_ = j.Close()
		return nil, nil, rep, restored{}, err
	}
	return base, j, rep, back, nil
}

// baselinePathLocked is the baseline journal's path ("" without one).
func (e *Engine) baselinePathLocked() string {
	if e.baseline == nil {
		return ""
	}
	return e.baseline.Path
}

// Start records the engine start, settles attempts a crash or stop interrupted, and begins
// scheduling. Open must have been called. What interrupted attempts left running is cleaned up
// before scheduling begins, without the engine lock: the cockpit stays readable meanwhile.
func (e *Engine) Start(ctx context.Context) error {
	host, _ := os.Hostname()
	e.mu.Lock()
	if !e.open || e.closed {
		e.mu.Unlock()
		return errors.New("engine: Start before Open")
	}
	if e.started {
		e.mu.Unlock()
		return errors.New("engine: already started")
	}
	es := EngineStarted{Host: host, PID: os.Getpid(), Version: e.opts.Version, RunbookHash: e.rb.Hash, Baseline: e.baselinePathLocked(),
		Resumed: e.st.starts > 0, AutoConfirm: e.opts.AutoConfirm}
	if t := e.report.Torn; t != nil {
		es.Torn = fmt.Sprintf("line %d (%d bytes) dropped", t.Line, t.Bytes)
	}
	if _, err := e.commitLocked(RecEngineStarted, "", es); err != nil {
		e.mu.Unlock()
		return err
	}
	e.runCtx, e.runCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	e.started = true
	// Stop waits for loopDone from here on, even while the cleanups below run.
	e.loopDone = make(chan struct{})
	if es.Resumed {
		e.logs.add(LevelInfo, "", "", fmt.Sprintf("resuming run %q from the journal (%d records)", e.rb.Name, e.j.Seq()))
	}
	pending := e.recoverLocked()
	e.mu.Unlock()

	runCleanups(pending)

	e.mu.Lock()
	defer e.mu.Unlock()
	e.settleCleanupsLocked(pending)
	for _, st := range e.st.order {
		e.retireMonitorLocked(st)
	}
	if e.stopping {
		// Stopped while cleaning up: nothing is scheduled.
		close(e.loopDone)
		return nil
	}
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
	started, open := e.started, e.open
	if e.runCancel != nil {
		e.runCancel(errStopping)
	}
	e.mu.Unlock()
	if started {
		<-e.loopDone
	}
	e.wg.Wait()
	if open && e.monitor != nil {
		// The monitor has stopped: its last picture is kept for the next engine, without the lock.
		e.picture.save(e.monitor.latest(), e.clock.Now(), true)
	}
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
