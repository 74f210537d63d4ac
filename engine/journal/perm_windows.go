//go:build windows

package journal

import "os"

// restrictPath does nothing on Windows: access is governed by the ACL the directory inherits, and
// the permission bits Go maps onto Windows only toggle the read-only attribute.
func restrictPath(string, os.FileMode) error { return nil }

// restrictFile does nothing on Windows (see restrictPath).
func restrictFile(*os.File, os.FileMode) error { return nil }
