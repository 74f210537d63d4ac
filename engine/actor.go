package engine

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
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

// AwayAfter is how long a watcher of the run goes without a key press before the front ends
// (the cockpit's header, the web page) show them as idle.
const AwayAfter = 5 * time.Minute

// Away reports whether a watcher idle for idle is shown as away (AwayAfter).
func Away(idle time.Duration) bool { return idle >= AwayAfter }

// Actor is who did something: a person at the local terminal, a teammate over SSH, or the engine.
//
// Who a person is — what the distinct-approvals rule counts — is what they authenticated as, never
// the name they gave: an SSH key's fingerprint, or, at the jump box's own terminal, the
// operating-system account (its uid and login name on this host). Name is for people to read
// (`--as` sets it); two approvals under two names from one account are one person's.
//
// The JSON form only ever gains fields, so a journal written by an older cutover still reads; an
// actor recorded before the account fields existed is identified as it was then (name and origin).
type Actor struct {
	// Name is the display name.
	Name string `json:"name"`
	// Origin says where they are: "local terminal on jump01 (tty /dev/pts/2)", "ssh 10.0.0.5".
	Origin string `json:"origin,omitempty"`
	// Fingerprint is the SSH key fingerprint (SHA256:…) when they came over SSH.
	Fingerprint string `json:"fingerprint,omitempty"`
	Role        Role   `json:"role"`
	// User and UID are the operating-system account of a person at the local terminal (the login
	// name, and the uid — a SID on Windows), Host the machine's name: together they are the
	// identity of someone who did not come over SSH.
	User string `json:"user,omitempty"`
	UID  string `json:"uid,omitempty"`
	Host string `json:"host,omitempty"`
	// StandIn marks a second person typing at another operator's terminal in a rehearsal
	// ("as NAME: PHRASE" in the headless printer, which offers it only when the runbook says
	// rehearsal: true): the name then tells the stand-in apart from the account's owner, and the
	// report marks the approval as sharing its origin.
	StandIn bool `json:"stand_in,omitempty"`
}

// ID identifies the person for the distinct-operators rule: the key fingerprint when they came
// over SSH; the operating-system account (uid, login name, host) at the local terminal, whatever
// display name they gave; for an actor journaled before accounts were recorded, its name and
// origin (what older versions counted).
func (a Actor) ID() string {
	switch {
	case a.Fingerprint != "":
		return a.Fingerprint
	case a.UID != "" || a.User != "":
		id := "os:" + a.UID + "(" + a.User + ")@" + a.Host
		if a.StandIn {
			id += " stand-in " + strings.ToLower(strings.TrimSpace(a.Name))
		}
		return id
	}
	return a.Name + "@" + a.Origin
}

// Place is where the actor acted from, without what changes between two sessions of one person
// (the terminal device, the source port): "ssh 10.0.0.5", "local terminal on jump01". Two
// approvals of one request from the same place are worth a second look, even from two identities
// (two accounts on the jump box, two keys behind one address); the report marks them.
func (a Actor) Place() string {
	o := strings.TrimSpace(a.Origin)
	if i := strings.Index(o, " ("); i >= 0 {
		o = o[:i]
	}
	if o == "" && a.Host != "" {
		o = "local terminal on " + a.Host
	}
	return o
}

// String renders the actor for logs: "Ana (ssh SHA256:abc…)".
func (a Actor) String() string {
	var parts []string
	if a.Origin != "" {
		parts = append(parts, a.Origin)
	}
	if a.Fingerprint != "" {
		parts = append(parts, a.Fingerprint)
	} else if a.User != "" && a.User != a.Name && !a.StandIn {
		parts = append(parts, "account "+a.User)
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

// Account is an operating-system account: who a local actor is.
type Account struct {
	User, UID, Host string
}

// CurrentAccount is the account this process runs as. The uid comes from the process itself
// (the login name from the account database, $USER only when that has no entry): neither an
// environment variable nor a flag can change who the process is.
func CurrentAccount() Account {
	var acc Account
	if u, err := user.Current(); err == nil {
		acc.User, acc.UID = u.Username, u.Uid
	}
	if acc.UID == "" {
		if uid := os.Getuid(); uid >= 0 {
			acc.UID = strconv.Itoa(uid)
		}
	}
	if acc.User == "" {
		acc.User = os.Getenv("USER")
	}
	if acc.UID == "" && acc.User == "" {
		acc.User = "unknown"
	}
	acc.Host, _ = os.Hostname()
	return acc
}

// LocalOperator is the person at this machine's terminal: the account this process runs as. name
// (`--as`) only sets the display name; CUTOVER_OPERATOR, then the login name, when it is empty.
func LocalOperator(name, tty string) Actor {
	return LocalActor(CurrentAccount(), name, tty)
}

// LocalActor is a person at a terminal of acc's host, as acc, shown as name (the login name when
// empty, after CUTOVER_OPERATOR).
func LocalActor(acc Account, name, tty string) Actor {
	name = strings.TrimSpace(name)
	if name == "" {
		name = strings.TrimSpace(os.Getenv("CUTOVER_OPERATOR"))
	}
	if name == "" {
		name = acc.User
	}
	if name == "" {
		name = "operator"
	}
	origin := "local terminal on " + acc.Host
	if tty != "" {
		origin += " (" + tty + ")"
	}
	return Actor{Name: name, Origin: origin, Role: RoleOperator, User: acc.User, UID: acc.UID, Host: acc.Host}
}
