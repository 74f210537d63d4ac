//go:build windows

package journal

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockShared takes the shared lock ReadHolder takes for a moment, and keeps it.
func lockShared(f *os.File) error {
	ol := &windows.Overlapped{Offset: liveOffset}
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}
