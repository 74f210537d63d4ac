// Execution: running an attempt's code in its goroutine, its timeout, its end and retries.

package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// startLocked journals the start of an attempt and launches its runner.
func (e *Engine) startLocked(st *stepRT, attempt int) bool {
	runner, ok := st.def.Spec.(Runner)
	if !ok {
		return false
	}
	if _, err := e.commitLocked(RecStarted, st.def.ID, Started{Attempt: attempt, Action: e.describe(st.def, attempt)}); err != nil {
		return false
	}
	e.launchLocked(st, runner, false)
	return true
}

// launchLocked runs (or resumes) the current attempt of st in its own goroutine.
func (e *Engine) launchLocked(st *stepRT, runner Runner, resume bool) {
	ctx, cancel := context.WithCancelCause(e.runCtx)
	st.cancel, st.running = cancel, true
	run := &Run{Step: st.def, Attempt: st.attempt, Started: st.started, e: e}
	run.earlierOf, run.earlier = st.earlierThan(run.Attempt)
	for k, v := range st.ext {
		if run.ref == nil {
			run.ref = map[string]string{}
		}
		run.ref[k] = v
	}
	timeout := time.Duration(0)
	if st.def.Timeout > 0 {
		timeout = st.def.Timeout - e.clock.Now().Sub(st.started)
		if timeout <= 0 {
			timeout = time.Nanosecond
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		err := e.execute(ctx, run, runner, resume, timeout)
		e.finish(st, run, err, context.Cause(ctx))
		cancel(nil)
	}()
}

// timeoutError is how an attempt that ran out of time fails.
type timeoutError struct{ d time.Duration }

func (t timeoutError) Error() string {
	return "timed out after " + runbook.FormatDuration(t.d)
}

// execute runs the step's code, enforcing its timeout and containing panics.
func (e *Engine) execute(ctx context.Context, run *Run, runner Runner, resume bool, timeout time.Duration) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.logs.add(LevelError, run.Step.ID, "", fmt.Sprintf("panic in %s step: %v\n%s", run.Step.Kind, p, debug.Stack()))
			err = Permanent(fmt.Errorf("internal error in the %s step kind: %v (see the log)", run.Step.Kind, p))
		}
	}()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithTimeout(ctx, e.clock, timeout, timeoutError{run.Step.Timeout})
		defer cancel()
	}
	if resume {
		err = runner.(Resumer).Resume(ctx, run)
	} else {
		err = runner.Run(ctx, run)
	}
	if err != nil {
		var te timeoutError
		if errors.As(context.Cause(ctx), &te) && !errors.As(err, &te) {
			err = fmt.Errorf("%w (%v)", te, err)
		}
	}
	return err
}

// abortCause cancels a runner when an operator aborts the step.
type abortCause struct {
	actor  Actor
	reason string
}

func (a abortCause) Error() string { return "aborted by " + a.actor.Name + ": " + a.reason }

// finish journals the end of an attempt.
func (e *Engine) finish(st *stepRT, run *Run, err, cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st.running, st.cancel = false, nil
	defer e.kickLocked()
	if st.state != StateRunning || st.attempt != run.Attempt || e.halted != nil || e.closed {
		return
	}
	if err == nil {
		_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: run.Attempt, Message: run.message})
		return
	}
	if errors.Is(cause, errStopping) {
		// The step stays in flight; the next start resumes, re-runs or marks it interrupted.
		e.logs.add(LevelWarn, st.def.ID, "", fmt.Sprintf("stopped with cutover: %v", err))
		return
	}
	f := Failed{Attempt: run.Attempt, Error: err.Error(), Output: append([]string(nil), st.output...)}
	var ab abortCause
	if errors.As(cause, &ab) {
		f.Error, f.AbortedBy = ab.Error(), &ab.actor
	} else if run.Attempt <= st.def.Retries && !IsPermanent(err) {
		at := e.clock.Now().Add(e.backoff(st.def, run.Attempt))
		var ra retryAt
		if errors.As(err, &ra) && ra.at.After(e.clock.Now()) {
			at = ra.at
		}
		f.RetryAt = &at
	}
	_, _ = e.commitLocked(RecFailed, st.def.ID, f)
}

// backoff is the wait before attempt+1: the step's retry_backoff (10s by default), doubling each
// time, at most 10 minutes.
func (e *Engine) backoff(def *runbook.Step, attempt int) time.Duration {
	base := def.RetryBackoff
	if base <= 0 {
		base = 10 * time.Second
	}
	d := base
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, max(10*time.Minute, base))
}

// noteOutput keeps the last lines a step printed, for its failure record.
func (e *Engine) noteOutput(step string, attempt int, line string) {
	const keep = 20
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.steps[step]
	if st == nil || st.attempt != attempt {
		return
	}
	st.output = append(st.output, line)
	if len(st.output) > keep {
		st.output = st.output[len(st.output)-keep:]
	}
}

// recordExternal journals an attempt's external references.
func (e *Engine) recordExternal(step string, attempt int, ref map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.steps[step]
	if st == nil || st.state != StateRunning || st.attempt != attempt {
		return fmt.Errorf("step %s attempt %d is no longer running", step, attempt)
	}
	_, err := e.commitLocked(RecExternal, step, External{Attempt: attempt, Ref: ref})
	return err
}

// Running lists the steps whose code is running now.
func (e *Engine) Running() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, st := range e.st.order {
		if st.running {
			out = append(out, st.def.ID)
		}
	}
	return out
}
