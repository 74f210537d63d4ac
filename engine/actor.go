package engine

import (
	"fmt"
	"os"
	"os/user"
	"strings"
)

// Role is what an actor may do.
type Role string

// Roles.
const (
	// RoleOperator may run, confirm, skip and retry steps.
	RoleOperator Role = "operator"
	// RoleViewer sees everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleSystem is the engine itself (automatic retries, rehearsal auto-confirmation).
	RoleSystem Role = "system"
)

// Actor is who did something: a person at the local terminal, a teammate over SSH, or the engine.
type Actor struct {
	// Name is the display name.
	Name string `json:"name"`
	// Origin says where they are: "local terminal on jump01 (tty /dev/pts/2)", "ssh 10.0.0.5".
	Origin string `json:"origin,omitempty"`
	// Fingerprint is the SSH key fingerprint (SHA256:…) when they came over SSH.
	Fingerprint string `json:"fingerprint,omitempty"`
	Role        Role   `json:"role"`
}

// ID identifies the person for the distinct-operators rule: the key fingerprint when there is one,
// otherwise the name and origin.
func (a Actor) ID() string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	return a.Name + "@" + a.Origin
}

// String renders the actor for logs: "Ana (ssh SHA256:abc…)".
func (a Actor) String() string {
	var parts []string
	if a.Origin != "" {
		parts = append(parts, a.Origin)
	}
	if a.Fingerprint != "" {
		parts = append(parts, a.Fingerprint)
	}
	if len(parts) == 0 {
		return a.Name
	}
	return fmt.Sprintf("%s (%s)", a.Name, strings.Join(parts, ", "))
}

// CanOperate reports whether the actor may change the run.
func (a Actor) CanOperate() bool { return a.Role == RoleOperator || a.Role == RoleSystem }

// System is the engine acting on its own.
func System(what string) Actor {
	return Actor{Name: "cutover", Origin: what, Role: RoleSystem}
}

// LocalOperator is the person at this machine's terminal. name overrides the login name.
func LocalOperator(name, tty string) Actor {
	if name == "" {
		name = os.Getenv("CUTOVER_OPERATOR")
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "operator"
	}
	host, _ := os.Hostname()
	origin := "local terminal on " + host
	if tty != "" {
		origin += " (" + tty + ")"
	}
	return Actor{Name: name, Origin: origin, Role: RoleOperator}
}
