//go:build unix

package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

var errWouldBlock = errors.New("lock held by another process")

func tryLock(f *os.File) error {
	err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errWouldBlock
	}
	return err
}

func unlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// liveFileName is the file the holder keeps locked while it lives (see Lock). flock locks belong
// to an open file, so it cannot be the lock file itself: a second open of that file would
// conflict with the deciding lock.
const liveFileName = LockFileName + ".live"

// openLive opens the live lock file; the holder creates it.
func openLive(dir string, holder bool) (*os.File, error) {
	flag := os.O_RDONLY
	if holder {
		flag |= os.O_CREATE
	}
	return os.OpenFile(filepath.Join(dir, liveFileName), flag, 0o600)
}

// tryHoldLive locks the live lock exclusively if nobody has it (errWouldBlock otherwise).
func tryHoldLive(f *os.File) error { return tryLock(f) }

// probeLive reports whether a holder has the live lock, with a shared lock that is released at
// once.
func probeLive(f *os.File) (bool, error) {
	err := flock(f, unix.LOCK_SH|unix.LOCK_NB)
	switch {
	case err == nil:
		return false, unlockLive(f)
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, nil
	default:
		return false, err
	}
}

func unlockLive(f *os.File) error { return unlock(f) }

// flock is flock(2), retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("flock: %w", err)
			}
			return nil
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
