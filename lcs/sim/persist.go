package sim

import (
	"fmt"
	"maps"
	"sort"
	"time"
)

// SavedOperation is one database operation or deployment as a restarted simulator needs it.
type SavedOperation struct {
	ID          string        `json:"id"`
	Kind        string        `json:"kind"`
	Env         string        `json:"env"`
	Source      string        `json:"source,omitempty"`
	Name        string        `json:"name,omitempty"`
	User        string        `json:"user,omitempty"`
	Start       time.Time     `json:"start"`
	Queue       time.Duration `json:"queue"`
	Run         time.Duration `json:"run"`
	Rollback    time.Duration `json:"rollback"`
	Outcome     Outcome       `json:"outcome"`
	RollbackAt  time.Time     `json:"rollback_at,omitzero"`
	SignedOff   bool          `json:"signed_off,omitempty"`
	Override    string        `json:"override,omitempty"`
	HistName    string        `json:"hist_name"`
	HistType    string        `json:"hist_type"`
	HistDisplay string        `json:"hist_display"`
}

// Saved is what a simulator restarted after a crash needs to carry on where the last one
// stopped: the operations started (with their ids, so a client following one finds it) and the
// counts of refreshes and exports started (the simulator's evidence that nothing ran twice).
// Tokens are not kept: clients sign in again.
type Saved struct {
	Operations       []SavedOperation `json:"operations,omitempty"`
	RefreshesStarted map[string]int   `json:"refreshes_started,omitempty"`
	PortalRefreshes  map[string]int   `json:"portal_refreshes,omitempty"`
	ExportsStarted   map[string]int   `json:"exports_started,omitempty"`
	// UsersEnabledAt is when each environment's users were last enabled (EnableUsers).
	UsersEnabledAt map[string]time.Time `json:"users_enabled_at,omitempty"`
}

// OnChange sets f to be called with the simulator's saved state every time an operation starts
// or changes (a rollback, a sign-off, an override). It is called with the simulator's lock
// held, so changes arrive in order; f must not call the simulator.
func (s *Server) OnChange(f func(Saved)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.onChange = f
}

// Save returns the simulator's saved state now.
func (s *Server) Save() Saved {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.save()
}

// Restore brings back the operations and counters of a saved simulator. Call it before serving.
func (s *Server) Restore(sv Saved) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := append([]SavedOperation(nil), sv.Operations...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Start.Before(ops[j].Start) })
	for _, so := range ops {
		e := s.st.env(so.Env)
		if e == nil {
			return fmt.Errorf("restore operation %s: no environment %s", so.ID, so.Env)
		}
		so.Env = e.ID
		if _, dup := s.st.ops[canonID(so.ID)]; dup {
			return fmt.Errorf("restore operation %s: saved twice", so.ID)
		}
		o := &operation{id: so.ID, kind: so.Kind, env: so.Env, source: so.Source, name: so.Name, user: so.User, start: so.Start,
			queue: so.Queue, run: so.Run, rollback: so.Rollback, outcome: so.Outcome, rollbackAt: so.RollbackAt,
			signedOff: so.SignedOff, override: so.Override}
		o.history = &HistoryEntry{Name: so.HistName, Type: so.HistType, TypeDisplay: so.HistDisplay, Start: so.Start, Status: "NotStarted", ActivityID: so.ID}
		s.st.history[so.Env] = append(s.st.history[so.Env], o.history)
		s.st.ops[canonID(so.ID)] = o
		if so.Kind == "export" {
			s.st.backups = append(s.st.backups, &backup{id: newID(), name: so.Name, file: so.Name + ".bacpac", description: "Exported from " + so.Env, by: so.User, fromExport: o})
		}
	}
	for env, n := range sv.RefreshesStarted {
		s.st.stats.refreshes[env] += n
	}
	for env, n := range sv.PortalRefreshes {
		s.st.stats.portalRefreshes[env] += n
	}
	for env, n := range sv.ExportsStarted {
		s.st.stats.exports[env] += n
	}
	for env, at := range sv.UsersEnabledAt {
		e := s.st.env(env)
		if e == nil {
			return fmt.Errorf("restore the users of %s: no such environment", env)
		}
		s.st.usersEnabledAt[e.ID] = at
	}
	s.st.sync(s.clock.Now())
	return nil
}

func (st *state) save() Saved {
	sv := Saved{RefreshesStarted: maps.Clone(st.stats.refreshes), PortalRefreshes: maps.Clone(st.stats.portalRefreshes),
		ExportsStarted: maps.Clone(st.stats.exports)}
	if len(st.usersEnabledAt) > 0 {
		sv.UsersEnabledAt = maps.Clone(st.usersEnabledAt)
	}
	for _, o := range st.ops {
		sv.Operations = append(sv.Operations, SavedOperation{ID: o.id, Kind: o.kind, Env: o.env, Source: o.source, Name: o.name,
			User: o.user, Start: o.start, Queue: o.queue, Run: o.run, Rollback: o.rollback, Outcome: o.outcome,
			RollbackAt: o.rollbackAt, SignedOff: o.signedOff, Override: o.override,
			HistName: o.history.Name, HistType: o.history.Type, HistDisplay: o.history.TypeDisplay})
	}
	sort.Slice(sv.Operations, func(i, j int) bool { return sv.Operations[i].Start.Before(sv.Operations[j].Start) })
	return sv
}

// changed tells the saver about a change (st's lock held).
func (st *state) changed() {
	if st.onChange != nil {
		st.onChange(st.save())
	}
}
