package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func recv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

func TestBusKeepsMustDeliverOrder(t *testing.T) {
	b := NewBus(0)
	ch := b.Subscribe(t.Context())
	for i := 1; i <= 100; i++ {
		b.Publish(StepChanged{Seq: uint64(i)})
	}
	for i := 1; i <= 100; i++ {
		if ev := recv(t, ch).(StepChanged); ev.Seq != uint64(i) {
			t.Fatalf("got %d, want %d", ev.Seq, i)
		}
	}
}

// TestSlowSubscriberNeverBlocksPublisher: nobody reads one subscriber; publishing still returns,
// coalescable events merge, and the subscriber is cut off with a Resync once its queue is full.
func TestSlowSubscriberNeverBlocksPublisher(t *testing.T) {
	b := NewBus(50)
	slow := b.Subscribe(t.Context())
	fast := b.Subscribe(t.Context())
	// The fast subscriber keeps up and sees every step event in order; publishing never waits for
	// the slow one.
	for i := 1; i <= 60; i++ {
		b.Publish(StepChanged{Seq: uint64(i)})
		b.Publish(StepProgress{Step: "drain", Progress: Progress{Percent: float64(i)}})
		for {
			if sc, ok := recv(t, fast).(StepChanged); ok {
				if sc.Seq != uint64(i) {
					t.Fatalf("fast subscriber out of order: %d", sc.Seq)
				}
				break
			}
		}
	}
	if b.Overflows() != 1 {
		t.Fatalf("overflows %d, want the slow subscriber cut off once", b.Overflows())
	}
	// The slow one gets what fitted, then Resync, then the channel closes.
	var got []Event
	for ev := range slow {
		got = append(got, ev)
	}
	if _, ok := got[len(got)-1].(Resync); !ok {
		t.Fatalf("last event %T, want Resync", got[len(got)-1])
	}
	steps := 0
	for _, ev := range got {
		if _, ok := ev.(StepChanged); ok {
			steps++
		}
	}
	// 50 queued, plus possibly one the pump already held.
	if steps != 50 && steps != 51 {
		t.Fatalf("slow subscriber got %d step events before Resync, want the 50 that fitted", steps)
	}
}

func TestCoalescing(t *testing.T) {
	b := NewBus(0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := b.Subscribe(ctx)
	// Fill the pump's hand-off so later events wait in the queue and coalesce.
	b.Publish(StepChanged{Seq: 1})
	for i := 0; i < 10; i++ {
		b.Publish(StepProgress{Step: "drain", Progress: Progress{Percent: float64(i * 10)}})
	}
	for i := 0; i < maxBatchLines+5; i++ {
		b.Publish(LogBatch{Lines: []LogLine{{Seq: uint64(i + 1), Msg: fmt.Sprint(i)}}})
	}
	if _, ok := recv(t, ch).(StepChanged); !ok {
		t.Fatal("first event must be the step change")
	}
	var progress []float64
	var lines, dropped int
	for len(progress) == 0 || lines+dropped < maxBatchLines+5 {
		switch ev := recv(t, ch).(type) {
		case StepProgress:
			progress = append(progress, ev.Progress.Percent)
		case LogBatch:
			lines += len(ev.Lines)
			dropped += ev.Dropped
			if len(ev.Lines) > maxBatchLines {
				t.Fatalf("a batch of %d lines exceeds the cap", len(ev.Lines))
			}
		}
	}
	if progress[len(progress)-1] != 90 || len(progress) > 2 {
		t.Fatalf("progress delivered %v: only the newest should survive", progress)
	}
	if lines+dropped != maxBatchLines+5 {
		t.Fatalf("lines %d dropped %d", lines, dropped)
	}
}

func TestBusCloseEndsSubscriptions(t *testing.T) {
	b := NewBus(0)
	ch := b.Subscribe(context.Background())
	b.Close()
	for range ch {
	}
	if late := b.Subscribe(context.Background()); late != nil {
		if _, ok := <-late; ok {
			t.Fatal("subscribing to a closed bus must give a closed channel")
		}
	}
}
