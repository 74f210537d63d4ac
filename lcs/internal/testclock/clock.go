// Package testclock is a fake clock for the lcs tests: time moves only when a test advances it
// or when code under test sleeps on it (a sleep advances the clock by its duration at once, and
// is recorded), so hours of polling, Retry-After waits and back-off run in microseconds.
package testclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock satisfying lcs.Clock and sim.Clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func(d time.Duration)
}

// New returns a clock reading t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d, calls the OnSleep hook, then advances the clock by d; it returns the
// context's error if ctx is done (before or after the hook).
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleeps are the durations slept so far.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// ResetSleeps forgets the recorded sleeps.
func (c *Clock) ResetSleeps() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = nil
}

// OnSleep sets a hook called at the start of every Sleep (nil to remove).
func (c *Clock) OnSleep(f func(d time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = f
}
