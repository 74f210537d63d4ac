//go:build windows

package svc

import (
	"errors"
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

// GroupRef has nothing to journal before a start here: the job object ends the whole tree when
// cutover dies, so nothing has to be found afterwards.
func GroupRef() (map[string]string, error) { return nil, nil }

// StartGroup starts cmd suspended, puts it in a new kill-on-close job object and only then lets
// it run, so nothing it starts can escape the job. A process that cannot be put in the job is
// killed before it runs a single instruction, and the start fails.
func StartGroup(cmd *exec.Cmd, _ map[string]string) (Group, map[string]string, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_SUSPENDED}
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
	pid := uint32(cmd.Process.Pid)
	if err := assignToJob(job, pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		windows.CloseHandle(job)
		return nil, nil, err
	}
	if err := resumeProcess(pid); err != nil {
		// Still suspended (or partly resumed) inside the job: ending the job ends it.
		_ = windows.TerminateJobObject(job, 1)
		_ = cmd.Wait()
		windows.CloseHandle(job)
		return nil, nil, err
	}
	return &winGroup{job: job}, map[string]string{"pid": strconv.Itoa(cmd.Process.Pid)}, nil
}

// assignToJob puts the (suspended) process in the job.
func assignToJob(job windows.Handle, pid uint32) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		return fmt.Errorf("open process %d to put it in its job object: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("put process %d in its job object: %w", pid, err)
	}
	return nil
}

// resumeProcess resumes the threads of a process created suspended. os/exec closes the handle of
// the main thread it gets from CreateProcess, so the threads are found with a snapshot (a process
// that has not run yet has only its main thread).
func resumeProcess(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("resume process %d: thread snapshot: %w", pid, err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, oerr := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if oerr != nil {
			return fmt.Errorf("resume process %d: open thread %d: %w", pid, te.ThreadID, oerr)
		}
		_, rerr := windows.ResumeThread(th)
		windows.CloseHandle(th)
		if rerr != nil {
			return fmt.Errorf("resume process %d: thread %d: %w", pid, te.ThreadID, rerr)
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fmt.Errorf("resume process %d: list threads: %w", pid, err)
	}
	if resumed == 0 {
		return fmt.Errorf("resume process %d: it has no thread to resume", pid)
	}
	return nil
}

// Terminate ends the job at once: console programs in their own group get no gentle signal that
// can be sent portably.
func (g *winGroup) Terminate(time.Duration) { g.Kill() }

func (g *winGroup) Kill() { _ = windows.TerminateJobObject(g.job, 1) }

func (g *winGroup) Close() {
	g.once.Do(func() { windows.CloseHandle(g.job) })
}

// CleanupGroup has nothing to do on Windows: the job object died with the previous process.
func CleanupGroup(map[string]string) (string, bool) { return "", true }
