//go:build unix

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// special are the mode bits restricting leaves alone (a group-shared directory keeps its setgid).
const special = os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// restrictPath takes away every permission path has beyond perm (it never adds any), so a state
// directory or file that was created looser, by hand or by an older version, becomes private.
// A path this user may not change (someone else's, shared on purpose) is left as it is.
func restrictPath(path string, perm os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return restrict(fi, perm, path, func(m os.FileMode) error { return os.Chmod(path, m) })
}

// restrictFile is restrictPath for an open file.
func restrictFile(f *os.File, perm os.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return restrict(fi, perm, f.Name(), f.Chmod)
}

func restrict(fi os.FileInfo, perm os.FileMode, name string, chmod func(os.FileMode) error) error {
	if fi.Mode().Perm()&^perm == 0 {
		return nil
	}
	err := chmod(fi.Mode()&special | fi.Mode().Perm()&perm)
	switch {
	case err == nil, errors.Is(err, fs.ErrPermission):
		return nil
	}
	return fmt.Errorf("restrict %s to %v: %w", name, perm, err)
}
