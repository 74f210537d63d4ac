//go:build unix

package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockShared takes the shared lock ReadHolder takes for a moment, and keeps it.
func lockShared(f *os.File) error { return flock(f, unix.LOCK_SH|unix.LOCK_NB) }
