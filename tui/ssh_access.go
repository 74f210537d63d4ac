package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"

	"cutover/engine"
)

// This file keeps every SSH session within what the team file allows now, not only when it joined.
// The team file is looked at on a short interval (and on every action): a session whose key was
// removed is closed, one demoted to viewer becomes read-only at once, and both are journaled. A
// session never gains rights mid-way: a viewer made an operator connects again. The local cockpit
// is not governed by the team file (see JoinLocal).

// ErrAccessWithdrawn is returned for an action of a session whose key the team file no longer has.
var ErrAccessWithdrawn = errors.New("your key is no longer in the team file")

// accessChangedMsg tells a session's cockpit that the team file took rights away.
type accessChangedMsg struct {
	// removed ends the session; otherwise it is read-only from now on.
	removed bool
	// actor is the person with their role from now on.
	actor engine.Actor
	// text says what changed, for the screen.
	text string
}

// withdraw applies an access change to the cockpit: a demoted session loses its dialogs, its hold
// and every binding that changes the run; a removed one quits.
func (a *App) withdraw(msg accessChangedMsg) tea.Cmd {
	if msg.removed {
		a.quitting = true
		return tea.Quit
	}
	cmd := a.release()
	a.s.actor = msg.actor
	a.s.readOnly = true
	a.s.keys.SetReadOnly(true)
	if a.overlay != nil {
		if _, ok := a.overlay.(*helpOverlay); !ok {
			a.overlay = nil
		}
	}
	a.setFlash(msg.text, true)
	return cmd
}

// policyEngine is the engine as one SSH session may use it: every action is done as the session's
// person with the role the team file gives them now, looked up as the action happens. It
// implements each method of Engine itself (nothing is embedded), so a new action added to Engine
// cannot reach the engine without passing through here.
type policyEngine struct {
	e Engine
	s *Server
	p *presence
}

var _ Engine = (*policyEngine)(nil)

// now is the session's person as the team file allows them at this moment, or ErrAccessWithdrawn.
func (pe *policyEngine) now() (engine.Actor, error) {
	a, ok := pe.s.standing(pe.p)
	if !ok {
		return a, fmt.Errorf("%w: this session is closing", ErrAccessWithdrawn)
	}
	return a, nil
}

// Snapshot, Subscribe, Now, Replication, Validation, Logs, Running, StateDir and RefreshNow read
// or refresh and change nothing: they pass through.

func (pe *policyEngine) Snapshot() engine.Snapshot { return pe.e.Snapshot() }
func (pe *policyEngine) Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event) {
	return pe.e.Subscribe(ctx)
}
func (pe *policyEngine) Now() time.Time                           { return pe.e.Now() }
func (pe *policyEngine) Replication() *engine.ReplicationView     { return pe.e.Replication() }
func (pe *policyEngine) Validation() *engine.Validation           { return pe.e.Validation() }
func (pe *policyEngine) Logs(n int, step string) []engine.LogLine { return pe.e.Logs(n, step) }
func (pe *policyEngine) Running() []string                        { return pe.e.Running() }
func (pe *policyEngine) StateDir() string                         { return pe.e.StateDir() }
func (pe *policyEngine) RefreshNow()                              { pe.e.RefreshNow() }

// Drain belongs to the cockpit that owns the engine (the local one): an SSH session never drains.
func (pe *policyEngine) Drain() {}

// RecordAccess is the server's, not a session's.
func (pe *policyEngine) RecordAccess(engine.AccessChanged) error {
	return errors.New("a session cannot record access changes")
}

// SetPollIntervals changes the monitor for everyone: operators only, as now.
func (pe *policyEngine) SetPollIntervals(interval, backlog time.Duration) {
	if a, err := pe.now(); err == nil && a.CanOperate() {
		pe.e.SetPollIntervals(interval, backlog)
	}
}

func (pe *policyEngine) Confirm(step string, request uint64, _ engine.Actor, phrase string) (engine.ConfirmResult, error) {
	a, err := pe.now()
	if err != nil {
		return engine.ConfirmResult{}, err
	}
	return pe.e.Confirm(step, request, a, phrase)
}

func (pe *policyEngine) Decline(step string, request uint64, _ engine.Actor, reason string) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Decline(step, request, a, reason)
}

func (pe *policyEngine) Skip(step string, _ engine.Actor, reason, phrase string) (engine.ConfirmResult, error) {
	a, err := pe.now()
	if err != nil {
		return engine.ConfirmResult{}, err
	}
	return pe.e.Skip(step, a, reason, phrase)
}

func (pe *policyEngine) MarkDone(step string, _ engine.Actor, reason, phrase string) (engine.ConfirmResult, error) {
	a, err := pe.now()
	if err != nil {
		return engine.ConfirmResult{}, err
	}
	return pe.e.MarkDone(step, a, reason, phrase)
}

