package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cutover/engine/clock"
	"cutover/engine/journal"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// SimsFile, in the demo's files' directory (DirName), holds what resuming an interrupted demo
// needs to bring the simulators back as they were.
const SimsFile = "Simulators.json"

// EarlierLayout reports whether dir holds a demo an earlier version of cutover started: its saved
// simulators beside the engine's state directory (dir/state), not in dir/demo. This version does
// not resume it (its journal and runbook still read: cutover report --state dir/state).
func EarlierLayout(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SimsFile))
	return err == nil
}

// Saved is the simulators' saved state: the world's configuration and start, every action
// taken on it, LCS's operations and counters, the simulated time reached and the addresses (the
// cockpit's SSH address too, so the second operator's join command stays the same).
type Saved struct {
	Scenario   string          `json:"scenario"`
	Tables     int             `json:"tables"`
	WorldStart time.Time       `json:"world_start"`
	SimNow     time.Time       `json:"sim_now"`
	Source     string          `json:"source"`
	Target     string          `json:"target"`
	LCS        string          `json:"lcs"`
	SSH        string          `json:"ssh,omitempty"`
	Actions    []sqlsim.Action `json:"actions,omitempty"`
	LCSState   lcssim.Saved    `json:"lcs_state"`
}

// LoadSaved reads a demo directory's saved simulators (nil when there are none).
func LoadSaved(dir string) (*Saved, error) {
	path := filepath.Join(dir, SimsFile)
	// A crash during a save leaves its temporary file behind; the saved file itself is whole.
	if stale, _ := filepath.Glob(path + ".*.tmp"); len(stale) > 0 {
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the saved simulators: %w", err)
	}
	var sv Saved
	if err := json.Unmarshal(data, &sv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sv.WorldStart.IsZero() || sv.Tables == 0 {
		return nil, fmt.Errorf("%s: no world_start or tables: not a demo's saved simulators", path)
	}
	return &sv, nil
}

// ResumeAt is the simulated time a resumed demo carries on from: just after the latest of the
// saved time, the last action and the journal's last record, so time never runs backwards.
func (sv *Saved) ResumeAt(journalPath string) time.Time {
	t := sv.SimNow
	if n := len(sv.Actions); n > 0 && sv.Actions[n-1].At.After(t) {
		t = sv.Actions[n-1].At
	}
	for _, op := range sv.LCSState.Operations {
		if op.Start.After(t) {
			t = op.Start
		}
	}
	if c, err := journal.Read(journalPath); err == nil && len(c.Records) > 0 {
		if last := c.Records[len(c.Records)-1].Time; last.After(t) {
			t = last
		}
	}
	return t.Add(time.Second)
}

// Saver keeps the demo directory's saved simulators current: every action and LCS change
// is written (and synced) before the simulator answers, and the simulated time every half second.
type Saver struct {
	mu   sync.Mutex
	path string
	sv   Saved
	clk  clock.Clock
	err  error
}

// NewSaver keeps path current with the simulators' state, starting from sv.
func NewSaver(path string, sv *Saved, sims *Simulators, clk clock.Clock) *Saver {
	s := &Saver{path: path, sv: *sv, clk: clk}
	s.sv.WorldStart = sims.World.StartedAt()
	s.sv.Source, s.sv.Target = sims.SQL.Addr(sqlsim.EndpointSource), sims.SQL.Addr(sqlsim.EndpointTarget)
	s.sv.LCS = strings.TrimPrefix(sims.LCSURL, "https://")
	s.sv.LCSState = sims.LCS.Save()
	sims.World.OnAction(func(a sqlsim.Action) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sv.Actions = append(s.sv.Actions, a)
		s.writeLocked()
	})
	sims.LCS.OnChange(func(st lcssim.Saved) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sv.LCSState = st
		s.writeLocked()
	})
	return s
}

// SetSSH records where the cockpit is served over SSH.
func (s *Saver) SetSSH(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sv.SSH = addr
	s.writeLocked()
	return s.err
}

// Write saves the simulators now.
func (s *Saver) Write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	return s.err
}

// writeLocked replaces the file atomically: a crash leaves the old or the new one, never half.
func (s *Saver) writeLocked() {
	if now := s.clk.Now(); now.After(s.sv.SimNow) {
		s.sv.SimNow = now
	}
	data, err := json.Marshal(s.sv)
	if err == nil {
		err = journal.WriteFileAtomic(s.path, data, 0o600)
	}
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("save the simulators: %w", err)
	}
}

// Run saves the simulated time every half second until ctx ends, then once more.
func (s *Saver) Run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = s.Write()
			return
		case <-t.C:
			_ = s.Write()
		}
	}
}
