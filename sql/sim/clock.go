package sim

import (
	"sync"
	"time"
)

// Clock tells the simulated world what time it is. The world never sleeps
// and never starts goroutines: it computes its state lazily from Now() on
// every request, so any clock works — the wall clock, a scaled clock for
// the demo, or a fake clock a test moves by hand. Now must never go
// backwards; if it does, the world treats the time as unchanged.
type Clock interface {
	Now() time.Time
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// WallClock returns a Clock reading the real time.
func WallClock() Clock { return wallClock{} }

// ScaledClock runs Factor times faster than the wall clock from the moment
// it was made (Factor 60: one real second is one simulated minute). It is
// safe for concurrent use. Speed changes keep the simulated time
// continuous.
type ScaledClock struct {
	mu       sync.Mutex
	realBase time.Time
	simBase  time.Time
	factor   float64
	now      func() time.Time
}

// NewScaledClock returns a clock that starts at the current wall time and
// runs factor times faster (factor <= 0 means 1).
func NewScaledClock(factor float64) *ScaledClock {
	if factor <= 0 {
		factor = 1
	}
	t := time.Now()
	return &ScaledClock{realBase: t, simBase: t, factor: factor, now: time.Now}
}

// Now returns the simulated time.
func (c *ScaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *ScaledClock) nowLocked() time.Time {
	elapsed := c.now().Sub(c.realBase)
	return c.simBase.Add(time.Duration(float64(elapsed) * c.factor))
}

// SetFactor changes the speed from now on (factor <= 0 means 1).
func (c *ScaledClock) SetFactor(factor float64) {
	if factor <= 0 {
		factor = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.simBase = c.nowLocked()
	c.realBase = c.now()
	c.factor = factor
}

// Factor returns the current speed.
func (c *ScaledClock) Factor() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.factor
}

// Skip jumps the simulated time forward by d (d <= 0 does nothing).
func (c *ScaledClock) Skip(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.simBase = c.simBase.Add(d)
}
