package tdssim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Phase is the point of a connection's life a fault rule applies to.
type Phase int

const (
	// PhaseDefault derives the phase from the action: RefuseConnections
	// applies at accept (prelogin), DropDuringLogin at login, everything
	// else to requests.
	PhaseDefault Phase = iota
	// PhasePrelogin applies when the PRELOGIN message has been read,
	// before the server answers it (and, for RefuseConnections, at accept).
	PhasePrelogin
	// PhaseLogin applies when LOGIN7 has been read, before authentication.
	PhaseLogin
	// PhaseRequest applies to SQL batches, RPCs and transaction requests.
	PhaseRequest
)

// String returns the phase name.
func (p Phase) String() string {
	switch p {
	case PhaseDefault:
		return "default"
	case PhasePrelogin:
		return "prelogin"
	case PhaseLogin:
		return "login"
	case PhaseRequest:
		return "request"
	default:
		return fmt.Sprintf("Phase(%d)", int(p))
	}
}

// FaultAction is what a fired rule does.
type FaultAction int

const (
	// FaultDelay waits Rule.Delay before the first byte of the answer.
	// In the request phase the wait ends early on ATTENTION (which is
	// then acknowledged), so a client deadline shorter than the delay
	// sees context.DeadlineExceeded and keeps its connection.
	FaultDelay FaultAction = iota + 1
	// FaultRowDelay waits Rule.Delay before each row (request phase);
	// buffered rows are flushed before each wait, so the client sees
	// rows trickle in. Cancellable by ATTENTION.
	FaultRowDelay
	// FaultError answers with Rule.Err (default 50000) instead of calling
	// the handler: ERROR + DONE(ERROR). At login the connection is then
	// closed and the driver reports mssql.Error with the number.
	FaultError
	// FaultSevereError answers ERROR (Rule.Err, default class 20) + DONE
	// with SRVERROR and closes the connection; the driver returns
	// mssql.ServerError (which unwraps to mssql.Error) and discards the
	// connection.
	FaultSevereError
	// FaultDropBeforeResponse closes the socket instead of answering;
	// the driver sees a read error (*net.OpError wrapping EOF/reset).
	FaultDropBeforeResponse
	// FaultDropAfterRows sends Rule.Rows rows (or the whole result minus
	// its final DONE, if shorter), then closes the socket; rows.Err()
	// is an mssql.StreamError.
	FaultDropAfterRows
	// FaultDropDuringLogin closes the socket after reading LOGIN7; the
	// connect fails with an I/O error.
	FaultDropDuringLogin
	// FaultHang never answers. In the request phase an ATTENTION ends the
	// hang and is acknowledged; add IgnoreAttention for a stuck server.
	// Before login the hang lasts until the client disconnects.
	FaultHang
	// FaultIgnoreAttention makes the server neither cancel nor
	// acknowledge ATTENTION for the matched request; the driver gives up
	// after its 5 s drain timeout with an mssql.StreamError and discards
	// the connection. Combine with FaultHang or FaultDelay.
	FaultIgnoreAttention
	// FaultGarbageToken answers with an unknown token byte; the driver
	// fails with a StreamError (bad stream) and discards the connection.
	FaultGarbageToken
	// FaultRefuseConnections closes accepted sockets immediately, before
	// PRELOGIN; connecting fails with an I/O error.
	FaultRefuseConnections
)

// String returns the action name.
func (a FaultAction) String() string {
	switch a {
	case FaultDelay:
		return "Delay"
	case FaultRowDelay:
		return "RowDelay"
	case FaultError:
		return "Error"
	case FaultSevereError:
		return "SevereError"
	case FaultDropBeforeResponse:
		return "DropBeforeResponse"
	case FaultDropAfterRows:
		return "DropAfterRows"
	case FaultDropDuringLogin:
		return "DropDuringLogin"
	case FaultHang:
		return "Hang"
	case FaultIgnoreAttention:
		return "IgnoreAttention"
	case FaultGarbageToken:
		return "GarbageToken"
	case FaultRefuseConnections:
		return "RefuseConnections"
	default:
		return fmt.Sprintf("FaultAction(%d)", int(a))
	}
}

