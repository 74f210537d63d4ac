//go:build unix

package team

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckPrivate refuses a file of secrets or access policy (what names it: "team file",
// "password_file") that others could read or change, as OpenSSH's StrictModes refuses an
// authorized_keys file: group or others may read or write it, it belongs to someone other than
// this user or root, or its folder may be written by others (who could put another file in its
// place; a sticky folder such as /tmp is fine). The error names the file, its mode and the fix.
func CheckPrivate(path, what string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	mode := info.Mode().Perm()
	switch {
	case mode&0o022 != 0:
		return fmt.Errorf("%s %s has mode %04o: others can change it%s; fix it with: chmod 600 %s: %w", what, path, mode, whatFollows(what), path, ErrNotPrivate)
	case mode&0o044 != 0:
		return fmt.Errorf("%s %s has mode %04o: others can read it; fix it with: chmod 600 %s: %w", what, path, mode, path, ErrNotPrivate)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(st.Uid) != uid && st.Uid != 0 {
			return fmt.Errorf("%s %s belongs to uid %d, not to you (uid %d) or root: its owner can change it; fix it with: chown %d %s: %w", what, path, st.Uid, uid, uid, path, ErrNotPrivate)
		}
	}
	dir := filepath.Dir(path)
	if d, err := os.Stat(dir); err == nil && d.Mode().Perm()&0o022 != 0 && d.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%s %s is in the folder %s of mode %04o: others can put another file in its place; fix it with: chmod go-w %s: %w", what, path, dir, d.Mode().Perm(), dir, ErrNotPrivate)
	}
	return nil
}

func whatFollows(what string) string {
	if what == "team file" {
		return " (and make themselves an operator)"
	}
	return ""
}

// ErrNotPrivate is the error CheckPrivate wraps.
var ErrNotPrivate = errors.New("not private to this user")
