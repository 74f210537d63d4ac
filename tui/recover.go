package tui

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"
)

// ErrSessionCrashed is what a cockpit returns when a bug made it panic: the session was ended
// cleanly (the terminal restored) and the panic logged with its stack; the engine is untouched.
var ErrSessionCrashed = errors.New("the cockpit hit an internal error")

// crashedText is what a session shows and prints after a panic.
const crashedText = "cutover: this session hit an internal error (the details are in the engine's log); the engine keeps running"

// recovering runs a session's cockpit so that a panic in its Update, its View or one of its
// commands ends that session only: the panic and its stack go to the log, the session shows why
// and quits cleanly (Bubble Tea restores the terminal), and nothing else — the engine, the other
// sessions, the SSH server — notices. Bubble Tea's own panic handling would print to the
// process's stderr (the local cockpit's terminal, under `run --listen`) and, locally, end the run.
type recovering struct {
	m tea.Model
	// who names the session in the log ("local cockpit", "ssh session of Ana").
	who  string
	logf func(format string, args ...any)
	// quit asks the program to end (for a panic in View, which cannot return a command).
	quit func()
	// crashed is set once the session panicked; from then on it only shows crashedText.
	crashed atomic.Bool
}

// crashMsg carries a panic out of a command's goroutine into the session's loop.
type crashMsg struct {
	where string
	value any
	stack []byte
}

func newRecovering(m tea.Model, who string, logf func(string, ...any)) *recovering {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &recovering{m: m, who: who, logf: logf}
}

// Crashed reports whether the session ended on a panic.
func (r *recovering) Crashed() bool { return r.crashed.Load() }

// Init starts the session's model.
func (r *recovering) Init() (cmd tea.Cmd) {
	defer func() {
		if v := recover(); v != nil {
			cmd = r.crash("Init", v, debug.Stack())
		}
	}()
	return r.wrap(r.m.Init())
}

// Update hands a message to the session's model, recovering a panic.
func (r *recovering) Update(msg tea.Msg) (model tea.Model, cmd tea.Cmd) {
	if r.crashed.Load() {
		return r, nil
	}
	if c, ok := msg.(crashMsg); ok {
		return r, r.crash(c.where, c.value, c.stack)
	}
	defer func() {
		if v := recover(); v != nil {
			model, cmd = r, r.crash("Update", v, debug.Stack())
		}
	}()
	m, cmd := r.m.Update(msg)
	r.m = m
	return r, r.wrap(cmd)
}

// View draws the session's model, or why it ended.
func (r *recovering) View() (v tea.View) {
	if r.crashed.Load() {
		return tea.NewView(crashedText + "\n")
	}
	defer func() {
		if p := recover(); p != nil {
			r.crash("View", p, debug.Stack())
			if r.quit != nil {
				go r.quit() // Quit waits for the loop this View is called from
			}
			v = tea.NewView(crashedText + "\n")
		}
	}()
	return r.m.View()
}

// crash logs a panic once and ends the session.
func (r *recovering) crash(where string, v any, stack []byte) tea.Cmd {
	if r.crashed.CompareAndSwap(false, true) {
		r.logf("%s hit an internal error in %s and was closed (the engine goes on): panic: %v\n%s", r.who, where, v, strings.TrimSpace(string(stack)))
	}
	return tea.Quit
}

// cmdType is the element type of a list of commands (tea.BatchMsg, Bubble Tea's own sequence).
var cmdType = reflect.TypeFor[tea.Cmd]()

// wrap makes a command recover a panic into a crashMsg; the commands of a batch or a sequence it
// returns are wrapped too, since Bubble Tea runs each on its own goroutine.
func (r *recovering) wrap(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() (msg tea.Msg) {
		defer func() {
			if v := recover(); v != nil {
				msg = crashMsg{where: "a command", value: v, stack: debug.Stack()}
			}
		}()
		return r.wrapList(cmd())
	}
}

// wrapList wraps the commands of a message that is a list of commands, keeping its type.
func (r *recovering) wrapList(msg tea.Msg) tea.Msg {
	if msg == nil {
		return nil
	}
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Slice || v.Type().Elem() != cmdType {
		return msg
	}
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	for i := range v.Len() {
		c, _ := v.Index(i).Interface().(tea.Cmd)
		out.Index(i).Set(reflect.ValueOf(r.wrap(c)))
	}
	return out.Interface()
}

// panicked describes a recovered panic for an error.
func panicked(who string) error { return fmt.Errorf("%s: %w", who, ErrSessionCrashed) }
