//go:build unix

package svc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// groupTokenEnv names the environment variable that marks every process a command starts with a
// token unique to the attempt. Children inherit it, so after a crash the remains of the attempt
// can be told apart from an unrelated process group that later got the same id.
const groupTokenEnv = "CUTOVER_GROUP_TOKEN"

// procInfo is what the platform says about one process.
type procInfo struct {
	pid, pgid int
	// start is when the process started, in a unit fixed per platform (clock ticks since boot on
	// Linux, microseconds since the epoch on macOS): only compared with other start times.
	start  uint64
	zombie bool
}

// unixGroup is a command's process group.
type unixGroup struct {
	pgid int
	mu   sync.Mutex
	kill *time.Timer
}

// GroupRef returns what to journal before a command starts: a fresh token that every process of
// the attempt will carry in its environment, and the boot. Journaled first, it lets a crash
// between the start and the journaling of the process ids still find the attempt's processes.
func GroupRef() (map[string]string, error) {
	token, err := newGroupToken()
	if err != nil {
		return nil, err
	}
	ref := map[string]string{"token": token}
	if boot := bootID(); boot != "" {
		ref["boot"] = boot
	}
	return ref, nil
}

// StartGroup starts cmd as the leader of a new process group, every process of it marked with
// pre's token (see GroupRef), and returns the references to journal next: process id, group id
// and, where the platform tells it, the leader's start time.
func StartGroup(cmd *exec.Cmd, pre map[string]string) (Group, map[string]string, error) {
	token := pre["token"]
	if token == "" {
		return nil, nil, errors.New("start process group: no token")
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(slices.Clip(env), groupTokenEnv+"="+token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	pid := cmd.Process.Pid
	ref := map[string]string{"pid": strconv.Itoa(pid), "pgid": strconv.Itoa(pid)}
	if p, ok := lookupProc(pid); ok {
		ref["start"] = strconv.FormatUint(p.start, 10)
	}
	return &unixGroup{pgid: pid}, ref, nil
}

// newGroupToken returns 128 random bits in hex.
func newGroupToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("process group token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (g *unixGroup) Terminate(grace time.Duration) {
	_ = syscall.Kill(-g.pgid, syscall.SIGTERM)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.kill == nil {
		g.kill = time.AfterFunc(grace, g.Kill)
	}
}

func (g *unixGroup) Kill() {
	_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
}

func (g *unixGroup) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.kill != nil {
		g.kill.Stop()
	}
}

// cleanupWait bounds how long CleanupGroup waits for the processes it killed to end: a process
// in uninterruptible sleep (stuck I/O) can outlive SIGKILL for a while.
const cleanupWait = 5 * time.Second

// maxCleanupRounds bounds how often CleanupGroup looks again for processes forked while it was
// killing the ones it had found.
const maxCleanupRounds = 50

// CleanupGroup kills what an interrupted attempt left running, and only what provably belongs to
// it, so that a group id reused by an unrelated program is never touched:
//
//   - when the group's leader is still there (alive or not yet reaped) with the journaled boot
//     and start time, the group is the attempt's and is killed as a whole;
//   - otherwise (the leader died, as it does after a crash, and was reaped) each process in a
//     group with the journaled id is killed when it started no earlier than the journaled leader
//     and carries the attempt's token in its environment. Processes of the group that fail the
//     checks are left alone and named in the returned note;
//   - in both cases every other process of this user that carries the token is killed too: those
//     that left the group (setsid), and all of them when the attempt was cut off after journaling
//     its token but before journaling its process ids.
//
// Nothing is looked for when the journaled boot is not this one: a restart ended them all.
//
// It returns once the processes it killed have ended (or cleanupWait has passed), so a re-run
// never starts next to them. The note is empty when nothing was left running; clean is false
// when something may still run (not killed, not ended, or not verifiable), so no re-run may start.
func CleanupGroup(ref map[string]string) (note string, clean bool) {
	pgid, err := strconv.Atoi(ref["pgid"])
	hasGroup := err == nil && pgid > 1
	token := ref["token"]
	if !hasGroup && token == "" {
		return "", true
	}
	boot := bootID()
	if ref["boot"] != "" && boot != "" && ref["boot"] != boot {
		return "", true // the machine restarted since: nothing of the attempt survived
	}
	sameBoot := ref["boot"] != "" && ref["boot"] == boot
	leaderStart, startErr := strconv.ParseUint(ref["start"], 10, 64)
	hasStart := startErr == nil
	deadline := time.Now().Add(cleanupWait)
	var notes []string
	var left []procInfo
	groupKilled := false
	if p, ok := lookupProc(pgid); hasGroup && ok && sameBoot && hasStart && p.start == leaderStart {
		members, _ := listGroup(pgid)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		var live []procInfo
		for _, m := range members {
			if !m.zombie && m.pgid == pgid {
				live = append(live, m)
			}
		}
		notes = append(notes, fmt.Sprintf("killed process group %d left running by the interrupted attempt", pgid))
		if still := awaitExit(live, deadline); len(still) > 0 {
			notes = append(notes, fmt.Sprintf("%s still running %v later; check them by hand", pids(pidsOf(still)), cleanupWait))
			left = append(left, still...)
		}
		groupKilled = true
		if token == "" {
			return strings.Join(notes, "; "), len(left) == 0
		}
	}
	carries := groupTokenEnv + "=" + token
	ours := func(p procInfo) bool {
		if token == "" || (hasStart && p.start < leaderStart) {
			return false
		}
		return hasEnv(p.pid, carries)
	}
	self := os.Getpid()
	seen := map[procInfo]bool{}
	var killed, escaped []procInfo
	var foreign, failed []int
	var failures []string
	var scanErr error
	for round := 0; round < maxCleanupRounds; round++ {
		group := 0
		if hasGroup && !groupKilled {
			group = pgid
		}
		kv := ""
		if token != "" {
			kv = carries
		}
		found, err := listCandidates(group, kv)
		if err != nil {
			if group == 0 {
				scanErr = err
				break
			}
			// No way to look inside the group on this system: say so if it is not empty.
			if kerr := syscall.Kill(-pgid, 0); errors.Is(kerr, syscall.ESRCH) {
				return "", true
			}
			return fmt.Sprintf("process group %d from the interrupted attempt may still be running and could not be verified as ours (%v); check it by hand", pgid, err), false
		}
		fresh := false
		for _, p := range found {
			key := procInfo{pid: p.pid, pgid: p.pgid, start: p.start}
			member := hasGroup && p.pgid == pgid
			if p.zombie || p.pid == self || seen[key] || (groupKilled && member) {
				continue
			}
			seen[key] = true
			if !ours(p) {
				if member {
					foreign = append(foreign, p.pid)
				}
				continue
			}
			fresh = true
			switch err := killProc(p); {
			case err == nil && member:
				killed = append(killed, p)
			case err == nil:
				escaped = append(escaped, p)
			case errors.Is(err, syscall.ESRCH):
			default:
				failed = append(failed, p.pid)
				failures = append(failures, fmt.Sprintf("%d: %v", p.pid, err))
			}
		}
		if !fresh {
			break
		}
	}
	if len(killed) > 0 {
		notes = append(notes, fmt.Sprintf("killed %s left running in process group %d by the interrupted attempt", pids(pidsOf(killed)), pgid))
	}
	if len(escaped) > 0 {
		notes = append(notes, fmt.Sprintf("killed %s left running by the interrupted attempt (found by the attempt's token)", pids(pidsOf(escaped))))
	}
	if still := awaitExit(append(killed, escaped...), deadline); len(still) > 0 {
		notes = append(notes, fmt.Sprintf("%s still running %v after being killed; check them by hand", pids(pidsOf(still)), cleanupWait))
		left = append(left, still...)
	}
	if len(failed) > 0 {
		notes = append(notes, fmt.Sprintf("could not kill %s of the interrupted attempt (%s); stop them by hand", pids(failed), strings.Join(failures, "; ")))
	}
	if len(foreign) > 0 {
		notes = append(notes, fmt.Sprintf("left alone %s in process group %d: they could not be verified as the interrupted attempt's (the group id may have been reused); check them by hand", pids(foreign), pgid))
	}
	if scanErr != nil {
		notes = append(notes, fmt.Sprintf("could not look for processes the interrupted attempt left running (%v); check by hand", scanErr))
	}
	return strings.Join(notes, "; "), scanErr == nil && len(left) == 0 && len(failed) == 0 && len(foreign) == 0
}

// pidsOf lists the processes' ids.
func pidsOf(ps []procInfo) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid
	}
	return out
}

// pids names processes: "process 12" or "processes 12, 15".
func pids(list []int) string {
	sort.Ints(list)
	s := make([]string, len(list))
	for i, p := range list {
		s[i] = strconv.Itoa(p)
	}
	if len(s) == 1 {
		return "process " + s[0]
	}
	return "processes " + strings.Join(s, ", ")
}

// stillSame reports whether the process with p's id is still p (same start, same group) and alive.
func stillSame(p procInfo) bool {
	q, ok := lookupProc(p.pid)
	return ok && !q.zombie && q.start == p.start && q.pgid == p.pgid
}
