package cmd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestMain lets the test binary be the cutover binary. With CUTOVER_TEST_MAIN=1 it runs the CLI on
// its arguments (child processes use this); testscript installs it as "cutover" on the scripts'
// PATH (TestScript).
func TestMain(m *testing.M) {
	if os.Getenv("CUTOVER_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if os.Getenv(floorEnv) != "" {
		os.Exit(floorMain())
	}
	testscript.Main(cleaningUp{m}, map[string]func(){
		"cutover": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cleaningUp runs the tests, then removes the binary buildCutover built.
type cleaningUp struct{ m *testing.M }

func (c cleaningUp) Run() int {
	code := c.m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// binDir holds the binary buildCutover builds once for the whole test run.
var binDir string

// built is the one build of the binary: its path, or why there is none (skip) or it failed.
var built = sync.OnceValues(func() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", errSkipBuild
	}
	if binDir, err = os.MkdirTemp("", "cutover-bin-"); err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "cutover")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, "..").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var errSkipBuild = errors.New("the go command is not on PATH: cannot build the binary")

// buildCutover builds the real cutover binary (go build, as a user would; once per test run)
// and returns its path.
func buildCutover(t testing.TB) string {
	t.Helper()
	bin, err := built()
	switch {
	case errors.Is(err, errSkipBuild):
		t.Skip(err)
	case err != nil:
		t.Fatal(err)
	}
	return bin
}

// cli runs the CLI in-process.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// child starts the CLI as a separate process.
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CUTOVER_TEST_MAIN=1")
	return cmd
}

// TestEveryHelpShowsItsFlags walks the command tree: every command's --help exits 0 and shows
// its flags with two dashes. (The rest of the command line is testdata/script/command_line.txtar.)
func TestEveryHelpShowsItsFlags(t *testing.T) {
	// Every command's help: exit 0, and its flags with two dashes.
	var walk func(path []string, c *cobra.Command)
	walk = func(path []string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := append(append([]string(nil), path...), sub.Name())
			code, out, errs := cli(t, append(p, "--help")...)
			if code != 0 || errs != "" || !strings.Contains(out, "--help") {
				t.Errorf("%s --help: exit %d, stderr %q", strings.Join(p, " "), code, errs)
			}
			if sub.HasAvailableLocalFlags() && !strings.Contains(out, "--"+firstFlag(sub)) {
				t.Errorf("%s --help does not show --%s:\n%s", strings.Join(p, " "), firstFlag(sub), out)
			}
			walk(p, sub)
		}
	}
	walk(nil, newRoot(&streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard}))
}

// firstFlag names a command's first local flag.
func firstFlag(c *cobra.Command) string {
	name := ""
	c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if name == "" && !f.Hidden {
			name = f.Name
		}
	})
	return name
}

func writeRunbook(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecondEngineIsRefused: a cockpit holds the state directory; a second one is refused and
// told who holds it.
func TestSecondEngineIsRefused(t *testing.T) {
	path := writeRunbook(t, "name: t\nsteps:\n  - {id: hold, title: Hold batch jobs, kind: manual}\n")
	first := child(t, "run", "--headless", "-f", path)
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { first.Process.Kill(); first.Wait() }()
	waitForLine(t, stdout, "waiting for an operator")
	code, _, errs := cli(t, "run", "--headless", "-f", path)
	host, _ := os.Hostname()
	if code != 1 || !strings.Contains(errs, "pid "+strconv.Itoa(first.Process.Pid)) || !strings.Contains(errs, host) {
		t.Fatalf("second engine: %d %s", code, errs)
	}
	// Refused before anything else: a runbook that would ask for a password on the terminal is
	// refused for the lock, not for the missing terminal, and nobody is asked.
	prompt := writeRunbook(t, "name: t\nconnections:\n  source: {server: db01, database: AX, auth: sql, user: sa, password_prompt: true}\n"+
		"steps:\n  - {id: hold, title: Hold batch jobs, kind: manual}\n")
	if code, _, errs := cli(t, "run", "--headless", "-f", prompt, "--state", filepath.Join(filepath.Dir(path), ".cutover")); code != 1 ||
		!strings.Contains(errs, "in use by cutover run (pid "+strconv.Itoa(first.Process.Pid)) || strings.Contains(errs, "password") {
		t.Fatalf("a second engine with a password to ask: %d %s", code, errs)
	}
	// Offline step actions are refused too while the cockpit runs.
	if code, _, errs := cli(t, "step", "done", "hold", "-f", path); code != 1 || !strings.Contains(errs, "in use by") {
		t.Fatalf("step while a cockpit runs: %d %s", code, errs)
	}
	first.Process.Kill()
	first.Wait()
	// Now the manual step can be recorded done offline, and a run completes.
	if code, out, errs := cli(t, "step", "done", "hold", "-f", path, "--as", "Ana"); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("offline done: %d %s %s", code, out, errs)
	}
	if code, out, _ := cli(t, "run", "--headless", "-f", path); code != 0 || !strings.Contains(out, "run completed") {
		t.Fatalf("final run: %d %s", code, out)
	}
}

// lineStream is a process's output, line by line.
type lineStream struct {
	lines chan string
	seen  []string
}

func streamLines(r io.Reader) *lineStream {
	ls := &lineStream{lines: make(chan string, 4096)}
	go func() {
		defer close(ls.lines)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				ls.lines <- l
			}
			if err != nil {
				return
			}
		}
	}()
	return ls
}

// expect reads lines until one contains substr.
func (ls *lineStream) expect(t *testing.T, substr string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-ls.lines:
			if !ok {
				t.Fatalf("output ended without %q:\n%s", substr, strings.Join(ls.seen, ""))
			}
			ls.seen = append(ls.seen, l)
			if strings.Contains(l, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q in:\n%s", substr, strings.Join(ls.seen, ""))
		}
	}
}

// drain discards the rest of the output (so the process never blocks writing).
func (ls *lineStream) drain() {
	go func() {
		for range ls.lines {
		}
	}()
}

// waitForLine waits for a line containing substr, then discards the rest.
func waitForLine(t *testing.T, r io.Reader, substr string) {
	t.Helper()
	ls := streamLines(r)
	ls.expect(t, substr)
	ls.drain()
}
