package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := NewFake(t0)
	late, early := f.NewTimer(2*time.Minute), f.NewTimer(time.Minute)
	f.Advance(90 * time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(t0.Add(time.Minute)) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("early timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("late timer fired early")
	default:
	}
	if !late.Stop() || f.Pending() != 0 {
		t.Fatal("stop")
	}
	if !f.Now().Equal(t0.Add(90 * time.Second)) {
		t.Fatal("now")
	}
}

func TestWaitForTimersAndSleep(t *testing.T) {
	f := NewFake(t0)
	done := make(chan error)
	go func() { done <- Sleep(context.Background(), f, time.Hour) }()
	if err := f.WaitForTimers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Hour)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("operator aborted")
	cancel(cause)
	if err := Sleep(ctx, f, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("Sleep on a cancelled context: %v", err)
	}
}

func TestWithTimeoutCause(t *testing.T) {
	f := NewFake(t0)
	cause := errors.New("timed out after 1m")
	ctx, cancel := WithTimeout(context.Background(), f, time.Minute, cause)
	defer cancel()
	f.Advance(59 * time.Second)
	if ctx.Err() != nil {
		t.Fatal("cancelled early")
	}
	f.Advance(time.Second)
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), cause) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
}

func TestScaled(t *testing.T) {
	s := NewScaled(3600) // an hour per second
	start := s.Now()
	tm := s.NewTimer(30 * time.Minute) // half a real second
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("scaled timer did not fire")
	}
	if s.Now().Sub(start) < 30*time.Minute {
		t.Fatalf("scaled time advanced only %v", s.Now().Sub(start))
	}
}

func TestScaledFrom(t *testing.T) {
	from := time.Now().Add(5 * time.Hour)
	s := NewScaledFrom(60, from)
	if now := s.Now(); now.Before(from) || now.Sub(from) > time.Hour {
		t.Fatalf("a clock resumed at %v reads %v", from, now)
	}
	if z := NewScaledFrom(60, time.Time{}); time.Until(z.Now()).Abs() > time.Minute {
		t.Fatal("a zero start is the wall clock's time")
	}
}
