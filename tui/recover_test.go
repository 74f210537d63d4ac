package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// bomb is a model that panics where it is told to.
type bomb struct{ in string }

type boom struct{}

func (b bomb) Init() tea.Cmd { return nil }
func (b bomb) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(boom); ok {
		switch b.in {
		case "Update":
			panic("in update")
		case "View":
			return bomb{in: "View now"}, nil
		case "command":
			return b, func() tea.Msg { panic("in a command") }
		case "batch":
			return b, tea.Batch(func() tea.Msg { return nil }, func() tea.Msg { panic("in a batched command") })
		case "sequence":
			return b, tea.Sequence(func() tea.Msg { panic("in a sequenced command") })
		}
	}
	return b, nil
}
func (b bomb) View() tea.View {
	if b.in == "View now" {
		panic("in view")
	}
	return tea.NewView("fine")
}

// TestRecoveringEndsOnlyThatSession: a panic in Update, View or a command (alone, batched or in a
// sequence) is logged with its stack once, the program quits cleanly, and the wrapper says so.
func TestRecoveringEndsOnlyThatSession(t *testing.T) {
	for _, where := range []string{"Update", "View", "command", "batch", "sequence"} {
		t.Run(where, func(t *testing.T) {
			var mu sync.Mutex
			var logged []string
			r := newRecovering(bomb{in: where}, "the test session", func(f string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				logged = append(logged, fmt.Sprintf(f, a...))
			})
			var out bytes.Buffer
			inR, inW := io.Pipe()
			defer inW.Close()
			p := tea.NewProgram(r, tea.WithInput(inR), tea.WithOutput(&out), tea.WithWindowSize(40, 10))
			r.quit = p.Quit
			go p.Send(boom{})
			done := make(chan error, 1)
			go func() { _, err := p.Run(); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the program ended with %v, want a clean quit", err)
				}
			case <-time.After(10 * time.Second):
				p.Kill()
				t.Fatal("the program did not quit after the panic")
			}
			if !r.Crashed() {
				t.Fatal("the wrapper does not say it crashed")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(logged) != 1 || !strings.Contains(logged[0], "the test session") || !strings.Contains(logged[0], "goroutine") {
				t.Fatalf("logged %q", logged)
			}
			if v := r.View(); !strings.Contains(v.Content, "internal error") {
				t.Fatalf("view after the crash: %q", v.Content)
			}
		})
	}
}

// refreshBomb is an engine whose refresh panics: a bug reached from a key press.
type refreshBomb struct{ *engine.Engine }

func (refreshBomb) RefreshNow() { panic("a bug behind the refresh key") }

// TestLocalCockpitCrashKeepsTheEngineAndReopens: the local cockpit panics; Run returns
// ErrSessionCrashed with the panic logged, the engine goes on (a confirmation from another
// session still runs the step), and Run opens the cockpit again over the same state.
func TestLocalCockpitCrashKeepsTheEngineAndReopens(t *testing.T) {
	e := realEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logged strings.Builder
	var mu sync.Mutex
	opt := RunOptions{
		Options: Options{Actor: engine.Actor{Name: "ana", Origin: "local terminal on jump01", Role: engine.RoleOperator, User: "ana", UID: "1001", Host: "jump01"},
			Config: Config{Theme: ThemeDark}, Local: time.UTC},
		Env: []string{"NO_COLOR=1"}, Start: func() error { return e.Start(ctx) },
		Logf: func(f string, a ...any) { mu.Lock(); defer mu.Unlock(); logged.WriteString(f) },
	}
	inR, inW := io.Pipe()
	defer inW.Close()
	opt.In, opt.Out = inR, io.Discard
	done := make(chan error, 1)
	go func() { done <- Run(ctx, refreshBomb{e}, opt) }()
	io.WriteString(inW, "r")
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the cockpit did not end after its panic")
	}
	if !errors.Is(err, ErrSessionCrashed) {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	if !strings.Contains(logged.String(), "hit an internal error") {
		t.Fatalf("the panic was not logged: %q", logged.String())
	}
	mu.Unlock()
	// The engine runs on: another operator confirms and the step runs.
	ben := engine.Actor{Name: "Ben", Origin: "ssh 10.0.0.6", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	waitAwaiting(t, ctx, e, "aos-stop")
	if _, err := e.Confirm("aos-stop", 0, ben, "STOP AOS"); err != nil {
		t.Fatalf("the engine after the crash: %v", err)
	}
	// Reopened over the same engine (not started again), the cockpit quits normally.
	// (A pipe stands for the terminal: the first program's reader may still wait on the old one,
	// which a terminal's reader would have been cancelled from.)
	opt.Start = nil
	inR2, inW2 := io.Pipe()
	defer inW2.Close()
	opt.In = inR2
	go func() { done <- Run(ctx, e, opt) }()
	io.WriteString(inW2, "q")
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the reopened cockpit did not quit")
	}
	if err != nil {
		t.Fatalf("the reopened cockpit: %v", err)
	}
}

// waitAwaiting waits, on the engine's events, until a step awaits its confirmation.
func waitAwaiting(t *testing.T, ctx context.Context, e *engine.Engine, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, ch := e.Subscribe(ctx)
	for {
		if st, _ := e.Snapshot().Step(id); st.State == engine.StateAwaiting {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s never awaited its confirmation", id)
		}
	}
}

// TestSSHSessionCrashSparesTheServer: a bug in one SSH session's cockpit ends that session with a
// message; the server, the engine and another session go on, and the person can connect again.
func TestSSHSessionCrashSparesTheServer(t *testing.T) {
	e := realEngine(t)
	ana, vic := newTestKey(t), newTestKey(t)
	var logs lockedBuffer
	path := writeTeam(t, t.TempDir(), map[string]member{"Ana": {ana, engine.RoleOperator}, "Vic": {vic, engine.RoleViewer}})
	_, addr := startServerWith(t, refreshBomb{e}, path, func(o *ServerOptions) {
		o.Logf = func(f string, a ...any) { logs.Write([]byte(f + "\n")) }
	})
	pa, pv := openPty(t, addr, ana, 120, 40), openPty(t, addr, vic, 120, 40)
	pa.waitOutput(t, "flow test")
	pv.waitOutput(t, "flow test")
	fmt.Fprint(pa.in, "r")
	pa.waitOutput(t, crashedText+"; connect again to carry on")
	waitEnded(t, pa, "the crashed session")
	if !strings.Contains(logs.String(), "hit an internal error") {
		t.Fatalf("the panic was not logged:\n%s", logs.String())
	}
	m := pv.mark()
	fmt.Fprint(pv.in, "4")
	pv.waitOutputSince(t, m, "4 Logs")
	// (A connection is not opened and dropped just before the test ends: charm.land/ssh counts a
	// connection in a WaitGroup that its Shutdown may already wait on, which the race detector
	// reports.)
	again := openPty(t, addr, ana, 120, 40)
	again.waitOutput(t, "flow test")
}
