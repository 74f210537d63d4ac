//go:build windows

package engine

import (
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// winGroup is a job object holding the command and everything it starts. The job is created with
// kill-on-close, so if cutover dies the operating system ends the whole tree.
type winGroup struct {
	job  windows.Handle
	once sync.Once
}

func startGroup(cmd *exec.Cmd) (procGroup, map[string]string, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return nil, nil, fmt.Errorf("configure job object: %w", err)
	}
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return nil, nil, err
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err == nil {
		_ = windows.AssignProcessToJobObject(job, h)
		windows.CloseHandle(h)
	}
	return &winGroup{job: job}, map[string]string{"pid": strconv.Itoa(cmd.Process.Pid)}, nil
}

// Terminate ends the job at once: console programs in their own group get no gentle signal that
// can be sent portably.
func (g *winGroup) Terminate(time.Duration) { g.Kill() }

func (g *winGroup) Kill() { _ = windows.TerminateJobObject(g.job, 1) }

func (g *winGroup) Close() {
	g.once.Do(func() { windows.CloseHandle(g.job) })
}

// cleanupGroup has nothing to do on Windows: the job object died with the previous process.
func cleanupGroup(map[string]string) string { return "" }
