package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// DefaultQueueLimit is how many must-deliver events may wait for one subscriber before it is cut
// off with a Resync.
const DefaultQueueLimit = 8192

// coalescer is an event that may be merged with an undelivered one of the same key: only the
// newest state matters (progress), or batches can be joined (logs).
type coalescer interface {
	Event
	coalesceKey() string
	merge(older Event) Event
}

// Bus fans events out to subscribers. Publishing never blocks: each subscriber has its own queue and
// pump goroutine, so a slow SSH client cannot stall the engine or anyone else.
type Bus struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	limit  int
	closed bool
	// Overflows counts subscribers cut off for falling behind.
	overflows atomic.Int64
}

// NewBus returns a bus whose subscribers may queue up to limit must-deliver events.
func NewBus(limit int) *Bus {
	if limit <= 0 {
		limit = DefaultQueueLimit
	}
	return &Bus{subs: map[*subscriber]struct{}{}, limit: limit}
}

type subscriber struct {
	mu     sync.Mutex
	queue  []Event
	latest map[string]coalescer
	keys   []string
	notify chan struct{}
	out    chan Event
	dead   bool
}

// Subscribe returns a channel of events that closes when ctx ends, when the bus shuts down, or
// after a Resync when the subscriber fell too far behind.
func (b *Bus) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{latest: map[string]coalescer{}, notify: make(chan struct{}, 1), out: make(chan Event)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.out)
		return s.out
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go b.pump(ctx, s)
	return s.out
}

// Overflows is how many subscribers were cut off for falling behind.
func (b *Bus) Overflows() int64 { return b.overflows.Load() }

// Publish delivers ev to every subscriber. Coalescable events (progress, logs) merge with an
// undelivered one of the same key; everything else must be delivered, in order.
func (b *Bus) Publish(ev Event) {
	b.mu.Lock()
	subs := make([]*subscriber, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		if !s.offer(ev, b.limit) {
			b.overflows.Add(1)
		}
	}
}

// offer queues ev; it reports false when the subscriber had to be cut off.
func (s *subscriber) offer(ev Event, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return true
	}
	ok := true
	if c, isC := ev.(coalescer); isC {
		k := c.coalesceKey()
		if old, had := s.latest[k]; had {
			s.latest[k] = c.merge(old).(coalescer)
		} else {
			s.latest[k] = c
			s.keys = append(s.keys, k)
		}
	} else if len(s.queue) >= limit {
		s.queue = append(s.queue, Resync{})
		s.dead = true
		ok = false
	} else {
		s.queue = append(s.queue, ev)
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return ok
}

// next takes the next event to deliver: queued ones first (in order), then the newest coalesced.
func (s *subscriber) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		ev := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		return ev, true
	}
	if s.dead {
		return nil, false
	}
	if len(s.keys) > 0 {
		k := s.keys[0]
		s.keys = s.keys[1:]
		ev := s.latest[k]
		delete(s.latest, k)
		return ev, true
	}
	return nil, false
}

func (b *Bus) pump(ctx context.Context, s *subscriber) {
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		close(s.out)
	}()
	for {
		ev, ok := s.next()
		if !ok {
			s.mu.Lock()
			dead := s.dead && len(s.queue) == 0
			s.mu.Unlock()
			if dead {
				return
			}
			select {
			case <-s.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		if _, isResync := ev.(Resync); isResync {
			select {
			case s.out <- ev:
			case <-ctx.Done():
			}
			return
		}
		select {
		case s.out <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// Close ends every subscription.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	subs := make([]*subscriber, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.dead = true
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

func (p StepProgress) coalesceKey() string { return "progress/" + p.Step }
func (p StepProgress) merge(Event) Event   { return p }

// maxBatchLines bounds a coalesced log batch; older lines are counted as dropped.
const maxBatchLines = 2000

func (l LogBatch) coalesceKey() string { return "logs" }
func (l LogBatch) merge(older Event) Event {
	o := older.(LogBatch)
	lines := append(append(make([]LogLine, 0, len(o.Lines)+len(l.Lines)), o.Lines...), l.Lines...)
	dropped := o.Dropped + l.Dropped
	if n := len(lines) - maxBatchLines; n > 0 {
		lines, dropped = lines[n:], dropped+n
	}
	return LogBatch{Lines: lines, Dropped: dropped}
}
