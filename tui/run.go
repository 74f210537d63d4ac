package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// RunOptions configure a local cockpit on this terminal.
type RunOptions struct {
	Options
	// In and Out are the terminal (os.Stdin and os.Stdout when nil).
	In  io.Reader
	Out io.Writer
	// NoColor drops colour (--no-color; NO_COLOR in Env and the config's no_color do too). Bold,
	// reverse and the glyphs remain, so no state is lost.
	NoColor bool
	// Env is the environment the cockpit runs in (os.Environ() when nil); NO_COLOR is read from it.
	Env []string
	// Start, when set, starts the engine once the cockpit has subscribed, so nothing the engine
	// says while resuming is missed.
	Start func() error
	// Logf receives a panic of the cockpit with its stack (the engine's log in practice).
	Logf func(format string, args ...any)
}

// NoColorFromEnv reports whether NO_COLOR asks for no colour: any non-empty value does
// (no-color.org), unlike parsers that want a boolean.
func NoColorFromEnv(getenv func(string) string) bool { return getenv("NO_COLOR") != "" }

// forcedProfile decides, without looking at a terminal, whether a cockpit's colour profile is
// forced: ASCII — no colour at all, while bold, faint, underline and reverse video stay, so the
// selection and every state's glyph and word survive — when environ (KEY=VALUE entries) sets
// NO_COLOR to any non-empty value ("0" and "false" included), when noColor (--no-color) is set or
// when the config says no_color. Otherwise forced is false and Bubble Tea detects what the
// terminal supports. The local cockpit and every SSH session (with the client's environment)
// decide through it.
func forcedProfile(environ []string, noColor bool, cfg Config) (p colorprofile.Profile, forced bool) {
	if noColor || cfg.NoColor || NoColorFromEnv(getenvFrom(environ)) {
		return colorprofile.ASCII, true
	}
	return colorprofile.Unknown, false
}

// getenvFrom looks a variable up in KEY=VALUE entries; a key given twice counts if any of its
// values is non-empty (for NO_COLOR, the safe reading).
func getenvFrom(environ []string) func(string) string {
	return func(key string) string {
		val := ""
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key && v != "" {
				val = v
			}
		}
		return val
	}
}

// Run shows the cockpit on this terminal until the operator quits or ctx ends. A bug that makes
// the cockpit panic ends it cleanly with ErrSessionCrashed (the panic in Logf): the engine is not
// touched, and Run may be called again over it to reopen the cockpit on the same state.
func Run(ctx context.Context, e Engine, opt RunOptions) error {
	if opt.In == nil {
		opt.In = os.Stdin
	}
	if opt.Out == nil {
		opt.Out = os.Stdout
	}
	app := NewApp(ctx, e, opt.Options)
	if opt.Start != nil {
		if err := opt.Start(); err != nil {
			return err
		}
	}
	if opt.Env == nil {
		opt.Env = os.Environ()
	}
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(opt.In), tea.WithOutput(opt.Out), tea.WithFPS(30)}
	if p, ok := forcedProfile(opt.Env, opt.NoColor, opt.Config); ok {
		popts = append(popts, tea.WithColorProfile(p))
	}
	rm := newRecovering(app, "the local cockpit of "+opt.Actor.String(), opt.Logf)
	prog := tea.NewProgram(rm, popts...)
	rm.quit = prog.Quit
	_, err := prog.Run()
	if rm.Crashed() {
		return panicked("cockpit")
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cockpit: %w", err)
	}
	return nil
}
