package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ActionOp names a change made to the world from outside: by a person at a console, a client
// over TDS, or a test.
type ActionOp string

// The actions a world records.
const (
	ActStopAOS           ActionOp = "stop-aos"
	ActStartAOS          ActionOp = "start-aos"
	ActDrainAOS          ActionOp = "drain-aos"
	ActCreateNoPK        ActionOp = "create-nopk-publication"
	ActRemoveReplication ActionOp = "remove-replication"
	ActMarkReplicated    ActionOp = "mark-replicated"
	ActSetDrainRate      ActionOp = "set-drain-rate"
	ActSetWriteRate      ActionOp = "set-write-rate"
	ActFailAgent         ActionOp = "fail-distribution-agent"
	ActStartAgent        ActionOp = "start-distribution-agent"
	ActPostTracerToken   ActionOp = "post-tracer-token"
	ActTriggerUpgrade    ActionOp = "trigger-upgrade"
	ActResumeUpgrade     ActionOp = "resume-upgrade"
	ActPauseUpgrade      ActionOp = "pause-upgrade"
	ActRedeliver         ActionOp = "redeliver"
	ActStartSnapshot     ActionOp = "start-snapshot"
	ActTakeBackup        ActionOp = "take-backup"
	ActRestore           ActionOp = "restore-database"
)

// Action is one successful change to the world at a simulated time. A world is a pure function
// of its configuration, its start and its actions: replaying the actions of one world on a new
// world with the same configuration and start rebuilds it exactly (a demo resumed after a crash).
type Action struct {
	At   time.Time `json:"at"`
	Op   ActionOp  `json:"op"`
	Args []string  `json:"args,omitempty"`
}

func (a Action) key() string { return string(a.Op) + " " + strings.Join(a.Args, " ") }

// OnAction sets f to be called with every successful action, in the order they happened, while
// the world's lock is held: f must return quickly and must not call the world. Replayed actions
// are not reported.
func (w *World) OnAction(f func(Action)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onAction = f
}

// note records a successful action (w.mu held).
func (w *World) note(op ActionOp, args ...string) {
	a := Action{At: w.timeAt(w.t), Op: op, Args: args}
	if w.counts == nil {
		w.counts = map[string]int{}
	}
	w.counts[a.key()]++
	if w.replaying.IsZero() && w.onAction != nil {
		w.onAction(a)
	}
}

// Count is how many times an action succeeded on this world, replayed actions included: the
// simulator's own evidence that, say, the replication setup was removed once. With no args it
// counts the operation whatever its arguments.
func (w *World) Count(op ActionOp, args ...string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(args) > 0 {
		return w.counts[Action{Op: op, Args: args}.key()]
	}
	n := 0
	for k, c := range w.counts {
		if strings.HasPrefix(k, string(op)+" ") {
			n += c
		}
	}
	return n
}

// Replay applies the actions of an earlier world, each at its own simulated time, in order. The
// world must be new (no time has passed beyond the first action) and the clock must not be behind
// the last action afterwards.
func (w *World) Replay(actions []Action) error {
	defer func() {
		w.mu.Lock()
		w.replaying = time.Time{}
		w.mu.Unlock()
	}()
	for i, a := range actions {
		w.mu.Lock()
		if a.At.Before(w.timeAt(w.t)) {
			w.mu.Unlock()
			return fmt.Errorf("replay action %d (%s): at %s, before the world's time %s", i+1, a.Op, a.At.Format(time.RFC3339Nano), w.timeAt(w.t).Format(time.RFC3339Nano))
		}
		w.replaying = a.At
		w.mu.Unlock()
		if err := w.apply(a); err != nil {
			return fmt.Errorf("replay action %d (%s %s): %w", i+1, a.Op, strings.Join(a.Args, " "), err)
		}
	}
	return nil
}

func (w *World) apply(a Action) error {
	arg := func(i int) string {
		if i < len(a.Args) {
			return a.Args[i]
		}
		return ""
	}
	rate := func() (float64, error) {
		return strconv.ParseFloat(arg(0), 64)
	}
	switch a.Op {
	case ActStopAOS:
		return w.StopAOS(arg(0), arg(1))
	case ActStartAOS:
		return w.StartAOS(arg(0), arg(1))
	case ActDrainAOS:
		return w.DrainAOS(arg(0), arg(1))
	case ActCreateNoPK:
		return w.CreateNoPKPublication()
	case ActRemoveReplication:
		return w.RemoveReplication()
	case ActMarkReplicated:
		return w.MarkReplicated()
	case ActSetDrainRate:
		r, err := rate()
		if err == nil {
			w.SetDrainRate(r)
		}
		return err
	case ActSetWriteRate:
		r, err := rate()
		if err == nil {
			w.SetWriteRate(r)
		}
		return err
	case ActFailAgent:
		return w.FailDistributionAgent(arg(0), arg(1))
	case ActStartAgent:
		return w.StartDistributionAgent(arg(0))
	case ActPostTracerToken:
		_, err := w.PostTracerToken(arg(0))
		return err
	case ActTriggerUpgrade:
		return w.TriggerUpgrade()
	case ActResumeUpgrade:
		return w.ResumeUpgrade()
	case ActPauseUpgrade:
		return w.PauseUpgrade()
	case ActRedeliver:
		return w.Redeliver(arg(0))
	case ActStartSnapshot:
		return w.StartSnapshot(arg(0))
	case ActTakeBackup:
		checksum, err1 := strconv.ParseBool(arg(1))
		damaged, err2 := strconv.ParseBool(arg(2))
		start, err3 := time.Parse(time.RFC3339Nano, arg(3))
		finish, err4 := time.Parse(time.RFC3339Nano, arg(4))
		tz, err5 := strconv.Atoi(arg(5))
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return err
		}
		w.lock()
		defer w.mu.Unlock()
		_, err := w.takeBackup(arg(0), checksum, damaged, start, finish, tz)
		return err
	case ActRestore:
		replace, err := strconv.ParseBool(arg(1))
		if err != nil {
			return err
		}
		return w.restoreAction(arg(0), replace)
	}
	return fmt.Errorf("unknown action %q", a.Op)
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
