package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// Poller reads replication on demand, without an engine: the data behind `cutover status`. It is
// one cycle of the engine's replication monitor per Poll, with the monitor's code, so its picture
// is exactly what the cockpit shows. It keeps what it read between polls (rates and ETAs need two
// readings) and never logs, journals or publishes anything. Polls are serialised, so a Poller is
// safe for concurrent use.
type Poller struct {
	mu sync.Mutex
	m  *monitor
}

// NewPoller reads replication on demand, without an engine (cutover status). now is the time the
// figures are stamped with (time.Now when nil).
func NewPoller(src ReplicationSource, cfg MonitorConfig, now func() time.Time) *Poller {
	if now == nil {
		now = time.Now
	}
	m := newMonitor(now, monitorHooks{}, src, cfg)
	m.always = true
	return &Poller{m: m}
}

// Poll reads every source once (backlog included) and returns the picture; rates and ETAs appear
// from the second poll on (they need two readings). A source that fails is marked failing in the
// picture's Health with its error; Poll returns an error only when ctx ends.
func (p *Poller) Poll(ctx context.Context) (*ReplicationView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() == nil {
		if v := p.m.cycle(ctx); v != nil {
			return v, nil
		}
	}
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return nil, fmt.Errorf("poll replication: %w (%v)", ctx.Err(), cause)
	}
	return nil, fmt.Errorf("poll replication: %w", ctx.Err())
}

// Inspection is what a journal says about a run, read without disturbing it.
type Inspection struct {
	// Snapshot is the steps and run as the engine would show them after replay. Its At is the
	// wall-clock time of the inspection; its Seq and Run.JournalHead are the journal's position.
	Snapshot Snapshot
	// Sample is the newest journaled replication sample (nil if none), journaled at SampleAt.
	Sample   *ReplicationSample
	SampleAt time.Time
	// Health is the newest record per source (may be empty), in the monitor's order: source,
	// distributor, target, then any other name.
	Health []SourceHealthRecord
	// Torn is set when the last line was incomplete (a crash mid-write, or a write in progress by
	// the engine holding the state directory); it is left out, as the engine would.
	Torn bool
	// Live is set when an engine holds the state directory now (its live lock is held): the run is
	// going on. Otherwise the snapshot is where the run stood when its engine stopped.
	Live bool
}

// Inspect replays a state directory's journal read-only, without taking the state directory's
// lock (a cockpit may be running on it), and returns where the run stands. rb must have been
// loaded with kinds (the built-in kinds when nil). It returns an error wrapping os.ErrNotExist when
// there is no journal; a journal that fails verification returns an error naming the first bad
// line (a *journal.CorruptError).
func Inspect(rb *runbook.Runbook, stateDir string, kinds *Registry) (*Inspection, error) {
	// An engine that is never opened: New touches nothing on disk, and replaying through its
	// runState and viewing through its snapshot is exactly what a live engine does.
	e, err := New(rb, Options{StateDir: stateDir, Kinds: kinds})
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
	}
	c, err := journal.Read(filepath.Join(stateDir, journal.FileName))
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
	}
	ins := &Inspection{Torn: c.Torn != nil}
	health := map[string]SourceHealthRecord{}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, rec := range c.Records {
		if err := e.st.apply(rec); err != nil {
			return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
		}
		switch RecordType(rec.Type) {
		case RecReplicationSample:
			var s ReplicationSample
			if err := rec.Decode(&s); err != nil {
				return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
			}
			ins.Sample, ins.SampleAt = &s, rec.Time
		case RecSourceHealth:
			var h SourceHealthRecord
			if err := rec.Decode(&h); err != nil {
				return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
			}
			health[h.Source] = h
		case RecEngineStarted:
			// The run view shows whether the engine on this journal confirms automatically.
			var s EngineStarted
			if err := rec.Decode(&s); err != nil {
				return nil, fmt.Errorf("inspect %s: %w", stateDir, err)
			}
			e.opts.AutoConfirm = s.AutoConfirm
		}
	}
	ins.Snapshot = e.snapshotLocked()
	ins.Snapshot.Seq, ins.Snapshot.Run.JournalHead = c.Seq, c.Head
	if _, live, err := journal.ReadHolder(stateDir); err == nil {
		ins.Live = live
	}
	ins.Health = sortedHealth(health)
	return ins, nil
}

// sortedHealth lists health records in the monitor's order of sources.
func sortedHealth(byName map[string]SourceHealthRecord) []SourceHealthRecord {
	rank := map[string]int{SourceAX: 0, SourceDistributor: 1, SourceTarget: 2}
	out := make([]SourceHealthRecord, 0, len(byName))
	for _, h := range byName {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, iok := rank[out[i].Source]
		rj, jok := rank[out[j].Source]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return out[i].Source < out[j].Source
	})
	return out
}
