//go:build unix

package engine

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// unixGroup is a command's process group.
type unixGroup struct {
	pgid int
	mu   sync.Mutex
	kill *time.Timer
}

// startGroup starts cmd as the leader of a new process group and returns the references to
// journal (process id, group id and, on Linux, what identifies the process across pid reuse).
func startGroup(cmd *exec.Cmd) (procGroup, map[string]string, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	pid := cmd.Process.Pid
	ref := map[string]string{"pid": strconv.Itoa(pid), "pgid": strconv.Itoa(pid)}
	for k, v := range processIdentity(pid) {
		ref[k] = v
	}
	return &unixGroup{pgid: pid}, ref, nil
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

// cleanupGroup kills the process group an interrupted attempt left behind, but only when it is
// provably the same group (same boot, same start time): a recycled process id is never touched.
func cleanupGroup(ref map[string]string) string {
	pgid, err := strconv.Atoi(ref["pgid"])
	if err != nil || pgid <= 1 {
		return ""
	}
	if err := syscall.Kill(-pgid, 0); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return ""
		}
	}
	if !sameProcess(pgid, ref) {
		return fmt.Sprintf("process group %d from the interrupted attempt may still be running and could not be verified as ours; check it by hand", pgid)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return fmt.Sprintf("killed process group %d left running by the interrupted attempt", pgid)
}
