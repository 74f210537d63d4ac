package svc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"cutover/engine/runbook"
	"cutover/engine/svc"
)

// fakeSC is a stand-in for sc.exe: a shell script that logs its argv, keeps the service's state
// in a file, prints what sc.exe prints, and exits as sc.exe's code arrives on a Unix controller
// (through ssh only its low 8 bits do).
const fakeSC = `#!/bin/sh
dir=$(dirname "$0")
{ printf 'argv'; for a in "$@"; do printf ' <%s>' "$a"; done; printf '\n'; } >>"$dir/calls"
svc=$3
state=$(cat "$dir/state")
crlf=$(printf '\r')
case "$2:$state" in
query:RUNNING) n=4 ;;
query:STOP_PENDING) n=3; echo STOPPED >"$dir/state" ;;
query:STOPPED) n=1 ;;
query:MISSING)
	printf '[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n\r\n'
	exit $((1060 % 256)) ;;
stop:STOPPED)
	printf '[SC] ControlService FAILED 1062:\r\n\r\nThe service has not been started.\r\n\r\n'
	exit $((1062 % 256)) ;;
stop:DENIED)
	printf 'connecting to the AOS host\n'
	printf '[SC] OpenService FAILED 5:\r\n\r\nAccess is denied.\r\n\r\n' >&2
	exit 5 ;;
stop:*)
	echo STOP_PENDING >"$dir/state"
	n=3; state=STOP_PENDING ;;
query:START_PENDING) n=2; echo RUNNING >"$dir/state" ;;
start:STOPPED)
	echo START_PENDING >"$dir/state"
	n=2; state=START_PENDING ;;
start:RUNNING)
	printf '[SC] StartService FAILED 1056:\r\n\r\nAn instance of the service is already running.\r\n\r\n'
	exit $((1056 % 256)) ;;
start:DENIED)
	printf '[SC] StartService FAILED 1053:\r\n\r\nThe service did not respond to the start or control request in a timely fashion.\r\n\r\n'
	exit $((1053 % 256)) ;;
*)
	echo "unexpected call $2 in state $state" >&2
	exit 99 ;;
esac
cat <<EOF
$crlf
SERVICE_NAME: $svc $crlf
        TYPE               : 10  WIN32_OWN_PROCESS  $crlf
        STATE              : $n  $state $crlf
                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)$crlf
        WIN32_EXIT_CODE    : 0  (0x0)$crlf
        SERVICE_EXIT_CODE  : 0  (0x0)$crlf
        CHECKPOINT         : 0x0$crlf
        WAIT_HINT          : 0x0$crlf
EOF
`

// scHost is a fake sc.exe in its own directory, with the service in a given state.
type scHost struct {
	t   *testing.T
	dir string
	svc *svc.CommandServices
}

func newSCHost(t *testing.T, state string) *scHost {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake sc.exe is a /bin/sh script")
	}
	dir := t.TempDir()
	sc := filepath.Join(dir, "sc.exe")
	if err := os.WriteFile(sc, []byte(fakeSC), 0o755); err != nil {
		t.Fatal(err)
	}
	h := &scHost{t: t, dir: dir}
	h.set(state)
	c, err := svc.NewCommandServices(&runbook.AOS{Control: "command",
		Stop:           []string{sc, `\\{host}`, "stop", "{service}"},
		Query:          []string{sc, `\\{host}`, "query", "{service}"},
		Start:          []string{sc, `\\{host}`, "start", "{service}"},
		StoppedPattern: `STATE\s+:\s+1\s+STOPPED`})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = c
	return h
}

