package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	charmlog "charm.land/log/v2"

	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/engine/team"
	"cutover/tui"
)

// runCockpit shows the TUI over the engine until the operator quits (or SIGTERM), then stops the
// engine and says where the run stands.
func runCockpit(e *engine.Engine, rf runFlags, cfg tui.Config, srv *tui.Server, stdin io.Reader, stdout, stderr io.Writer, start func(context.Context) func() error, beforeStop func()) int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	actor := engine.LocalOperator(*rf.as, ttyName(stdin))
	opts := tui.Options{Actor: actor, ReadOnly: *rf.readonly, Config: cfg, OwnsEngine: true}
	defer ownTerminal(e)()
	if srv != nil {
		touch, leave := srv.JoinLocal(actor)
		defer leave()
		opts.Watchers, opts.OnActivity, opts.Join = srv.Presence, touch, srv.Join()
	}
	ro := tui.RunOptions{
		Options: opts,
		In:      stdin, Out: stdout, NoColor: *rf.noColor, // NO_COLOR: Run reads the environment
		Start: start(ctx),
		Logf:  func(format string, args ...any) { e.Logf(engine.LevelError, "", format, args...) },
	}
	err := tui.Run(ctx, e, ro)
	// A bug that crashed the cockpit leaves the engine running (and the SSH sessions with it):
	// the operator reopens the cockpit on the same state, or stops the run.
	for errors.Is(err, tui.ErrSessionCrashed) && ctx.Err() == nil {
		if !reopenCockpit(stdin, stdout, e) {
			err = nil
			break
		}
		ro.Start = nil // the engine runs already
		err = tui.Run(ctx, e, ro)
	}
	snap := e.Snapshot()
	code := exitOK
	switch snap.Run.Outcome {
	case engine.OutcomeCompleted:
	case engine.OutcomeBlocked, engine.OutcomeHalted:
		code = exitFail
	default:
		code = tui.ExitInterrupted
	}
	beforeStop()
	if stopErr := e.Stop("cockpit closed"); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "cockpit closed: the run is %s (journal in %s); start again to continue where it stopped\n", snap.Run.Outcome, e.StateDir())
	return code
}

// reopenCockpit asks, after the cockpit crashed, whether to open it again (Enter) or stop the run
// (stop, or the end of the input). It reads the terminal line by line: Bubble Tea has given it
// back in its ordinary mode.
func reopenCockpit(stdin io.Reader, stdout io.Writer, e *engine.Engine) bool {
	fmt.Fprintf(stdout, "\ncutover: the cockpit hit an internal error; its details are in %s. The engine keeps running (and the SSH sessions with it).\n",
		filepath.Join(e.StateDir(), engine.LogFileName))
	for {
		fmt.Fprint(stdout, "Press Enter to reopen the cockpit, or type stop and Enter to stop the run here: ")
		line, err := readLine(stdin)
		switch answer := strings.ToLower(strings.TrimSpace(line)); {
		case err != nil || answer == "stop":
			return false
		case answer == "":
			return true
		}
	}
}

// readLine reads one line byte by byte, so nothing after it is taken from the terminal.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}

// startSSH prepares the SSH cockpit server over the engine (listening; serving starts with the
// engine). Its host key lives in the state directory (or at rf.sshHostKey); its team file beside
// the runbook. It prints where it listens and the command another operator joins with.
func startSSH(rb *runbook.Runbook, e *engine.Engine, rf runFlags, cfg tui.Config, stdout io.Writer) (*tui.Server, error) {
	path := teamPath(rb.File, *rf.team)
	tf, err := team.Load(path, team.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { e.Logf(engine.LevelInfo, "", format, args...) }
	// The SSH libraries log through charm's logger: into the engine's log, not onto a terminal a
	// cockpit may be drawing on.
	charmlog.SetOutput(libLog{e: e, level: engine.LevelWarn, prefix: "ssh: ",
		skip: func(line string) bool { return strings.Contains(line, "context canceled") }})
	hostKey := rf.sshHostKey
	if hostKey == "" {
		hostKey = filepath.Join(e.StateDir(), "ssh_host_ed25519_key")
	}
	srv, err := tui.NewServer(e, tui.ServerOptions{Addr: *rf.listen, HostKeyPath: hostKey,
		Team: tf, IdleTimeout: *rf.idle, Config: cfg, Logf: logf})
	if err != nil {
		return nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	join := defaultJoin(addr)
	if rf.joinCommand != nil {
		if join, err = rf.joinCommand(srv, addr); err != nil {
			srv.Shutdown(context.Background())
			return nil, err
		}
	}
	srv.SetJoin(join)
	fmt.Fprintf(stdout, "ssh: the cockpit is served on %s to the %d key(s) of %s\nssh: host key %s — teammates check it on first connection\n", addr, tf.Size(), path, srv.Fingerprint())
	fmt.Fprintf(stdout, "ssh: another operator joins from their own terminal with:\n  %s\n", join)
	e.Logf(engine.LevelInfo, "", "ssh: serving on %s (host key %s) to %d key(s) of %s; another operator joins with: %s", addr, srv.Fingerprint(), tf.Size(), path, join)
	return srv, nil
}

// defaultJoin is the command that joins a cockpit served on addr with a key of the team file:
// the machine's name when it listens on every address.
func defaultJoin(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "ssh " + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return "ssh -p " + port + " " + host // an IPv6 address without brackets: ssh takes it so
}

// libLog takes what a library logs into the engine's log at a level, each line prefixed;
// skip, when set, drops lines nobody needs (the one every ordinary SSH disconnect produces).
type libLog struct {
	e      *engine.Engine
	level  engine.LogLevel
	prefix string
	skip   func(line string) bool
}

func (l libLog) Write(b []byte) (int, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if text := strings.TrimSpace(line); text != "" && (l.skip == nil || !l.skip(text)) {
			l.e.Logf(l.level, "", "%s%s", l.prefix, text)
		}
	}
	return len(b), nil
}

// ownTerminal sends what the standard library's loggers (log, and slog's default, which writes
// through it) would print onto the terminal into the engine's log instead, while the cockpit
// draws there; the returned function puts them back.
func ownTerminal(e *engine.Engine) (restore func()) {
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(libLog{e: e, level: engine.LevelInfo})
	log.SetFlags(0)
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	}
}