// Rule is a fault-injection rule. The zero value of each filter matches
// everything; all "when" conditions must hold for the rule to fire.
type Rule struct {
	// Name labels the rule in logs and listings.
	Name string
	// Phase selects where the rule applies (PhaseDefault derives it from
	// the action).
	Phase Phase

	// SQL, when set, must match the request's SQL text (batch text, the
	// sp_executesql statement, or "BEGIN/COMMIT/ROLLBACK TRANSACTION").
	// Request phase only.
	SQL *regexp.Regexp
	// Proc, when set, must equal the called procedure name
	// (case-insensitive, brackets ignored). Request phase only.
	Proc string
	// User and Database, when set, must equal the login's user and
	// database (case-insensitive). Login and request phases only.
	User     string
	Database string

	// FirstN limits the rule to the first N matching events (0: no limit).
	FirstN int
	// EveryNth fires on every Nth matching event (0 or 1: every event).
	EveryNth int
	// Probability fires with this probability (0: always), drawn from the
	// server's seeded RNG (Config.FaultSeed) for reproducible runs.
	Probability float64
	// After makes the rule inert until this long after it was added
	// (measured with Config.Now). Matches before that are not counted.
	After time.Duration

	// Action is what happens when the rule fires.
	Action FaultAction
	// Delay is the wait for FaultDelay and FaultRowDelay.
	Delay time.Duration
	// Err is the error for FaultError and FaultSevereError.
	Err *Error
	// Rows is the row count for FaultDropAfterRows.
	Rows int
}

// RuleID identifies an added rule.
type RuleID uint64

// RuleStatus is a snapshot of one rule for listings.
type RuleStatus struct {
	ID      RuleID
	Rule    Rule
	Matches int64
	Fired   int64
}

type ruleState struct {
	id      RuleID
	rule    Rule
	stage   stage
	added   time.Time
	matches int64
	fired   int64
}

// stage is where rules are evaluated; RefuseConnections is evaluated at
// accept, separately from the PRELOGIN message.
type stage int

const (
	stageAccept stage = iota + 1
	stagePrelogin
	stageLogin
	stageRequest
)

// Faults is the goroutine-safe set of fault rules of a Server. Rules may
// be added and removed while the server runs.
type Faults struct {
	mu     sync.Mutex
	rules  []*ruleState
	nextID RuleID
	rng    *rand.Rand
	now    func() time.Time
	onFire func()
}

func newFaults(seed uint64, now func() time.Time, onFire func()) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)), now: now, onFire: onFire}
}

// errBadRule reports an inconsistent Rule.
var errBadRule = errors.New("tdssim: invalid fault rule")

func ruleStage(r *Rule) (stage, error) {
	phase := r.Phase
	if phase == PhaseDefault {
		switch r.Action {
		case FaultRefuseConnections:
			phase = PhasePrelogin
		case FaultDropDuringLogin:
			phase = PhaseLogin
		default:
			phase = PhaseRequest
		}
	}
	bad := func(format string, args ...any) (stage, error) {
		return 0, fmt.Errorf("%w: %s", errBadRule, fmt.Sprintf(format, args...))
	}
	if (r.SQL != nil || r.Proc != "") && phase != PhaseRequest {
		return bad("SQL and Proc filters need the request phase, not %v", phase)
	}
	if (r.User != "" || r.Database != "") && phase == PhasePrelogin {
		return bad("User and Database filters are unknown in the prelogin phase")
	}
	if r.FirstN < 0 || r.EveryNth < 0 || r.Probability < 0 || r.Probability > 1 || r.After < 0 {
		return bad("negative FirstN/EveryNth/After or Probability outside 0..1")
	}
	switch r.Action {
	case FaultRefuseConnections:
		if phase != PhasePrelogin || r.User != "" || r.Database != "" {
			return bad("RefuseConnections applies at accept (prelogin phase) without filters")
		}
		return stageAccept, nil
	case FaultDropDuringLogin:
		if phase != PhaseLogin {
			return bad("DropDuringLogin needs the login phase")
		}
	case FaultRowDelay, FaultDropAfterRows, FaultIgnoreAttention:
		if phase != PhaseRequest {
			return bad("%v needs the request phase", r.Action)
		}
	case FaultError, FaultSevereError:
		if phase == PhasePrelogin {
			return bad("%v cannot be sent in the prelogin phase", r.Action)
		}
	case FaultDelay, FaultDropBeforeResponse, FaultHang, FaultGarbageToken:
	default:
		return bad("unknown action %v", r.Action)
	}
	if (r.Action == FaultDelay || r.Action == FaultRowDelay) && r.Delay <= 0 {
		return bad("%v needs a positive Delay", r.Action)
	}
	if r.Action == FaultDropAfterRows && r.Rows < 0 {
		return bad("DropAfterRows needs Rows >= 0")
	}
	switch phase {
	case PhasePrelogin:
		return stagePrelogin, nil
	case PhaseLogin:
		return stageLogin, nil
	case PhaseRequest:
		return stageRequest, nil
	}
	return bad("unknown phase %v", phase)
}

