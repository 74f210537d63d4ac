package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"cutover/adapter"
	"cutover/demo"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"cutover/tui"
)

func cmdDemo(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "demo", Short: "run a whole simulated cutover on this machine", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	rf := addRunFlags(fs)
	speed := fs.Float64("speed", 60, "run the simulated cutover `N` times faster than real time")
	tables := fs.Int("tables", 2000, "tables in the simulated AX database")
	scenario := fs.String("scenario", "happy", "`NAME`s, comma-separated: happy, locked-table, count-mismatch, lcs-throttle, flaky-network, upgrade-failure, rollback")
	c.RunE = func(c *cobra.Command, args []string) error {
		stdin, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			if *speed < 1 {
				fmt.Fprintln(stderr, "cutover demo: --speed must be at least 1")
				return exitUsage
			}
			sc, err := demo.ParseScenario(*scenario)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitUsage
			}
			// The simulated tasks are child processes: they learn the speed from the environment.
			if err := os.Setenv(demo.SpeedEnv, strconv.FormatFloat(*speed, 'f', -1, 64)); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			dir, lock, code := demoState(*rf.state, stdout, stderr)
			if lock == nil {
				return code
			}
			defer lock.Release()
			if *rf.http == "" {
				// The demo shows a newcomer the status page and /metrics: on, on a free loopback
				// port, and a resumed demo where it was, so a link printed before still works.
				*rf.http = "127.0.0.1:0"
				if prev := previousWebAddr(dir); prev != "" && portFree(prev) {
					*rf.http = prev
				}
			}
			files := filepath.Join(dir, demo.DirName)
			if err := os.MkdirAll(files, 0o700); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			saved, err := demo.LoadSaved(files)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			var from time.Time
			addrs := [3]string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
			if saved != nil {
				if saved.Scenario != sc.Name || saved.Tables != *tables {
					fmt.Fprintf(stdout, "demo: resuming the %s demo with %d tables (the flags asked for %s, %d)\n", saved.Scenario, saved.Tables, sc.Name, *tables)
				}
				if sc, err = demo.ParseScenario(saved.Scenario); err != nil {
					fmt.Fprintf(stderr, "cutover demo: %s: %v\n", filepath.Join(files, demo.SimsFile), err)
					return exitFail
				}
				*tables = saved.Tables
				from = saved.ResumeAt(filepath.Join(dir, journal.FileName))
				addrs = [3]string{saved.Source, saved.Target, saved.LCS}
				fmt.Fprintf(stdout, "demo: resuming in %s: the simulators carry on from %s (simulated time) after replaying %d actions\n",
					dir, from.Local().Format("15:04:05"), len(saved.Actions))
			} else {
				saved = &demo.Saved{Scenario: sc.Name, Tables: *tables}
			}
			clk := clock.NewScaledFrom(*speed, from)
			cfg := demo.WorldConfig(*tables, sc.World)
			cfg.Start = saved.WorldStart
			sims, err := demo.StartSimulators(cfg, clk, addrs[0], addrs[1], addrs[2], files, func(w *sqlsim.World, l *lcssim.Server) error {
				if err := w.Replay(saved.Actions); err != nil {
					return fmt.Errorf("resume the simulated SQL servers: %w", err)
				}
				return l.Restore(saved.LCSState)
			})
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			defer sims.Close()
			if err := sc.Apply(sims); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			saver := demo.NewSaver(filepath.Join(files, demo.SimsFile), saved, sims, clk)
			if err := saver.Write(); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			// The last save finishes before the demo returns: an exit in the middle of one would leave its
			// temporary file behind.
			saveCtx, stopSaving := context.WithCancel(context.Background())
			saving := make(chan struct{})
			go func() { defer close(saving); saver.Run(saveCtx) }()
			defer func() { stopSaving(); <-saving }()
			path, err := demo.WriteRunbook(files, sims)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			rb, ok := loadRunbook(path, stderr)
			if !ok {
				return exitFail
			}
			if err := demoSSH(&rf, files, saved, saver, engine.LocalOperator(*rf.as, ttyName(stdin)).Name, stdout); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			fmt.Fprintf(stdout, "demo: simulated AX 2012 SQL Server %s, Azure SQL sandbox %s, LCS %s (%d tables, %gx speed, scenario %s)\n",
				sims.SQL.Addr(sqlsim.EndpointSource), sims.SQL.Addr(sqlsim.EndpointTarget), sims.LCSURL, *tables, *speed, sc.Name)
			fmt.Fprintf(stdout, "demo: state in %s, the demo's runbook and simulators in %s (resume with --state %s; cutover report, journal verify, status and step take it too)\n",
				dir, files, dir)
			if !*rf.yes && !(isTerminal(stdin) && isTerminal(stdout)) {
				fmt.Fprintln(stdout, "demo: no terminal to type confirmations on; add --yes to play the rehearsal unattended")
			}
			notices := &adapter.EngineNotices{}
			c, err := adapter.LCSClient(rb, dir, sims.LCS.HTTPClient(), adapter.LCSClock{C: clk}, notices)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			opts := engine.Options{StateDir: dir, Clock: clk, Lock: lock,
				Ports: engine.Ports{Services: demo.Services{World: sims.World}, LCS: adapter.LCSPort{C: c}},
				// The steps the simulated operator does on the simulators, then marks done, also in a
				// rehearsal run with --yes (enabling production's users, …).
				DoneByOthers: func(step string) bool { return demo.OperatorSteps[step] != "" }}
			op := demo.NewOperator(sims, clk, notices, sc.Rollback)
			code = runEngine(rb, opts, rf, stdin, stdout, stderr, op)
			if !sc.Rollback {
				return code
			}
			return demoRollback(dir, sims, clk, rf, stdin, stdout, stderr, op)
		}())
	}
	return c
}

