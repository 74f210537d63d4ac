//go:build unix

package journal

import (
	"fmt"
	"os"
)

// restrictPath takes away every permission path has beyond perm (it never adds any), so a state
// directory or file that was created looser, by hand or by an older version, becomes private.
func restrictPath(path string, perm os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&^perm == 0 {
		return nil
	}
	if err := os.Chmod(path, fi.Mode().Perm()&perm); err != nil {
		return fmt.Errorf("restrict %s to %v: %w", path, perm, err)
	}
	return nil
}

// restrictFile is restrictPath for an open file.
func restrictFile(f *os.File, perm os.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&^perm == 0 {
		return nil
	}
	if err := f.Chmod(fi.Mode().Perm() & perm); err != nil {
		return fmt.Errorf("restrict %s to %v: %w", f.Name(), perm, err)
	}
	return nil
}
