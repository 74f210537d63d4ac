package svc

import "time"

// Group is a started command and every process it spawned.
type Group interface {
	// Terminate asks the group to stop and kills it after grace.
	Terminate(grace time.Duration)
	// Kill ends the group at once.
	Kill()
	// Close releases what the group holds.
	Close()
}
