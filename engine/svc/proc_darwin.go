//go:build darwin

package svc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setDeathSignal does nothing: macOS has no parent-death signal, so a command outlives a crash of
// cutover until the next start cleans its group up (CleanupGroup).
func setDeathSignal(*syscall.SysProcAttr) {}

// bootID identifies this boot of the machine ("" if unknown).
func bootID() string {
	s, err := unix.Sysctl("kern.bootsessionuuid")
	if err != nil {
		return ""
	}
	return s
}

// szomb is p_stat of a zombie (sys/proc.h).
const szomb = 5

func fromKinfo(k *unix.KinfoProc) procInfo {
	st := k.Proc.P_starttime
	return procInfo{
		pid:    int(k.Proc.P_pid),
		pgid:   int(k.Eproc.Pgid),
		start:  uint64(st.Sec)*1_000_000 + uint64(st.Usec),
		zombie: k.Proc.P_stat == szomb,
	}
}

// lookupProc asks the kernel (sysctl kern.proc.pid) about one process.
func lookupProc(pid int) (procInfo, bool) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || int(k.Proc.P_pid) != pid {
		return procInfo{}, false
	}
	return fromKinfo(k), true
}

// listGroup returns the processes whose process group is pgid (sysctl kern.proc.pgrp).
func listGroup(pgid int) ([]procInfo, error) {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.pgrp", pgid)
	if err != nil {
		return nil, fmt.Errorf("list process group %d: %w", pgid, err)
	}
	out := make([]procInfo, 0, len(ks))
	for i := range ks {
		out = append(out, fromKinfo(&ks[i]))
	}
	return out, nil
}

// listCandidates returns, from one kern.proc.all listing, the processes in group pgid (when not
// 0) and the live ones that carry the environment entry kv (when not ""; only this user's
// environments can be read).
func listCandidates(pgid int, kv string) ([]procInfo, error) {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []procInfo
	for i := range ks {
		p := fromKinfo(&ks[i])
		if p.pid > 0 && ((pgid > 0 && p.pgid == pgid) || (kv != "" && !p.zombie && hasEnv(p.pid, kv))) {
			out = append(out, p)
		}
	}
	return out, nil
}

// hasEnv reports whether the process started with the environment entry kv ("NAME=value"), read
// from kern.procargs2: argc, the executable path, NUL padding, argc arguments, then the
// environment (followed by the loader's own strings, which an exact match cannot confuse).
func hasEnv(pid int, kv string) bool {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil || len(b) < 4 {
		return false
	}
	argc := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return false
	}
	b = bytes.TrimLeft(b[i:], "\x00")
	for n := 0; n < argc && len(b) > 0; n++ {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	for _, s := range bytes.Split(b, []byte{0}) {
		if string(s) == kv {
			return true
		}
	}
	return false
}

// killProc sends SIGKILL to p after checking that its process id still names it. macOS has no
// pidfds: a process id reused in the instant between the check and the signal would be hit.
func killProc(p procInfo) error {
	if !stillSame(p) {
		return syscall.ESRCH
	}
	return syscall.Kill(p.pid, syscall.SIGKILL)
}

// awaitExit waits until each process has ended, at most until the deadline, looking at the
// process table every few milliseconds, and returns those still running then.
func awaitExit(ps []procInfo, deadline time.Time) []procInfo {
	var left []procInfo
	for _, p := range ps {
		for stillSame(p) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if stillSame(p) {
			left = append(left, p)
		}
	}
	return left
}
