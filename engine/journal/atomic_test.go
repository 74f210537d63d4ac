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