func (pe *policyEngine) WithdrawOverride(step string, request uint64, _ engine.Actor, reason string) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.WithdrawOverride(step, request, a, reason)
}

func (pe *policyEngine) Retry(step string, _ engine.Actor) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Retry(step, a)
}

func (pe *policyEngine) Abort(step string, _ engine.Actor, reason string) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Abort(step, a, reason)
}

func (pe *policyEngine) Pause(_ engine.Actor, reason string) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Pause(a, reason)
}

func (pe *policyEngine) Resume(_ engine.Actor) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Resume(a)
}

func (pe *policyEngine) Recount(ctx context.Context, table string, _ engine.Actor) (engine.TableCheck, error) {
	a, err := pe.now()
	if err != nil {
		return engine.TableCheck{}, err
	}
	return pe.e.Recount(ctx, table, a)
}

func (pe *policyEngine) Hold(step string, _ engine.Actor) error {
	a, err := pe.now()
	if err != nil {
		return err
	}
	return pe.e.Hold(step, a)
}

// Release and ReleaseAll give up what the session's person holds, whatever their rights now.
func (pe *policyEngine) Release(step string, _ engine.Actor) { pe.e.Release(step, pe.s.actorOf(pe.p)) }
func (pe *policyEngine) ReleaseAll(_ engine.Actor)           { pe.e.ReleaseAll(pe.s.actorOf(pe.p)) }

// actorOf is a presence's person with the role in force.
func (s *Server) actorOf(p *presence) engine.Actor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.actor
}

// standing consults the team file for an SSH session and applies what it says: the person with
// the role they have from now on, and ok false once the key was removed. A demotion or a removal
// is journaled and told to the session once; a removed session is closed.
func (s *Server) standing(p *presence) (engine.Actor, bool) {
	s.mu.Lock()
	a := p.actor
	s.mu.Unlock()
	if p.revoked.Load() {
		return a, false
	}
	st := s.opt.Team.Standing(a.Fingerprint, a.Role)
	switch {
	case st.Removed:
		if p.revoked.CompareAndSwap(false, true) {
			s.withdrawn(p, a, engine.AccessChanged{Actor: a, Removed: true, Closed: true,
				Reason: "key removed from " + s.opt.Team.Path()}, accessChangedMsg{removed: true})
		}
		return a, false
	case st.Demoted:
		s.mu.Lock()
		changed := p.actor.Role != st.Role
		p.actor.Role = st.Role
		now := p.actor
		s.mu.Unlock()
		if changed {
			s.withdrawn(p, a, engine.AccessChanged{Actor: a, Role: st.Role,
				Reason: fmt.Sprintf("role %s in %s", st.Role, s.opt.Team.Path())},
				accessChangedMsg{actor: now, text: fmt.Sprintf("the team file now makes you a %s: this session is read-only", st.Role)})
		}
		return now, true
	}
	return a, true
}

// withdrawn journals an access change, gives up the person's holds and tells their session; a
// removed session is closed (its connection too) if its cockpit has not ended by itself shortly.
func (s *Server) withdrawn(p *presence, before engine.Actor, change engine.AccessChanged, msg accessChangedMsg) {
	if err := s.e.RecordAccess(change); err != nil {
		s.opt.Logf("ssh: %s: %v (could not be journaled)", change.Text(), err)
	}
	s.opt.Logf("ssh: %s", change.Text())
	s.e.ReleaseAll(before)
	if p.prog != nil {
		// Send waits for the program's loop (or its end): never block the caller on it.
		go p.prog.Send(msg)
	}
	if msg.removed && p.sess != nil {
		sess := p.sess
		go func() {
			t := s.opt.teamClock.NewTimer(5 * time.Second)
			defer t.Stop()
			select {
			case <-sess.Context().Done():
			case <-t.C():
				closeConn(sess)
			}
		}()
	}
}

// closeConn closes a session's whole SSH connection (every session multiplexed on it).
func closeConn(sess ssh.Session) {
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(io.Closer); ok {
		_ = c.Close()
	}
	_ = sess.Close()
}

// applyTeam consults the team file for every SSH session (after it changed).
func (s *Server) applyTeam() {
	s.mu.Lock()
	var ps []*presence
	for _, p := range s.sessions {
		if !p.local {
			ps = append(ps, p)
		}
	}
	s.mu.Unlock()
	for _, p := range ps {
		s.standing(p)
	}
}

// watchTeam reads the team file again on an interval until Shutdown and applies each change.
func (s *Server) watchTeam() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.stop
		cancel()
	}()
	s.opt.Team.Watch(ctx, s.opt.teamClock, s.opt.TeamEvery, s.applyTeam, func(err error) {
		s.opt.Logf("ssh: the team file cannot be used as it is now, the members read before stay in force: %v", err)
	})
}
