package svc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cutover/engine/runbook"
)

// State is a Windows service's state as cutover sees it.
type State int

// Service states (the numbers sc.exe prints are mapped onto these).
const (
	Unknown State = iota
	Stopped
	StartPending
	StopPending
	Running
	Paused
)

var serviceWords = [...]string{"unknown", "stopped", "starting", "stopping", "running", "paused"}

// String names the state.
func (s State) String() string {
	if s >= 0 && int(s) < len(serviceWords) {
		return serviceWords[s]
	}
	return "unknown"
}

// Controller stops, starts and inspects the AX 2012 AOS services.
type Controller interface {
	// Stop asks the service to stop. A service that is already stopped is not an error.
	Stop(ctx context.Context, host, service string) error
	// Start asks the service to start. A service that is already running is not an error.
	Start(ctx context.Context, host, service string) error
	// State reports the service's state and the controller's raw answer.
	State(ctx context.Context, host, service string) (State, string, error)
}

// CommandServices controls services through command templates such as
// `sc.exe \\{host} stop {service}` (or PowerShell, or ssh). A query whose output matches Stopped
// means stopped; otherwise sc.exe's "STATE : N NAME" line is read.
type CommandServices struct {
	StopArgv  []string
	QueryArgv []string
	// StartArgv starts a service (the aos section's start template; empty: not configured).
	StartArgv []string
	Stopped   *regexp.Regexp
	// Timeout bounds each command (default 60s).
	Timeout time.Duration
}

// NewCommandServices builds a controller from the runbook's aos section.
func NewCommandServices(a *runbook.AOS) (*CommandServices, error) {
	if a == nil || a.Control != "command" {
		return nil, errors.New("the runbook's aos section does not use command control")
	}
	re, err := regexp.Compile(a.StoppedPattern)
	if err != nil {
		return nil, fmt.Errorf("aos stopped_pattern: %w", err)
	}
	return &CommandServices{StopArgv: a.Stop, QueryArgv: a.Query, StartArgv: a.Start, Stopped: re}, nil
}

// scState matches sc.exe's "STATE : 4  RUNNING" line.
var scState = regexp.MustCompile(`STATE\s*:\s*(\d)`)

// errAlreadyStopped is sc.exe's 1062 "The service has not been started."
const errAlreadyStopped = 1062

// scNotStarted matches sc.exe's report of error 1062. Through ssh (or any Unix process) only the
// exit code's low 8 bits arrive (38), so the text is what tells.
var scNotStarted = regexp.MustCompile(`FAILED 1062\b`)

func (c *CommandServices) run(ctx context.Context, tmpl []string, host, service string) (string, int, error) {
	vars := map[string]string{"host": host, "service": service}
	argv := make([]string, len(tmpl))
	for i, t := range tmpl {
		v, err := runbook.Expand(t, vars)
		if err != nil {
			return "", -1, err
		}
		argv[i] = v
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if ctx.Err() != nil {
		// Killed for taking too long (or cancelled): its exit code says nothing.
		return text, -1, fmt.Errorf("%s: no answer within %s: %w", QuoteArgv(argv), runbook.FormatDuration(timeout), ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return text, ee.ExitCode(), nil
		}
		return text, -1, fmt.Errorf("%s: %w", QuoteArgv(argv), err)
	}
	return text, 0, nil
}

// Stop runs the stop template.
func (c *CommandServices) Stop(ctx context.Context, host, service string) error {
	out, code, err := c.run(ctx, c.StopArgv, host, service)
	if err != nil {
		return err
	}
	if code == 0 || code == errAlreadyStopped || scNotStarted.MatchString(out) || c.Stopped.MatchString(out) {
		return nil
	}
	return fmt.Errorf("stop %s on %s: exit %d: %s", service, host, code, lastLines(out))
}

// errAlreadyRunning is sc.exe's 1056, "An instance of the service is already running." (the
// Windows system error code ERROR_SERVICE_ALREADY_RUNNING).
const errAlreadyRunning = 1056

// scAlreadyRunning matches sc.exe's report of error 1056 (through ssh only the exit code's low 8
// bits arrive, so the text is what tells).
var scAlreadyRunning = regexp.MustCompile(`FAILED 1056\b`)

// Start runs the start template.
func (c *CommandServices) Start(ctx context.Context, host, service string) error {
	if len(c.StartArgv) == 0 {
		return errors.New("the aos section has no start template (an argv such as [sc.exe, '\\\\{host}', start, '{service}'])")
	}
	out, code, err := c.run(ctx, c.StartArgv, host, service)
	if err != nil {
		return err
	}
	if code == 0 || code == errAlreadyRunning || scAlreadyRunning.MatchString(out) {
		return nil
	}
	return fmt.Errorf("start %s on %s: exit %d: %s", service, host, code, lastLines(out))
}

// State runs the query template and reads its output.
func (c *CommandServices) State(ctx context.Context, host, service string) (State, string, error) {
	out, code, err := c.run(ctx, c.QueryArgv, host, service)
	if err != nil {
		return Unknown, out, err
	}
	if c.Stopped.MatchString(out) {
		return Stopped, out, nil
	}
	if m := scState.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		switch n {
		case 1:
			return Stopped, out, nil
		case 2:
			return StartPending, out, nil
		case 3:
			return StopPending, out, nil
		case 4:
			return Running, out, nil
		case 7:
			return Paused, out, nil
		}
	}
	if code != 0 {
		return Unknown, out, fmt.Errorf("query %s on %s: exit %d: %s", service, host, code, lastLines(out))
	}
	return Running, out, nil
}

// lastLines is the end of a command's output on one line: its last three non-empty lines (sc.exe
// puts the error number and its text on separate lines).
func lastLines(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, " ")
}
