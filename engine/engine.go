// Package engine runs a cutover runbook: a DAG scheduler over step kinds, a confirmation protocol
// for destructive steps, a hash-chained journal that makes every state change durable before it is
// acknowledged, and an event bus that front ends (the TUI, SSH sessions, the headless printer)
// subscribe to. It imports nothing from the front ends and no Charm module.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

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

	mu       sync.Mutex
	j        *journal.Journal
	st       runState
	children map[string][]*stepRT
	open     bool
	// opening is set while Open reads the files without the lock.
	opening     bool
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
	picture     *pictureSaver
	lastSample  time.Time
	validation  *Validation
	// validationGen counts the validations recorded: a recount applies only to the generation
	// it started on.
	validationGen uint64
	holds         map[string]hold
	// baseline is the rehearsal whose actual durations are the plan (nil: the runbook's planned:).
	baseline *Baseline
}

// Runbook is the runbook the engine runs.
func (e *Engine) Runbook() *runbook.Runbook { return e.rb }

// StateDir is the state directory.
func (e *Engine) StateDir() string { return e.stateDir }

// Replication is the replication monitor's newest picture (nil without a monitor): until its
// first poll answers, the picture the previous engine kept in the state directory
// (ReplicationView.Restored), if any.
func (e *Engine) Replication() *ReplicationView {
	if e.monitor == nil {
		return nil
	}
	return e.monitor.latest()
}

// measuredReplication is the newest picture the monitor took itself (nil without a monitor):
// what the step kinds judge. A picture restored from the state directory is not one.
func (e *Engine) measuredReplication() *ReplicationView {
	if e.monitor == nil {
		return nil
	}
	return e.monitor.measured()
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

// Now is the engine's time (the demo's clock runs faster than real time): front ends measure the
// age of figures against it.
func (e *Engine) Now() time.Time { return e.clock.Now() }

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