// demoState is the demo's state directory, absolute (--state, or a new temporary one), locked
// before anything is written into it: a second demo on a directory a demo runs in is refused
// having changed nothing. Without a lock, the demo ends with code.
func demoState(flag string, stdout, stderr io.Writer) (string, *journal.Lock, int) {
	dir := flag
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cutover-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "cutover demo: %v\n", err)
			return "", nil, exitFail
		}
		dir = tmp
	}
	// The commands it prints (resume, join) work from any folder.
	dir, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return "", nil, exitFail
	}
	if demo.EarlierLayout(dir) {
		fmt.Fprintf(stderr, "cutover demo: %s holds a demo an earlier cutover started (its journal in %s): this version keeps the journal in the state directory itself and does not resume it; start a new demo with another --state (the old journal still reads: cutover report --state %s)\n",
			dir, filepath.Join(dir, "state"), filepath.Join(dir, "state"))
		return "", nil, exitFail
	}
	lock, err := journal.LockDir(dir, "cutover demo")
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %s\n", journal.Describe(err))
		return "", nil, exitFail
	}
	return dir, lock, exitOK
}

// demoRollback is the rollback scenario's second act: the go-live run stopped at the failed data
// upgrade, and the team goes back to AX 2012 with the rollback runbook, against the same
// simulators (its own state directory, in the demo's; its backup step reads the go-live run's
// journal).
func demoRollback(dir string, sims *demo.Simulators, clk clock.Clock, rf runFlags, stdin io.Reader, stdout, stderr io.Writer, op *demo.Operator) int {
	files := filepath.Join(dir, demo.DirName)
	goLive := filepath.Join(dir, journal.FileName)
	ins, err := engine.Inspect(demo.LoadRunbook(files), dir, registry())
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	if st, _ := ins.Snapshot.Step("watch-upgrade"); st.State != engine.StateFailed {
		fmt.Fprintf(stdout, "demo: the go-live run stopped with watch-upgrade %s: not rolling back\n", st.State)
		return exitFail
	}
	fmt.Fprintln(stdout, "demo: the data upgrade failed and the team decides to go back to AX 2012: the rollback runbook (cutover init --rollback) runs now")
	// Its state directory is locked before its runbook is written, as the go-live run's was.
	state := filepath.Join(dir, demo.RollbackDir)
	lock, err := journal.LockDir(state, "cutover demo (rollback)")
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %s\n", journal.Describe(err))
		return exitFail
	}
	defer lock.Release()
	path, err := demo.WriteRollbackRunbook(files, sims, goLive)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	rb, ok := loadRunbook(path, stderr)
	if !ok {
		return exitFail
	}
	fmt.Fprintf(stdout, "demo: the rollback run's state in %s\n", state)
	opts := engine.Options{StateDir: state, Clock: clk, Lock: lock, Ports: engine.Ports{Services: demo.Services{World: sims.World}}}
	return runEngine(rb, opts, rf, stdin, stdout, stderr, op)
}

// demoSSH makes the demo serve its cockpit over SSH to the demo team (made once in files, the
// demo's files' directory): on --listen, else on the address it was served on before when that is
// free, else on a free loopback port. The command it prints joins as the team's second operator,
// so that a newcomer gives a step's second approval from another terminal. The address is saved
// (the rollback act and a resumed demo serve on it again).
func demoSSH(rf *runFlags, files string, saved *demo.Saved, saver *demo.Saver, local string, stdout io.Writer) error {
	t, made, err := demo.EnsureTeam(files, local)
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(stdout, "demo: a demo team in %s: %s (you) and %s, both operators; their keys in %s\n", t.File, local, demo.SecondOperator, filepath.Dir(t.SecondKey))
	}
	if *rf.listen == "" {
		addr := "127.0.0.1:0"
		if saved.SSH != "" && portFree(saved.SSH) {
			addr = saved.SSH
		}
		rf.listen = &addr
	}
	ownTeam := *rf.team == "" || filepath.Clean(*rf.team) == t.File
	rf.sshHostKey = t.HostKey
	rf.joinCommand = func(srv *tui.Server, addr net.Addr) (string, error) {
		bound := addr.String()
		if err := t.WriteKnownHosts(srv.HostKey()); err != nil {
			return "", err
		}
		if err := saver.SetSSH(bound); err != nil {
			return "", err
		}
		rf.listen = &bound
		if !ownTeam {
			return defaultJoin(addr), nil
		}
		host, port, err := net.SplitHostPort(bound)
		if err != nil {
			return "", fmt.Errorf("ssh address %s: %w", bound, err)
		}
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		return t.JoinCommand(host, port), nil
	}
	fmt.Fprintf(stdout, "demo: the production refresh and going live need two operators, each from their own session: you approve here, %s from another terminal with the ssh command below\n", demo.SecondOperator)
	return nil
}

// previousWebAddr is the host:port the state directory's status page was last served on ("" when
// none was).
func previousWebAddr(stateDir string) string {
	b, err := os.ReadFile(filepath.Join(stateDir, webURLFile))
	if err != nil {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return ""
	}
	return u.Host
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
