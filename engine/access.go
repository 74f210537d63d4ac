package engine

import (
	"errors"
	"fmt"
	"strings"
)

// RecAccessChanged records that the access policy (the team file) took rights away from a person
// in a session already open: their key was removed, and the session closed; or their role was
// lowered to viewer, and the session became read-only at once. Evidence only: it changes no step.
const RecAccessChanged RecordType = "access.changed"

// AccessChanged is a session losing rights mid-way.
type AccessChanged struct {
	// Actor is the person as the session knew them (the role they had until now).
	Actor Actor `json:"actor"`
	// Role is their role from now on ("" when the key was removed).
	Role Role `json:"role,omitempty"`
	// Removed is set when the key is no longer allowed at all; Closed when the session was closed.
	Removed bool `json:"removed,omitempty"`
	Closed  bool `json:"closed,omitempty"`
	// Reason says what changed and where: "key removed from /srv/cutover-team.keys".
	Reason string `json:"reason"`
}

// Text is the change as one sentence for logs and reports.
func (c AccessChanged) Text() string {
	var what string
	switch {
	case c.Removed && c.Closed:
		what = "lost access: session closed"
	case c.Removed:
		what = "lost access"
	default:
		what = fmt.Sprintf("is now a %s: session read-only", orRole(c.Role))
	}
	s := c.Actor.String() + " " + what
	if r := strings.TrimSpace(c.Reason); r != "" {
		s += " (" + r + ")"
	}
	return s
}

func orRole(r Role) Role {
	if r == "" {
		return RoleViewer
	}
	return r
}

// RecordAccess journals that a session lost rights (see RecAccessChanged) and logs it.
func (e *Engine) RecordAccess(c AccessChanged) error {
	if c.Actor.Name == "" && c.Actor.Fingerprint == "" {
		return errors.New("access change: no actor")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil {
		return ErrClosed
	}
	if _, err := e.commitLocked(RecAccessChanged, "", c); err != nil {
		return err
	}
	e.logs.add(LevelWarn, "", "", c.Text())
	return nil
}
