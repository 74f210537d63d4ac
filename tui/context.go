package tui

import (
	"context"
	"time"

	"cutover/engine"
)

// Engine is what the cockpit needs of the engine: reading the run, hearing about changes, and the
// operator's actions (each re-checked by the engine: role, phrase, state).
type Engine interface {
	Snapshot() engine.Snapshot
	Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event)
	Now() time.Time
	Replication() *engine.ReplicationView
	Validation() *engine.Validation
	Logs(n int, step string) []engine.LogLine
	Running() []string
	Drain()
	StateDir() string

	Confirm(step string, request uint64, actor engine.Actor, phrase string) (engine.ConfirmResult, error)
	Decline(step string, request uint64, actor engine.Actor, reason string) error
	Skip(step string, actor engine.Actor, reason, phrase string) (engine.ConfirmResult, error)
	MarkDone(step string, actor engine.Actor, reason, phrase string) (engine.ConfirmResult, error)
	WithdrawOverride(step string, request uint64, actor engine.Actor, reason string) error
	Retry(step string, actor engine.Actor) error
	Abort(step string, actor engine.Actor, reason string) error
	Pause(actor engine.Actor, reason string) error
	Resume(actor engine.Actor) error
	Recount(ctx context.Context, table string, actor engine.Actor) (engine.TableCheck, error)
	Hold(step string, actor engine.Actor) error
	Release(step string, actor engine.Actor)
	ReleaseAll(actor engine.Actor)
	RefreshNow()
	SetPollIntervals(interval, backlog time.Duration)
	// RecordAccess journals a session losing rights (the SSH server's, when the team file changes).
	RecordAccess(change engine.AccessChanged) error
}

// session is one viewer's context: their terminal size and styles, their keys, who they are and
// whether they may act. Every pane reads it; nothing in it is shared with another session.
type session struct {
	width, height int
	styles        *Styles
	keys          *KeyMap
	actor         engine.Actor
	readOnly      bool
	themePinned   bool
	local         *time.Location
	// now is the engine's clock: ages are measured against it (the demo's runs faster).
	now func() time.Time
	// watchers lists who is looking at the run (this cockpit and the SSH sessions).
	watchers func() []Presence
	// local cockpits own the engine: quitting stops it. SSH sessions only leave.
	ownsEngine bool
	// join is how another operator joins this cockpit (Options.Join).
	join string
}

// data is the cockpit's copy of the run: the snapshot kept current by events, the newest
// replication picture and validation, the log tail and each running step's progress.
type data struct {
	snap     engine.Snapshot
	index    map[string]int
	repl     *engine.ReplicationView
	val      *engine.Validation
	logs     *logRing
	progress map[string]engine.Progress
	// version counts changes of repl and val, so panes recompute derived rows only then.
	replVersion, valVersion int
}

func newData(snap engine.Snapshot) *data {
	d := &data{logs: newLogRing(5000), progress: map[string]engine.Progress{}}
	d.setSnapshot(snap)
	return d
}

func (d *data) setSnapshot(s engine.Snapshot) {
	s.Steps = append([]engine.StepView(nil), s.Steps...)
	for i := range s.Steps {
		s.Steps[i] = printableStep(s.Steps[i])
	}
	d.snap = s
	d.index = make(map[string]int, len(s.Steps))
	for i, st := range s.Steps {
		d.index[st.ID] = i
	}
}

// step finds a step by id.
func (d *data) step(id string) (engine.StepView, bool) {
	i, ok := d.index[id]
	if !ok {
		return engine.StepView{}, false
	}
	return d.snap.Steps[i], true
}

// apply folds an engine event into the copy. It reports whether the event was news.
func (d *data) apply(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.StepChanged:
		if ev.Seq < d.snap.Seq && ev.Seq != 0 {
			return
		}
		if i, ok := d.index[ev.Step.ID]; ok {
			d.snap.Steps[i] = printableStep(ev.Step)
		}
		d.snap.Seq = max(d.snap.Seq, ev.Seq)
		if ev.Step.State != engine.StateRunning {
			delete(d.progress, ev.Step.ID)
		}
	case engine.RunChanged:
		d.snap.Run = ev.Run
		d.snap.Seq = max(d.snap.Seq, ev.Seq)
	case engine.StepProgress:
		d.progress[ev.Step] = ev.Progress
	case engine.LogBatch:
		d.logs.add(ev.Lines, ev.Dropped)
	case engine.ReplicationUpdated:
		d.repl = ev.View
		d.replVersion++
	case engine.SourceHealthChanged:
		if d.repl != nil {
			v := *d.repl
			v.Health = append([]engine.SourceHealth(nil), v.Health...)
			found := false
			for i := range v.Health {
				if v.Health[i].Name == ev.Health.Name {
					v.Health[i], found = ev.Health, true
				}
			}
			if !found {
				v.Health = append(v.Health, ev.Health)
			}
			d.repl = &v
		}
	case engine.ValidationUpdated:
		d.val = ev.Validation
		d.valVersion++
	}
}

// logRing keeps the newest log lines.
type logRing struct {
	lines   []engine.LogLine
	start   int
	n       int
	dropped int
	// total counts every line ever added, so views notice appends.
	total int
	// lastSeq is the newest line's sequence number: a line seen twice (the first log read and
	// the first batch overlap) is kept once.
	lastSeq uint64
}

func newLogRing(capacity int) *logRing { return &logRing{lines: make([]engine.LogLine, capacity)} }

func (r *logRing) add(lines []engine.LogLine, dropped int) {
	r.dropped += dropped
	for _, l := range lines {
		if l.Seq != 0 && l.Seq <= r.lastSeq {
			continue
		}
		l.Msg = printable(l.Msg)
		r.lastSeq = max(r.lastSeq, l.Seq)
		if r.n < len(r.lines) {
			r.lines[(r.start+r.n)%len(r.lines)] = l
			r.n++
		} else {
			r.lines[r.start] = l
			r.start = (r.start + 1) % len(r.lines)
		}
		r.total++
	}
}

// len is how many lines the ring holds.
func (r *logRing) len() int { return r.n }

// at is the i-th oldest line held.
func (r *logRing) at(i int) engine.LogLine { return r.lines[(r.start+i)%len(r.lines)] }
