//go:build unix && !linux && !darwin

package svc

import (
	"errors"
	"syscall"
	"time"
)

// errNoProcessTable says this system gives cutover no way to list a process group.
var errNoProcessTable = errors.New("this system offers no process table cutover can read")

func setDeathSignal(*syscall.SysProcAttr) {}

func bootID() string { return "" }

func lookupProc(int) (procInfo, bool) { return procInfo{}, false }

// listGroup cannot look inside a group here, so CleanupGroup kills nothing and warns instead.
func listGroup(int) ([]procInfo, error) { return nil, errNoProcessTable }

func hasEnv(int, string) bool { return false }

// listCandidates cannot search the process table here either.
func listCandidates(int, string) ([]procInfo, error) { return nil, errNoProcessTable }

func killProc(procInfo) error { return errNoProcessTable }

// awaitExit cannot tell here; killProc never succeeds, so it is never asked.
func awaitExit(ps []procInfo, _ time.Time) []procInfo { return ps }
