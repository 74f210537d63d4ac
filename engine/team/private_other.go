//go:build !unix

package team

import (
	"errors"
	"fmt"
	"os"
)

// CheckPrivate refuses a file of secrets or access policy that others could read or change. Only
// on Unix systems is the mode checked (as OpenSSH's StrictModes does); on Windows access is
// governed by ACLs, which this check does not read: it only makes sure the file exists.
func CheckPrivate(path, what string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ErrNotPrivate is the error CheckPrivate wraps.
var ErrNotPrivate = errors.New("not private to this user")
