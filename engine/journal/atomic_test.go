package journal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteAtomicNeverLeavesAPart: a write that fails half way (as on a full disk) leaves the old
// file as it was and no temporary file behind; one that succeeds replaces it whole, private.
func TestWriteAtomicNeverLeavesAPart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "validation.csv")
	if err := WriteFileAtomic(path, []byte("old,whole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(path, 0o600, func(w io.Writer) error {
		if _, err := io.WriteString(w, strings.Repeat("new,partial\n", 10000)); err != nil {
			return err
		}
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v: want ENOSPC naming the file", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old,whole\n" {
		t.Fatalf("the old file changed: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := WriteFileAtomic(path, []byte("new,whole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode().Perm(), err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new,whole\n" {
		t.Fatalf("not replaced: %q", got)
	}
}

// TestWriteAtomicOnARealFullDisk: the kernel's own ENOSPC (writes to /dev/full fail with it), met
// when the buffered content is flushed, fails the write with the file's name and the reason,
// leaves the old file whole and no temporary file behind.
func TestWriteAtomicOnARealFullDisk(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to fill up (%v): the simulated full disk above still runs", err)
	}
	defer full.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "validation.json")
	if err := WriteFileAtomic(path, []byte(`{"old":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = stage(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, strings.Repeat(`{"table":"CUSTTRANS"}`, 100))
		return err
	}, func(*os.File) io.Writer { return full })
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("error %v: want the kernel's ENOSPC naming the file", err)
	}
	if got, _ := os.ReadFile(path); string(got) != `{"old":true}` {
		t.Fatalf("the old file changed: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

// TestStagedFilesCommitAllOrNone: staged files are invisible until committed; a discarded one
// leaves nothing; a staged file commits once.
func TestStagedFilesCommitAllOrNone(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.json")
	sa, err := Stage(a, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, "a\n"); return err })
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Stage(b, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, "{}\n"); return err })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a staged file is visible before its commit: %v", err)
	}
	sb.Discard()
	if err := sa.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := sa.Commit(); err == nil {
		t.Error("a second commit must be an error")
	}
	sa.Discard() // nothing after a commit
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a.csv" {
		t.Fatalf("directory holds %v, want a.csv alone", entries)
	}
	if got, _ := os.ReadFile(a); string(got) != "a\n" {
		t.Fatalf("a.csv = %q", got)
	}
	// A rename that fails (the path is a directory) leaves the path and no temporary file.
	if err := os.Mkdir(b, 0o700); err != nil {
		t.Fatal(err)
	}
	sb, err = Stage(b, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, "{}\n"); return err })
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Commit(); err == nil || !strings.Contains(err.Error(), b) {
		t.Fatalf("commit over a directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
}
