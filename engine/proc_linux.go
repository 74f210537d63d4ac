//go:build linux

package engine

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setDeathSignal makes the kernel kill the command if cutover dies (its group is cleaned up on
// the next start).
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// processIdentity returns what tells this process apart from a later one with the same pid.
func processIdentity(pid int) map[string]string {
	out := map[string]string{}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		out["boot"] = strings.TrimSpace(string(b))
	}
	if st := startTime(pid); st != "" {
		out["start"] = st
	}
	return out
}

func sameProcess(pid int, ref map[string]string) bool {
	id := processIdentity(pid)
	return ref["boot"] != "" && ref["start"] != "" && id["boot"] == ref["boot"] && id["start"] == ref["start"]
}

// startTime is field 22 of /proc/PID/stat (start time in clock ticks since boot).
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}
