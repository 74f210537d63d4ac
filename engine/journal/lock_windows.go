//go:build windows

package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

var errWouldBlock = errors.New("lock held by another process")

// The lock covers one byte far beyond the file's content, so other processes can still read the
// holder's details (Windows forbids reading locked ranges).
const lockOffset = 1 << 30

func tryLock(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err == nil {
		return nil
	}
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return errWouldBlock
	}
	return fmt.Errorf("LockFileEx: %w", err)
}

func unlock(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffset}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}

// liveOffset is the byte the holder keeps locked while it lives (see Lock), next to the one that
// decides who holds the directory. Byte-range locks belong to a handle, so the live lock is taken
// through a second handle on the lock file.
const liveOffset = lockOffset + 1

// openLive opens a second handle on the lock file (which the holder has already created).
func openLive(dir string, _ bool) (*os.File, error) {
	return os.Open(filepath.Join(dir, LockFileName))
}

// tryHoldLive locks the live byte exclusively if nobody has it (errWouldBlock otherwise).
func tryHoldLive(f *os.File) error {
	ol := &windows.Overlapped{Offset: liveOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING):
		return errWouldBlock
	}
	return fmt.Errorf("LockFileEx: %w", err)
}

// probeLive reports whether a holder has the live byte, with a shared lock that is released at
// once.
func probeLive(f *os.File) (bool, error) {
	ol := &windows.Overlapped{Offset: liveOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	switch {
	case err == nil:
		return false, unlockLive(f)
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING):
		return true, nil
	default:
		return false, fmt.Errorf("LockFileEx: %w", err)
	}
}

func unlockLive(f *os.File) error {
	ol := &windows.Overlapped{Offset: liveOffset}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}

func syncDir(string) error { return nil }
