//go:build linux

package svc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setDeathSignal makes the kernel kill the command's leader if cutover dies. Only the leader gets
// the signal: what it started lives on until the next start cleans the group up (CleanupGroup).
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// bootID identifies this boot of the machine ("" if unknown).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// lookupProc reads /proc/PID/stat.
func lookupProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(pid, b)
}

// parseStat reads the state (field 3), process group (field 5) and start time (field 22, clock
// ticks since boot) from a /proc/PID/stat line. The command name (field 2) may contain spaces
// and parentheses, so the fields are counted from its closing parenthesis.
func parseStat(pid int, b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procInfo{}, false
	}
	pgid, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return procInfo{}, false
	}
	return procInfo{pid: pid, pgid: pgid, start: start, zombie: f[0] == "Z" || f[0] == "X"}, true
}

// listWhere returns the processes in the process table that keep says to keep.
func listWhere(keep func(procInfo) bool) ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := lookupProc(pid); ok && keep(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// listGroup returns the processes whose process group is pgid.
func listGroup(pgid int) ([]procInfo, error) {
	return listWhere(func(p procInfo) bool { return p.pgid == pgid })
}

// listCandidates returns, in one pass over the process table, the processes in group pgid (when
// not 0) and the live ones that carry the environment entry kv (when not ""; only this user's
// environments can be read).
func listCandidates(pgid int, kv string) ([]procInfo, error) {
	return listWhere(func(p procInfo) bool {
		return (pgid > 0 && p.pgid == pgid) || (kv != "" && !p.zombie && hasEnv(p.pid, kv))
	})
}

// hasEnv reports whether the process started with the environment entry kv ("NAME=value").
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	return bytes.Contains(append([]byte{0}, b...), []byte("\x00"+kv+"\x00"))
}

// killProc sends SIGKILL to p, and only to p: through a pidfd when the kernel has them, so a
// process id reused between the check and the signal cannot be hit.
func killProc(p procInfo) error {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return syscall.ESRCH
		}
		// No pidfds (Linux before 5.3: ENOSYS; a seccomp profile refusing the call: EPERM or
		// another error): check again just before the signal.
		if !stillSame(p) {
			return syscall.ESRCH
		}
		return syscall.Kill(p.pid, syscall.SIGKILL)
	}
	defer unix.Close(fd)
	// The pidfd names whatever had the pid when it was opened; it is p if p is still there.
	if !stillSame(p) {
		return syscall.ESRCH
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return syscall.ESRCH
		}
		return fmt.Errorf("pidfd_send_signal: %w", err)
	}
	return nil
}

// awaitExit waits until each process has ended, at most until the deadline, and returns those
// still running then. A pidfd becomes readable when its process ends; without pidfds the process
// table is looked at again every few milliseconds.
func awaitExit(ps []procInfo, deadline time.Time) []procInfo {
	var left []procInfo
	for _, p := range ps {
		if !awaitOne(p, deadline) {
			left = append(left, p)
		}
	}
	return left
}

func awaitOne(p procInfo, deadline time.Time) bool {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err == nil {
		defer unix.Close(fd)
		if !stillSame(p) {
			return true
		}
		for {
			wait := time.Until(deadline)
			if wait < 0 {
				wait = 0
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(wait.Milliseconds()))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil {
				return n > 0
			}
			break // poll itself failed: fall back to looking
		}
	}
	for stillSame(p) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