func (h *scHost) set(state string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "state"), []byte(state+"\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// calls lists the argv of every run, one line each: "argv <a> <b>…".
func (h *scHost) calls() []string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "calls"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		h.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestCommandServicesStopsAndFollowsTheState(t *testing.T) {
	h := newSCHost(t, "RUNNING")
	ctx := context.Background()
	state := func(want svc.State) {
		t.Helper()
		got, raw, err := h.svc.State(ctx, "AXAOS01", "AOS60$01")
		if err != nil || got != want {
			t.Fatalf("state %s (%v), want %s; sc.exe said:\n%s", got, err, want, raw)
		}
		if !strings.Contains(raw, "SERVICE_NAME: AOS60$01") {
			t.Fatalf("the raw answer must be returned: %q", raw)
		}
	}
	state(svc.Running)
	if err := h.svc.Stop(ctx, "AXAOS01", "AOS60$01"); err != nil {
		t.Fatal(err)
	}
	state(svc.StopPending)
	state(svc.Stopped)
	calls := h.calls()
	want := []string{`argv <\\AXAOS01> <query> <AOS60$01>`, `argv <\\AXAOS01> <stop> <AOS60$01>`, `argv <\\AXAOS01> <query> <AOS60$01>`, `argv <\\AXAOS01> <query> <AOS60$01>`}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sc.exe ran as\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}

// TestCommandServicesStart: the start template runs; a service already running (sc.exe's 1056, of
// which a Unix controller sees 32) is started already; a start that fails says why; without a start
// template, starting is refused with the template to write.
func TestCommandServicesStart(t *testing.T) {
	h := newSCHost(t, "STOPPED")
	ctx := context.Background()
	if err := h.svc.Start(ctx, "AXAOS01", "AOS60$01"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []svc.State{svc.StartPending, svc.Running} {
		if st, raw, err := h.svc.State(ctx, "AXAOS01", "AOS60$01"); err != nil || st != want {
			t.Fatalf("state %s (%v), want %s:\n%s", st, err, want, raw)
		}
	}
	if err := h.svc.Start(ctx, "AXAOS01", "AOS60$01"); err != nil {
		t.Fatalf("starting a running service must not fail: %v", err)
	}
	if got := h.calls(); got[0] != `argv <\\AXAOS01> <start> <AOS60$01>` {
		t.Fatalf("sc.exe ran as %q", got)
	}
	h.set("DENIED")
	if err := h.svc.Start(ctx, "AXAOS01", "AOS60$01"); err == nil || !strings.Contains(err.Error(), "start AOS60$01 on AXAOS01: exit 29") ||
		!strings.Contains(err.Error(), "did not respond to the start or control request") {
		t.Fatalf("a failed start: %v", err)
	}
	noStart := &svc.CommandServices{QueryArgv: []string{"sc.exe"}, Stopped: regexp.MustCompile("STOPPED")}
	if err := noStart.Start(ctx, "AXAOS01", "AOS60$01"); err == nil || !strings.Contains(err.Error(), "no start template") {
		t.Fatalf("without a start template: %v", err)
	}
}

func TestCommandServicesStopOfAStoppedServiceIsDone(t *testing.T) {
	h := newSCHost(t, "STOPPED")
	// sc.exe exits 1062 "The service has not been started."; a Unix controller sees 38.
	if err := h.svc.Stop(context.Background(), "AXAOS01", "AOS60$01"); err != nil {
		t.Fatalf("stopping a stopped service must not fail: %v", err)
	}
	if st, _, err := h.svc.State(context.Background(), "AXAOS01", "AOS60$01"); err != nil || st != svc.Stopped {
		t.Fatalf("state %s, %v", st, err)
	}
}

func TestCommandServicesFailuresSayWhy(t *testing.T) {
	h := newSCHost(t, "DENIED")
	err := h.svc.Stop(context.Background(), "AXAOS02", "AOS60$01")
	if err == nil {
		t.Fatal("a refused stop must fail")
	}
	for _, want := range []string{"stop AOS60$01 on AXAOS02: exit 5", "[SC] OpenService FAILED 5:", "Access is denied."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q (what the command wrote on stderr): %v", want, err)
		}
	}
	h.set("MISSING")
	st, _, err := h.svc.State(context.Background(), "AXAOS02", "AOS60$09")
	if err == nil || st != svc.Unknown || !strings.Contains(err.Error(), "query AOS60$09 on AXAOS02") ||
		!strings.Contains(err.Error(), "The specified service does not exist as an installed service.") {
		t.Fatalf("state %s, error %v", st, err)
	}
}

func TestCommandServicesMissingCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	c := &svc.CommandServices{StopArgv: []string{filepath.Join(t.TempDir(), "no-such-sc.exe"), "{host}", "stop", "{service}"},
		Stopped: regexp.MustCompile("STOPPED")}
	err := c.Stop(context.Background(), "AXAOS01", "AOS60$01")
	if err == nil || !strings.Contains(err.Error(), "no-such-sc.exe") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

func TestCommandServicesTimeout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake command is a /bin/sh script")
	}
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &svc.CommandServices{QueryArgv: []string{hang}, Stopped: regexp.MustCompile("STOPPED"), Timeout: 200 * time.Millisecond}
	st, _, err := c.State(context.Background(), "AXAOS01", "AOS60$01")
	if st != svc.Unknown || err == nil || !strings.Contains(err.Error(), "no answer within") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung query must fail as such: %s, %v", st, err)
	}
}

func TestCommandServicesPlaceholdersAreNotShell(t *testing.T) {
	h := newSCHost(t, "RUNNING")
	host := `AXAOS01$(touch pwned-host)`
	service := "AOS60$01; touch pwned-service `touch pwned-tick` | touch pwned-pipe"
	if _, _, err := h.svc.State(context.Background(), host, service); err != nil {
		t.Fatal(err)
	}
	want := `argv <\\` + host + `> <query> <` + service + `>`
	if got := h.calls(); len(got) != 1 || got[0] != want {
		t.Fatalf("argv %q, want %q: each placeholder must arrive as one literal argument", got, want)
	}
	for _, f := range []string{"pwned-host", "pwned-service", "pwned-tick", "pwned-pipe"} {
		for _, d := range []string{h.dir, "."} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				t.Fatalf("a placeholder ran as shell: %s exists", filepath.Join(d, f))
			}
		}
	}
	// An unknown placeholder is refused, not passed through.
	c := &svc.CommandServices{QueryArgv: []string{"sc.exe", `\\{hots}`, "query"}, Stopped: regexp.MustCompile("STOPPED")}
	if _, _, err := c.State(context.Background(), "AXAOS01", "AOS60$01"); err == nil || !strings.Contains(err.Error(), "hots") {
		t.Fatalf("error %v", err)
	}
}
