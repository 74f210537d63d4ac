package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFileName is the lock's name inside the state directory.
const LockFileName = "lock"

// LockInfo says who holds (or held) a state directory.
type LockInfo struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command,omitempty"`
	Since   time.Time `json:"since"`
}

func (i LockInfo) String() string {
	cmd := i.Command
	if cmd == "" {
		cmd = "cutover"
	}
	return fmt.Sprintf("%s (pid %d on host %s, since %s)", cmd, i.PID, i.Host, i.Since.Local().Format("2006-01-02 15:04:05"))
}

// LockedError says another live process holds the state directory.
type LockedError struct {
	Dir    string
	Holder *LockInfo
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("state directory %s is in use by another cutover process (its lock file %s names no holder)", e.Dir, filepath.Join(e.Dir, LockFileName))
	}
	return fmt.Sprintf("state directory %s is in use by %s; only one engine may run on a state directory — join that cockpit instead, or stop it first", e.Dir, e.Holder)
}

// ErrLocked matches a *LockedError with errors.Is.
var ErrLocked = errors.New("state directory locked")

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held state-directory lock. The operating system releases it when the process dies, so a
// crash never leaves a lock that blocks the next start; the file keeps the last holder's details.
//
// It is two locks. The lock file's exclusive lock decides who holds the directory; only Acquire
// ever tries it. The holder then also locks a second, "live" lock exclusively for as long as it
// holds the directory, and ReadHolder tests that one with a shared lock: looking can make a
// starting engine wait the moment the test takes, never refuse it.
type Lock struct {
	f    *os.File
	live *os.File
	// dir is the state directory it locks; stale the previous holder it was taken over from
	// (nil when there was none), for the journal opened under it to report.
	dir   string
	stale *LockInfo
}

// LockDir creates the state directory if needed (0700, as Open does) and takes its lock, for a
// command that writes into the directory before it opens the journal: taking the lock first, it
// is refused (a *LockedError naming the holder) before it has changed anything. The journal is
// then opened with Options.Lock; the caller releases the lock when it is done.
func LockDir(dir, command string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if err := restrictPath(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict state directory: %w", err)
	}
	l, _, err := Acquire(dir, command)
	return l, err
}

// Acquire takes the state directory's lock. When a previous holder died without releasing it, the
// lock is taken over and its details are returned as stale. The lock file is made private to its
// owner (0600) if it was not.
func Acquire(dir, command string) (*Lock, *LockInfo, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		holder := readInfo(f)
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, nil, &LockedError{Dir: dir, Holder: holder}
		}
		return nil, nil, fmt.Errorf("lock state directory: %w", err)
	}
	fail := func(err error) (*Lock, *LockInfo, error) {
		_ = unlock(f)
		_ = f.Close()
		return nil, nil, err
	}
	if err := restrictFile(f, 0o600); err != nil {
		return fail(fmt.Errorf("restrict lock file: %w", err))
	}
	stale := readInfo(f)
	host, _ := os.Hostname()
	info := LockInfo{Host: host, PID: os.Getpid(), Command: command, Since: time.Now().UTC()}
	b, _ := json.Marshal(info)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			return fail(fmt.Errorf("write lock file: %w", err))
		}
	}
	// The details are written before the live lock is taken: whoever sees it held can read them.
	live, err := openLive(dir, true)
	if err != nil {
		return fail(fmt.Errorf("open live lock: %w", err))
	}
	if err := holdLive(live); err != nil {
		_ = live.Close()
		return fail(fmt.Errorf("take live lock: %w", err))
	}
	return &Lock{f: f, live: live, dir: dir, stale: stale}, stale, nil
}

// liveWait bounds how long taking the live lock waits out readers (ReadHolder's shared locks last
// an instant; a reader frozen mid-look must not hold a start up for ever). A variable for tests.
var liveWait = 5 * time.Second

// liveRefused is called each time holdLive finds the live lock taken (a test seam).
var liveRefused = func() {}

// holdLive takes the live lock, waiting out ReadHolder's momentary shared locks for at most
// liveWait.
func holdLive(f *os.File) error {
	deadline := time.Now().Add(liveWait)
	for {
		err := tryHoldLive(f)
		if !errors.Is(err, errWouldBlock) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a process reading the lock (cutover status?) has held it for %s; try again", liveWait)
		}
		liveRefused()
		time.Sleep(2 * time.Millisecond) // a reader's look takes microseconds
	}
}

// Release clears the holder's details and releases the lock. Releasing it again does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var errs []error
	if l.live != nil {
		errs = append(errs, unlockLive(l.live), l.live.Close())
		l.live = nil
	}
	_ = l.f.Truncate(0)
	errs = append(errs, unlock(l.f), l.f.Close())
	l.f = nil
	return errors.Join(errs...)
}

func readInfo(f *os.File) *LockInfo {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	var info LockInfo
	if json.Unmarshal(b, &info) != nil {
		return nil
	}
	return &info
}

// ReadHolder returns the details in a state directory's lock file and whether a live process holds
// it now. It never takes the lock that decides who holds the directory, so an engine starting at
// the same moment is neither refused nor misnamed: it tests the holder's live lock with a shared,
// non-blocking lock, released at once.
func ReadHolder(dir string) (*LockInfo, bool, error) {
	f, err := os.Open(filepath.Join(dir, LockFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	live, err := openLive(dir, false)
	if errors.Is(err, os.ErrNotExist) {
		return readInfo(f), false, nil // never held by this version of cutover
	}
	if err != nil {
		return nil, false, fmt.Errorf("open live lock: %w", err)
	}
	defer live.Close()
	held, err := probeLive(live)
	if err != nil {
		return nil, false, fmt.Errorf("test live lock: %w", err)
	}
	return readInfo(f), held, nil
}

// holds checks that the lock is held, and held on dir (a lock taken on another directory would
// let two engines share this one).
func (l *Lock) holds(dir string) error {
	if l.f == nil {
		return fmt.Errorf("state directory %s: the lock given was already released", dir)
	}
	if l.dir == dir {
		return nil
	}
	a, errA := os.Stat(l.dir)
	b, errB := os.Stat(dir)
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		return fmt.Errorf("state directory %s: the lock given is %s's", dir, l.dir)
	}
	return nil
}
