package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// RunOptions configure a local cockpit on this terminal.
type RunOptions struct {
	Options
	// In and Out are the terminal (os.Stdin and os.Stdout when nil).
	In  io.Reader
	Out io.Writer
	// NoColor drops colour (NO_COLOR with any value, --no-color, or the config). Bold, reverse
	// and the glyphs remain, so no state is lost.
	NoColor bool
	// Start, when set, starts the engine once the cockpit has subscribed, so nothing the engine
	// says while resuming is missed.
	Start func() error
}

// NoColorFromEnv reports whether NO_COLOR asks for no colour: any non-empty value does
// (no-color.org), unlike parsers that want a boolean.
func NoColorFromEnv(getenv func(string) string) bool { return getenv("NO_COLOR") != "" }

// Run shows the cockpit on this terminal until the operator quits or ctx ends.
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
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(opt.In), tea.WithOutput(opt.Out), tea.WithFPS(30)}
	if opt.NoColor || opt.Config.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(app, popts...).Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cockpit: %w", err)
	}
	return nil
}
