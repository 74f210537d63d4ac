// Package clock is the engine's notion of time: the real clock, a scaled clock that runs a demo
// faster than life, and a fake clock that tests move by hand. Everything in the engine that waits
// or measures goes through a Clock, so tests are deterministic.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer.
type Timer interface {
	// C delivers the time when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was still pending.
	Stop() bool
}

// Sleep waits d on c, or until ctx is done (returning its cause).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// SleepUntil waits until the clock reads t, or until ctx is done.
func SleepUntil(ctx context.Context, c Clock, t time.Time) error {
	return Sleep(ctx, c, t.Sub(c.Now()))
}

// WithTimeout is context.WithTimeout measured on c: the context is cancelled with cause once d has
// passed on the clock.
func WithTimeout(ctx context.Context, c Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := c.NewTimer(d)
	stop := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-t.C():
			cancel(cause)
		case <-stop:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
		}
	}()
	return ctx, func() {
		once.Do(func() { close(stop) })
		cancel(context.Canceled)
	}
}

// Real is the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Scaled is a clock that runs speed times faster than the wall clock, starting from the wall
// clock's current time. Demos use it to play hours of cutover in minutes.
type Scaled struct {
	origin time.Time
	start  time.Time
	speed  float64
}

// NewScaled returns a clock running speed times faster than real time (speed ≥ 1).
func NewScaled(speed float64) *Scaled {
	if speed < 1 {
		speed = 1
	}
	now := time.Now()
	return &Scaled{origin: now, start: now, speed: speed}
}

// NewScaledFrom is NewScaled starting at from instead of the wall clock's time: a demo resumed
// after a crash carries on from the simulated time it had reached.
func NewScaledFrom(speed float64, from time.Time) *Scaled {
	s := NewScaled(speed)
	if !from.IsZero() {
		s.origin = from
	}
	return s
}

// Speed is the clock's speed factor.
func (s *Scaled) Speed() float64 { return s.speed }

// Now is the scaled time.
func (s *Scaled) Now() time.Time {
	elapsed := time.Since(s.start)
	return s.origin.Add(time.Duration(float64(elapsed) * s.speed))
}

// NewTimer fires after d of scaled time.
func (s *Scaled) NewTimer(d time.Duration) Timer {
	real := time.Duration(float64(d) / s.speed)
	t := &scaledTimer{c: make(chan time.Time, 1)}
	t.t = time.AfterFunc(real, func() {
		select {
		case t.c <- s.Now():
		default:
		}
	})
	return t
}

type scaledTimer struct {
	t *time.Timer
	c chan time.Time
}

func (t *scaledTimer) C() <-chan time.Time { return t.c }
func (t *scaledTimer) Stop() bool          { return t.t.Stop() }

// Fake is a clock for tests: time moves only when Advance is called, and firing is deterministic.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	waiters []chan struct{}
}

// NewFake returns a fake clock reading t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer registers a timer that fires when the clock is advanced past its deadline. A timer with
// d ≤ 0 fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers = append(f.timers, t)
	f.notifyLocked()
	return t
}

// Advance moves the clock forward by d, firing due timers in deadline order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := f.now.Add(d)
	sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	keep := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(target) {
			f.now = t.at
			select {
			case t.c <- t.at:
			default:
			}
			continue
		}
		keep = append(keep, t)
	}
	f.timers = keep
	f.now = target
	f.notifyLocked()
}

// Pending is the number of timers waiting to fire.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitForTimers blocks until at least n timers are pending (so a test knows the code under test
// has started waiting), or ctx ends.
func (f *Fake) WaitForTimers(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		f.waiters = append(f.waiters, ch)
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *Fake) notifyLocked() {
	for _, w := range f.waiters {
		close(w)
	}
	f.waiters = nil
}

type fakeTimer struct {
	f  *Fake
	at time.Time
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	for i, x := range t.f.timers {
		if x == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			t.f.notifyLocked()
			return true
		}
	}
	return false
}