// Add validates and installs a rule and returns its id.
func (f *Faults) Add(r Rule) (RuleID, error) {
	st, err := ruleStage(&r)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.rules = append(f.rules, &ruleState{id: f.nextID, rule: r, stage: st, added: f.now()})
	return f.nextID, nil
}

// MustAdd is Add that panics on an invalid rule (for tests and demos).
func (f *Faults) MustAdd(r Rule) RuleID {
	id, err := f.Add(r)
	if err != nil {
		panic(err)
	}
	return id
}

// Remove deletes a rule; it reports whether the rule existed.
func (f *Faults) Remove(id RuleID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rs := range f.rules {
		if rs.id == id {
			f.rules = append(f.rules[:i], f.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Clear removes all rules.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// List returns a snapshot of the installed rules with their counters.
func (f *Faults) List() []RuleStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]RuleStatus, len(f.rules))
	for i, rs := range f.rules {
		out[i] = RuleStatus{ID: rs.id, Rule: rs.rule, Matches: rs.matches, Fired: rs.fired}
	}
	return out
}

// Fired returns how often a rule has fired (0 for unknown ids).
func (f *Faults) Fired(id RuleID) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rs := range f.rules {
		if rs.id == id {
			return rs.fired
		}
	}
	return 0
}

// event describes what is being evaluated.
type event struct {
	stage    stage
	sql      string
	proc     string
	user     string
	database string
}

// plan is the combined effect of the rules that fired for one event.
type plan struct {
	delay           time.Duration
	rowDelay        time.Duration
	ignoreAttention bool
	action          FaultAction // terminal action, 0 for none
	err             *Error
	rows            int
	fired           []string
}

func (rs *ruleState) filter(ev *event) bool {
	r := &rs.rule
	if rs.stage != ev.stage {
		return false
	}
	if r.SQL != nil && !r.SQL.MatchString(ev.sql) {
		return false
	}
	if r.Proc != "" && normalizeProc(r.Proc) != normalizeProc(ev.proc) {
		return false
	}
	if r.User != "" && !strings.EqualFold(r.User, ev.user) {
		return false
	}
	if r.Database != "" && !strings.EqualFold(r.Database, ev.database) {
		return false
	}
	return true
}

// evaluate matches all rules against ev. Every matching rule counts the
// event and decides by its own "when" whether it fires. Modifiers combine
// (delays add up); of several terminal actions the oldest rule wins.
func (f *Faults) evaluate(ev event) plan {
	var p plan
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rules) == 0 {
		return p
	}
	now := f.now()
	for _, rs := range f.rules {
		if !rs.filter(&ev) {
			continue
		}
		r := &rs.rule
		if r.After > 0 && now.Sub(rs.added) < r.After {
			continue
		}
		rs.matches++
		n := rs.matches
		if r.FirstN > 0 && n > int64(r.FirstN) {
			continue
		}
		if r.EveryNth > 1 && n%int64(r.EveryNth) != 0 {
			continue
		}
		if r.Probability > 0 && f.rng.Float64() >= r.Probability {
			continue
		}
		rs.fired++
		if f.onFire != nil {
			f.onFire()
		}
		label := r.Name
		if label == "" {
			label = fmt.Sprintf("rule %d (%v)", rs.id, r.Action)
		}
		p.fired = append(p.fired, label)
		switch r.Action {
		case FaultDelay:
			p.delay += r.Delay
		case FaultRowDelay:
			p.rowDelay += r.Delay
		case FaultIgnoreAttention:
			p.ignoreAttention = true
		default:
			if p.action == 0 {
				p.action, p.err, p.rows = r.Action, r.Err, r.Rows
			}
		}
	}
	return p
}
