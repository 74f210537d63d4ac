//go:build linux

package svc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// orphanGroup starts a shell as the leader of a new process group with extra environment; the
// shell starts a sleep in the background and exits, and is reaped, as a command's shell is when
// cutover crashes. It returns the group id and the sleep's process id; the sleep is killed when
// the test ends.
func orphanGroup(t *testing.T, env ...string) (pgid, orphan int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pgid = cmd.Process.Pid
	orphan, err = strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("shell printed %q", out)
	}
	t.Cleanup(func() {
		if running(orphan, pgid) {
			_ = syscall.Kill(orphan, syscall.SIGKILL)
		}
	})
	if !running(orphan, pgid) {
		t.Fatalf("the orphan %d is not running in group %d", orphan, pgid)
	}
	if _, ok := lookupProc(pgid); ok {
		t.Fatalf("the leader %d was not reaped", pgid)
	}
	return pgid, orphan
}

// ownSession starts a sleep in a session (and process group) of its own with extra environment,
// as a process that called setsid would be. It is killed and reaped when the test ends.
func ownSession(t *testing.T, env ...string) *os.Process {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(reaped)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-reaped
	})
	return cmd.Process
}

// running reports whether pid is a live (not zombie) process in group pgid.
func running(pid, pgid int) bool {
	p, ok := lookupProc(pid)
	return ok && !p.zombie && p.pgid == pgid
}

