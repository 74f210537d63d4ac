//go:build unix && !linux

package engine

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}

func processIdentity(int) map[string]string { return nil }

// sameProcess cannot be proven without /proc, so nothing is killed.
func sameProcess(int, map[string]string) bool { return false }
