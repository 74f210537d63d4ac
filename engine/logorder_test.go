package engine

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestLogBatchesArriveInSequence: lines logged at once from several goroutines reach a
// subscriber in the order of their sequence numbers. Front ends keep a line only when its number
// is above the newest they have (the first read and the first batch overlap), so a batch that
// overtook an older one made them drop that line for good.
func TestLogBatchesArriveInSequence(t *testing.T) {
	bus := NewBus(0)
	lb := newLogBook(100000, time.Now)
	lb.publish = func(b LogBatch) { bus.Publish(b) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := bus.Subscribe(ctx)
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				lb.add(LevelInfo, "", "", "line")
			}
		}()
	}
	var last uint64
	got := 0
	for got < writers*each {
		ev := <-events
		b, ok := ev.(LogBatch)
		if !ok {
			continue
		}
		got += b.Dropped // lines a slow subscriber missed (counted, never reordered)
		for _, l := range b.Lines {
			if l.Seq <= last {
				t.Fatalf("line %d arrived after line %d", l.Seq, last)
			}
			last = l.Seq
			got++
		}
	}
	wg.Wait()
}
