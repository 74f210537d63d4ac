package lcs

import (
	"context"
	"sync"
	"time"
)

// window is a sliding-window rate limiter: at most limit events in any span of per, measured on
// the client's clock. LCS documents its quotas this way ("6 calls per project per minute"), so a
// sliding window keeps under them exactly where a token bucket would only approximate.
type window struct {
	mu    sync.Mutex
	limit int
	per   time.Duration
	times []time.Time // start times of the events still inside the window, oldest first
}

func newWindow(limit int, per time.Duration) *window {
	return &window{limit: limit, per: per}
}

// reserve records an event now if the window has room and returns 0; otherwise it returns how
// long to wait before trying again.
func (w *window) reserve(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := 0
	for cut < len(w.times) && !w.times[cut].After(now.Add(-w.per)) {
		cut++
	}
	w.times = w.times[cut:]
	if len(w.times) < w.limit {
		w.times = append(w.times, now)
		return 0
	}
	return w.times[0].Add(w.per).Sub(now)
}

// unreserve drops the newest event recorded at now (used when a second limiter refused).
func (w *window) unreserve(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.times) - 1; i >= 0; i-- {
		if w.times[i].Equal(now) {
			w.times = append(w.times[:i], w.times[i+1:]...)
			return
		}
	}
}

// waitAll waits until every limiter has room at the same moment and records the event in each.
func waitAll(ctx context.Context, clock Clock, ws ...*window) error {
	for {
		now := clock.Now()
		var wait time.Duration
		var took []*window
		for _, w := range ws {
			if d := w.reserve(now); d > 0 {
				wait = max(wait, d)
				break
			}
			took = append(took, w)
		}
		if wait == 0 {
			return nil
		}
		for _, w := range took {
			w.unreserve(now)
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