func TestCleanupGroupKillsOnlyProvenRemains(t *testing.T) {
	boot := bootID()
	if boot == "" {
		t.Skip("no boot id in /proc")
	}
	// Random, so that another run of these tests at the same time is never taken for this one's.
	token, err := newGroupToken()
	if err != nil {
		t.Fatal(err)
	}
	ref := func(pgid int, start uint64, token string) map[string]string {
		return map[string]string{"pid": strconv.Itoa(pgid), "pgid": strconv.Itoa(pgid), "boot": boot,
			"start": strconv.FormatUint(start, 10), "token": token}
	}

	t.Run("carries the token", func(t *testing.T) {
		pgid, orphan := orphanGroup(t, groupTokenEnv+"="+token)
		note, clean := CleanupGroup(ref(pgid, 0, token))
		if want := fmt.Sprintf("killed process %d left running in process group %d", orphan, pgid); !strings.Contains(note, want) || !clean {
			t.Fatalf("note %q, want %q", note, want)
		}
		// It has ended by the time CleanupGroup returns.
		if running(orphan, pgid) {
			t.Fatalf("process %d is still running", orphan)
		}
		if note, clean := CleanupGroup(ref(pgid, 0, token)); note != "" || !clean {
			t.Fatalf("second cleanup: %q", note)
		}
	})

	// A group id reused by another program: its processes lack the attempt's token.
	t.Run("another token", func(t *testing.T) {
		pgid, orphan := orphanGroup(t, groupTokenEnv+"=someone-else")
		note, clean := CleanupGroup(ref(pgid, 0, token))
		if want := fmt.Sprintf("left alone process %d in process group %d", orphan, pgid); !strings.Contains(note, want) || strings.Contains(note, "killed") || clean {
			t.Fatalf("note %q, want %q", note, want)
		}
		if !running(orphan, pgid) {
			t.Fatal("a process without the attempt's token was killed")
		}
	})

	t.Run("no token", func(t *testing.T) {
		pgid, orphan := orphanGroup(t)
		if note, clean := CleanupGroup(ref(pgid, 0, "")); !strings.Contains(note, "left alone process "+strconv.Itoa(orphan)) || clean {
			t.Fatalf("note %q", note)
		}
		if !running(orphan, pgid) {
			t.Fatal("a process was killed on a journal without a token")
		}
	})

	// Children start after their leader: a process older than the journaled leader is not ours.
	t.Run("older than the leader", func(t *testing.T) {
		pgid, orphan := orphanGroup(t, groupTokenEnv+"="+token)
		p, _ := lookupProc(orphan)
		if note, _ := CleanupGroup(ref(pgid, p.start+1, token)); !strings.Contains(note, "left alone process "+strconv.Itoa(orphan)) {
			t.Fatalf("note %q", note)
		}
		if !running(orphan, pgid) {
			t.Fatal("a process older than the leader was killed")
		}
	})

	// A process that left the group (setsid) still carries the token: it is found and killed
	// with the group's.
	t.Run("left the group", func(t *testing.T) {
		pgid, orphan := orphanGroup(t, groupTokenEnv+"="+token)
		escaped := ownSession(t, groupTokenEnv+"="+token)
		note, clean := CleanupGroup(ref(pgid, 0, token))
		for _, want := range []string{
			fmt.Sprintf("killed process %d left running in process group %d", orphan, pgid),
			fmt.Sprintf("killed process %d left running by the interrupted attempt (found by the attempt's token)", escaped.Pid),
		} {
			if !strings.Contains(note, want) || !clean {
				t.Fatalf("note %q (clean %v), want %q", note, clean, want)
			}
		}
		if running(orphan, pgid) || running(escaped.Pid, escaped.Pid) {
			t.Fatal("a process of the attempt is still running")
		}
	})

	// cutover died after journaling the token but before the process ids: the token finds them.
	t.Run("token alone", func(t *testing.T) {
		token, err := newGroupToken()
		if err != nil {
			t.Fatal(err)
		}
		p := ownSession(t, groupTokenEnv+"="+token)
		other := ownSession(t, groupTokenEnv+"=someone-else")
		note, clean := CleanupGroup(map[string]string{"token": token, "boot": boot})
		if want := fmt.Sprintf("killed process %d left running by the interrupted attempt (found by the attempt's token)", p.Pid); note != want || !clean {
			t.Fatalf("note %q (clean %v), want %q", note, clean, want)
		}
		if running(p.Pid, p.Pid) || !running(other.Pid, other.Pid) {
			t.Fatal("killed the wrong process")
		}
		if note, clean := CleanupGroup(map[string]string{"token": token, "boot": boot}); note != "" || !clean {
			t.Fatalf("second cleanup: %q", note)
		}
	})

	t.Run("another boot", func(t *testing.T) {
		pgid, orphan := orphanGroup(t, groupTokenEnv+"="+token)
		r := ref(pgid, 0, token)
		r["boot"] = "00000000-0000-0000-0000-000000000000"
		if note, _ := CleanupGroup(r); note != "" {
			t.Fatalf("note %q", note)
		}
		if !running(orphan, pgid) {
			t.Fatal("a process was killed on the strength of another boot's journal")
		}
	})

	// The leader is still there (its parent died but nobody reaped it yet, or it survived): the
	// whole group goes, token or not.
	t.Run("leader still there", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!; exec sleep 300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pgid := cmd.Process.Pid
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		line, err := bufio.NewReader(out).ReadString('\n')
		orphan, aerr := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || aerr != nil {
			t.Fatalf("shell printed %q: %v", line, err)
		}
		t.Cleanup(func() {
			if running(orphan, pgid) {
				_ = syscall.Kill(orphan, syscall.SIGKILL)
			}
		})
		leader, ok := lookupProc(pgid)
		if !ok {
			t.Fatal("no leader")
		}
		note, _ := CleanupGroup(ref(pgid, leader.start, ""))
		if note != fmt.Sprintf("killed process group %d left running by the interrupted attempt", pgid) {
			t.Fatalf("note %q", note)
		}
		if running(pgid, pgid) || running(orphan, pgid) {
			t.Fatal("the group is still running") // the leader is a zombie until the cleanup reaps it
		}
	})
}

func TestParseStat(t *testing.T) {
	line := "4242 (a) (b) c) S 1 4240 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100"
	p, ok := parseStat(4242, []byte(line))
	if !ok || p.pgid != 4240 || p.start != 987654 || p.zombie {
		t.Fatalf("%+v %v", p, ok)
	}
	if p, ok := parseStat(1, []byte("1 (x) Z 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0")); !ok || !p.zombie {
		t.Fatalf("zombie: %+v %v", p, ok)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 z 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"} {
		if _, ok := parseStat(1, []byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
