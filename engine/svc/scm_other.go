//go:build !windows

package svc

import "errors"

// NewSCMServices is only available on Windows.
func NewSCMServices() (Controller, error) {
	return nil, errors.New("aos control scm uses the Windows service control manager and needs cutover to run on Windows; use control: command (sc.exe, PowerShell or ssh templates) here")
}
