package lcs

import (
	"context"
	"time"
)

// Clock is the client's notion of time. Every wait the client makes (rate limits, Retry-After,
// back-off, status polling) and every expiry decision (token refresh, the 24-hour quota window)
// goes through it, so tests can run hours of polling without sleeping.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Sleep waits d, or until ctx is done; it returns the context's error in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
