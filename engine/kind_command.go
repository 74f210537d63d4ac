package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
	"cutover/engine/svc"
)

// CommandKind runs a program: an argv template (or a shell line), with extra environment, a working
// directory and the exit codes that count as success. Output is streamed into the log; the whole
// process group is killed on timeout or abort. A command interrupted by a crash is re-run only when
// the step says `idempotent: true`, and only after what the interrupted attempt left running has
// been killed (see svc.CleanupGroup: on Unix every process of an attempt carries its token in
// CUTOVER_GROUP_TOKEN; on Windows the attempt's job object ended with cutover).
type CommandKind struct{}

// Name implements Kind.
func (CommandKind) Name() string { return "command" }

// Mode implements Kind.
func (CommandKind) Mode() Mode { return ModeAuto }

// terminateGrace is how long a cancelled command may take to exit after being asked politely.
const terminateGrace = 5 * time.Second

// Decode reads `with: {argv | shell, env, dir, expect_exit}`.
func (CommandKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &commandAction{expect: []int{0}}
	where := fmt.Sprintf("step %q with", s.ID)
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind command needs `with: {argv: [program, arg…]}` or `with: {shell: \"…\"}`")
		return a
	}
	var argvNode, shellNode *yaml.Node
	present := d.Fields(with, where, map[string]runbook.Field{
		"argv":  func(v *yaml.Node) { a.argv = d.Strings(v, where, "argv"); argvNode = v },
		"shell": func(v *yaml.Node) { a.shell = d.NonEmpty(v, where, "shell"); shellNode = v },
		"env":   func(v *yaml.Node) { a.env = d.StringMap(v, where, "env") },
		"dir":   func(v *yaml.Node) { a.dir = d.NonEmpty(v, where, "dir") },
		"expect_exit": func(v *yaml.Node) {
			a.expect = nil
			ns := v
			if ns.Kind == yaml.ScalarNode {
				ns = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{v}}
			}
			if ns.Kind != yaml.SequenceNode {
				d.Errorf(v, where, "expect_exit: expected a list of exit codes")
				return
			}
			for _, c := range ns.Content {
				a.expect = append(a.expect, d.Int(c, where, "expect_exit", 0, 1<<31-1))
			}
		},
	})
	_, hasArgv := present["argv"]
	_, hasShell := present["shell"]
	switch {
	case hasArgv == hasShell:
		d.Errorf(with, where, "give exactly one of argv (a program and its arguments) or shell (a command line for the system shell)")
	case hasArgv && len(a.argv) == 0:
		d.Errorf(argvNode, where, "argv: the list is empty")
	}
	vars := TemplateVarNames()
	check := func(n *yaml.Node, key, t string) {
		if err := runbook.CheckTemplate(t, vars...); err != nil {
			d.Errorf(n, where, "%s: %v", key, err)
		}
	}
	for _, arg := range a.argv {
		check(argvNode, "argv", arg)
	}
	if hasShell {
		check(shellNode, "shell", a.shell)
	}
	for k, v := range a.env {
		check(present["env"], "env."+k, v)
	}
	if a.dir != "" {
		check(present["dir"], "dir", a.dir)
	}
	return a
}

type commandAction struct {
	argv   []string
	shell  string
	env    map[string]string
	dir    string
	expect []int
}

// shellArgv is how a shell line runs on this platform.
func shellArgv(line string) []string {
	if runtime.GOOS == "windows" {
		return []string{"cmd.exe", "/C", line}
	}
	return []string{"/bin/sh", "-c", line}
}

func (a *commandAction) template() []string {
	if a.shell != "" {
		return shellArgv(a.shell)
	}
	return a.argv
}

func (a *commandAction) Describe() string { return a.DescribeWith(nil) }

// DescribeWith shows the command line with the known placeholders filled in.
func (a *commandAction) DescribeWith(vars map[string]string) string {
	argv := a.template()
	if vars != nil {
		expanded := make([]string, len(argv))
		for i, t := range argv {
			if v, err := runbook.Expand(t, vars); err == nil {
				expanded[i] = v
			} else {
				expanded[i] = t
			}
		}
		argv = expanded
	}
	desc := "run " + svc.QuoteArgv(argv)
	if a.dir != "" {
		desc += " in " + a.dir
	}
	if len(a.expect) != 1 || a.expect[0] != 0 {
		codes := make([]string, len(a.expect))
		for i, c := range a.expect {
			codes[i] = strconv.Itoa(c)
		}
		desc += " (success: exit " + strings.Join(codes, ", ") + ")"
	}
	return desc
}

func (a *commandAction) Run(ctx context.Context, run *Run) error {
	vars := run.Vars()
	tmpl := a.template()
	argv := make([]string, len(tmpl))
	for i, t := range tmpl {
		v, err := runbook.Expand(t, vars)
		if err != nil {
			return Permanent(err)
		}
		argv[i] = v
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if a.dir != "" {
		dir, err := runbook.Expand(a.dir, vars)
		if err != nil {
			return Permanent(err)
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(vars["runbook_dir"], dir)
		}
		cmd.Dir = dir
	}
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(a.env))
	for k := range a.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := runbook.Expand(a.env[k], vars)
		if err != nil {
			return Permanent(err)
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "CUTOVER_STEP="+run.Step.ID, "CUTOVER_ATTEMPT="+strconv.Itoa(run.Attempt), "CUTOVER_STATE_DIR="+vars["state_dir"])
	stdout := &lineWriter{emit: func(l string) { run.Output("stdout", l) }}
	stderr := &lineWriter{emit: func(l string) { run.Output("stderr", l) }}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = terminateGrace

	// What lets a restart find this attempt's processes is journaled before any of them exists.
	pre, err := svc.GroupRef()
	if err != nil {
		return err
	}
	if len(pre) > 0 {
		if err := run.Record(pre); err != nil {
			return err
		}
	}
	group, ref, err := svc.StartGroup(cmd, pre)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return Permanent(fmt.Errorf("cannot start %s: %w", argv[0], err))
		}
		return fmt.Errorf("cannot start %s: %w", argv[0], err)
	}
	defer group.Close()
	run.Logf("pid %d: %s", cmd.Process.Pid, svc.QuoteArgv(argv))
	if err := run.Record(ref); err != nil {
		group.Kill()
		_ = cmd.Wait()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		group.Terminate(terminateGrace)
		<-done
		group.Kill()
		stdout.flush()
		stderr.flush()
		return fmt.Errorf("command stopped: %w", context.Cause(ctx))
	}
	stdout.flush()
	stderr.flush()
	code := cmd.ProcessState.ExitCode()
	for _, ok := range a.expect {
		if code == ok {
			run.SetMessage(fmt.Sprintf("exit %d", code))
			return nil
		}
	}
	if code < 0 {
		return fmt.Errorf("%s ended abnormally: %v", argv[0], waitErr)
	}
	return fmt.Errorf("%s exited with code %d", filepath.Base(argv[0]), code)
}

// Cleanup kills what an interrupted attempt left running.
func (a *commandAction) Cleanup(ref map[string]string) (string, bool) {
	return svc.CleanupGroup(ref)
}

// lineWriter splits a stream into lines for the log.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLine {
				w.emit(string(w.buf[:maxLine]))
				w.buf = w.buf[maxLine:]
				continue
			}
			return len(p), nil
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}
