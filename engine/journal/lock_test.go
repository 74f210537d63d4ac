package journal

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOpenMakesLooseStatePrivate: a state directory, journal and lock file left readable by others
// (created by hand, restored from a backup, an older version) are made private on open.
func TestOpenMakesLooseStatePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows access is governed by ACLs, not permission bits")
	}
	dir := filepath.Join(t.TempDir(), "state")
	j, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 2)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	loose := map[string]os.FileMode{dir: 0o755 | os.ModeSetgid, filepath.Join(dir, FileName): 0o644, filepath.Join(dir, LockFileName): 0o666}
	for path, mode := range loose {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	j, rep, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(rep.Records) != 2 {
		t.Fatalf("%d records after reopening", len(rep.Records))
	}
	want := map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600, filepath.Join(dir, LockFileName): 0o600}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	// A group-shared directory keeps its setgid bit.
	if fi, err := os.Stat(dir); err != nil || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("the state directory lost its setgid bit: %v %v", fi.Mode(), err)
	}
}

// TestReadHolderNeverRefusesAStart: looking at the lock while engines start and stop never makes
// one of them be refused, and never misnames the holder.
func TestReadHolderNeverRefusesAStart(t *testing.T) {
	dir := t.TempDir()
	const starts = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	var probeErr error
	probes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			info, held, err := ReadHolder(dir)
			if err != nil {
				probeErr = err
				return
			}
			if held && info != nil && info.PID != os.Getpid() {
				probeErr = errors.New("ReadHolder named another process")
				return
			}
			probes++
		}
	}()
	for i := 0; i < starts; i++ {
		l, _, err := Acquire(dir, "cutover run")
		if err != nil {
			close(done)
			wg.Wait()
			t.Fatalf("start %d (after %d looks) was refused: %v", i, probes, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	if probes == 0 {
		t.Fatal("ReadHolder never ran")
	}
}

// lookAtReleased opens, for a look, the live lock of a state directory an engine held and
// released.
func lookAtReleased(t *testing.T, dir string) *os.File {
	t.Helper()
	l, _, err := Acquire(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	look, err := openLive(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { look.Close() })
	return look
}

// TestAStartWaitsOutALook: a look that has the live lock (frozen in the middle of ReadHolder)
// delays a start; it does not refuse it, and the holder is named once it holds.
func TestAStartWaitsOutALook(t *testing.T) {
	dir := t.TempDir()
	look := lookAtReleased(t, dir)
	if held, err := probeLive(look); err != nil || held {
		t.Fatalf("released lock: held %v, %v", held, err)
	}
	if err := lockShared(look); err != nil {
		t.Fatal(err)
	}
	type result struct {
		l   *Lock
		err error
	}
	got := make(chan result, 1)
	refused := make(chan struct{})
	var once sync.Once
	liveRefused = func() { once.Do(func() { close(refused) }) }
	t.Cleanup(func() { liveRefused = func() {} })
	go func() {
		l, _, err := Acquire(dir, "second")
		got <- result{l, err}
	}()
	// The start found the look's lock in its way; the look ends, and the start goes on.
	<-refused
	if err := unlockLive(look); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("a start was refused because of a look: %v", r.err)
	}
	defer r.l.Release()
	info, held, err := ReadHolder(dir)
	if err != nil || !held || info == nil || info.Command != "second" || info.PID != os.Getpid() {
		t.Fatalf("ReadHolder: %+v held %v, %v", info, held, err)
	}
	if err := r.l.Release(); err != nil {
		t.Fatal(err)
	}
	if info, held, err := ReadHolder(dir); err != nil || held || info != nil {
		t.Fatalf("after release: %+v held %v, %v", info, held, err)
	}
}

// TestAFrozenLookDoesNotHoldAStartForEver: a look frozen with the live lock (a stopped process)
// makes a start fail after a bounded wait, naming why, and leaves the directory free to take once
// the look ends.
func TestAFrozenLookDoesNotHoldAStartForEver(t *testing.T) {
	defer func(d time.Duration) { liveWait = d }(liveWait)
	liveWait = 50 * time.Millisecond
	dir := t.TempDir()
	look := lookAtReleased(t, dir)
	if err := lockShared(look); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Acquire(dir, "second"); err == nil || !strings.Contains(err.Error(), "reading the lock") {
		t.Fatalf("a start behind a frozen look: %v", err)
	}
	if err := unlockLive(look); err != nil {
		t.Fatal(err)
	}
	l, _, err := Acquire(dir, "third")
	if err != nil {
		t.Fatalf("after the look: %v", err)
	}
	l.Release()
}

// TestOpenUnderTheCallersLock: a command that takes the lock first (LockDir) is refused before it
// writes anything while another holds the directory; the journal opened under its lock reports
// the dead holder it was taken over from, keeps others out, and leaves releasing it to the
// caller; a lock of another directory, or one already released, is refused.
func TestOpenUnderTheCallersLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A holder that died: its details are in the lock file, nobody holds the OS lock.
	dead := `{"host":"jump01","pid":4242,"command":"cutover demo","since":"2025-01-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, LockFileName), []byte(dead), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := LockDir(dir, "cutover demo")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := LockDir(dir, "second"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "cutover demo") {
		t.Fatalf("a second LockDir while the first holds: %v", err)
	}
	j, rep, err := Open(dir, Options{NoSync: true, Lock: l})
	if err != nil {
		t.Fatal(err)
	}
	if rep.StaleLock == nil || rep.StaleLock.PID != 4242 {
		t.Fatalf("the dead holder must be reported: %+v", rep.StaleLock)
	}
	appendN(t, j, 1)
	if _, _, err := Open(dir, Options{NoSync: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("another open while the journal is open: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the journal leaves the caller's lock held …
	if _, _, err := Open(dir, Options{NoSync: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("open after the journal closed, the caller still holding the lock: %v", err)
	}
	// … and a lock given for another directory is refused, also when its directory holds a journal.
	other := filepath.Join(t.TempDir(), "other")
	if _, _, err := Open(other, Options{NoSync: true, Lock: l}); err == nil || !strings.Contains(err.Error(), "the lock given is") {
		t.Fatalf("open of %s under %s's lock: %v", other, dir, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	if _, _, err := Open(dir, Options{NoSync: true, Lock: l}); err == nil || !strings.Contains(err.Error(), "already released") {
		t.Fatalf("open under a released lock: %v", err)
	}
	j, rep, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("open once the caller released the lock: %v", err)
	}
	defer j.Close()
	if len(rep.Records) != 1 || rep.StaleLock != nil {
		t.Fatalf("reopened: %d records, stale %+v", len(rep.Records), rep.StaleLock)
	}
}
