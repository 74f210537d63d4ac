// Package tui holds cutover's front ends over the engine: the headless printer (one line per
// event, prompts on a terminal), and the interactive cockpit and its SSH server.
package tui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// HeadlessOptions configure the headless front end.
type HeadlessOptions struct {
	Out io.Writer
	// In is read for confirmations and manual steps when Interactive is set.
	In          io.Reader
	Interactive bool
	// Actor is who answers the prompts.
	Actor engine.Actor
	// Interrupts delivers Ctrl-C: the first drains (running steps finish, nothing new starts), the
	// second stops at once (running commands are killed and resumed or re-run on the next start).
	Interrupts <-chan os.Signal
	// Local formats times in this zone (time.Local when nil).
	Local *time.Location
	// Start, when set, starts the engine once the printer has subscribed, so nothing the
	// engine says while resuming is missed.
	Start func() error
	// Helper, when set, is asked about a blocked run: a non-empty answer says who is about to fix
	// it (the demo's simulated operator), and the run keeps waiting instead of ending.
	Helper func(engine.Snapshot) string
	// Stay keeps printing after the run completes or is blocked (cutover serve: the SSH
	// cockpits go on); only an interrupt ends it.
	Stay bool
}

// Exit codes of a headless run.
const (
	ExitCompleted   = 0
	ExitFailed      = 1
	ExitInterrupted = 3
)

// prompt is an open question to the operator.
type prompt struct {
	step    string
	request uint64
	manual  bool
}

// headless prints one line per event and, on a terminal, asks the operator what the run needs.
type headless struct {
	e       *engine.Engine
	opt     HeadlessOptions
	w       *bufio.Writer
	prompts []prompt
	asked   map[string]uint64
	told    map[string]bool
	current *prompt
	lines   chan string
	idWidth int
	// seen is the journal sequence number the printer has caught up with.
	seen uint64
	// rehearsal runs let a second person at the same terminal approve ("as NAME: PHRASE").
	rehearsal bool
	// atPrompt is set while the cursor sits after "> "; promptLost when event lines pushed it away.
	atPrompt, promptLost bool
	// helperSaid is the Helper's last answer, printed once.
	helperSaid string
	// said is the outcome last announced in Stay mode.
	said engine.Outcome
	// noReturn is the runbook's point of no return ("" when none).
	noReturn string
	// logSeq is the newest log line printed (or there when the printer started): log batches are
	// coalescable events, not ordered with the journaled ones, so before the printer ends it prints
	// from the engine's log what the bus had not brought yet.
	logSeq uint64
}

// RunHeadless drives a started engine until the run completes, is blocked by a failure, or the
// operator interrupts it. It returns the process exit code.
func RunHeadless(ctx context.Context, e *engine.Engine, opt HeadlessOptions) int {
	if opt.Local == nil {
		opt.Local = time.Local
	}
	h := &headless{e: e, opt: opt, w: bufio.NewWriter(opt.Out), asked: map[string]uint64{}, told: map[string]bool{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	snap, events := e.Subscribe(ctx)
	if last := e.Logs(1, ""); len(last) > 0 {
		h.logSeq = last[0].Seq
	}
	if opt.Start != nil {
		if err := opt.Start(); err != nil {
			fmt.Fprint(opt.Out, printable(fmt.Sprintf("cutover: %v\n", err)))
			return ExitFailed
		}
	}
	if dt := snap.Run.Downtime; dt != nil {
		h.noReturn = dt.PointOfNoReturn
	}
	h.idWidth = 10
	for _, st := range snap.Steps {
		h.idWidth = max(h.idWidth, len(st.ID))
	}
	h.header(snap)
	h.catchUp(snap)
	h.seen, h.rehearsal = snap.Seq, snap.Run.Rehearsal
	if opt.Interactive && opt.In != nil {
		h.lines = make(chan string)
		go readLines(ctx, opt.In, h.lines)
	}
	interrupts := 0
	for {
		// Ask and decide only once every change in the snapshot has been printed.
		if now := e.Snapshot(); now.Seq <= h.seen {
			h.reconcile(now)
			if o := now.Run.Outcome; o == engine.OutcomeCompleted || o == engine.OutcomeBlocked || o == engine.OutcomeHalted || interrupts > 0 {
				h.catchUpLogs()
			}
			if code, done := h.finished(now, interrupts > 0); done {
				return code
			}
			h.reprompt()
		}
		h.flush()
		select {
		case ev, ok := <-events:
			if !ok {
				return h.closed()
			}
			if _, resync := ev.(engine.Resync); resync {
				snap, events = e.Subscribe(ctx)
				h.catchUp(snap)
				h.seen = snap.Seq
				continue
			}
			h.event(ev)
		case line, ok := <-h.lines:
			if !ok {
				h.lines = nil
				continue
			}
			h.answer(line)
		case <-opt.Interrupts:
			interrupts++
			if interrupts == 1 {
				e.Drain()
				running := e.Running()
				if len(running) == 0 {
					h.printf("interrupted: nothing is running; stopping\n")
				} else {
					h.printf("interrupted: no new steps will start; waiting for %s to finish (Ctrl-C again to stop them now)\n", strings.Join(running, ", "))
				}
				continue
			}
			h.printf("stopping now: running steps are cut off and will be resumed or re-run on the next start\n")
			h.flush()
			return ExitInterrupted
		case <-ctx.Done():
			return ExitInterrupted
		}
	}
}

func readLines(ctx context.Context, r io.Reader, out chan<- string) {
	defer close(out)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		select {
		case out <- sc.Text():
		case <-ctx.Done():
			return
		}
	}
}

// printf is the printer's one way out: what it prints is made printable (see printable), since
// its arguments carry commands' output, servers' errors and people's reasons.
func (h *headless) printf(format string, args ...any) {
	_, _ = h.w.WriteString(printable(fmt.Sprintf(format, args...)))
}

// eventf prints an event line; if the operator is at a prompt, the line goes below it and the
// prompt is repeated afterwards.
func (h *headless) eventf(format string, args ...any) {
	if h.atPrompt {
		h.printf("\n")
		h.atPrompt, h.promptLost = false, true
	}
	h.printf(format, args...)
}

// prompt shows the input marker.
func (h *headless) prompt() {
	h.printf("> ")
	h.atPrompt, h.promptLost = true, false
}

// reprompt repeats a short prompt after event lines interrupted it.
func (h *headless) reprompt() {
	if h.current == nil || !h.promptLost {
		return
	}
	what := "done, done: note or skip: reason"
	if !h.current.manual {
		what = "the phrase or no: reason"
	}
	h.printf("(%s: %s) ", h.current.step, what)
	h.prompt()
}

func (h *headless) flush() { _ = h.w.Flush() }

func (h *headless) stamp(t time.Time) string { return t.In(h.opt.Local).Format("15:04:05") }

func (h *headless) header(s engine.Snapshot) {
	r := s.Run
	env := ""
	if r.Environment != "" {
		env = " (" + r.Environment + ")"
	}
	kind := "cutover"
	if r.Rehearsal {
		kind = "rehearsal"
	}
	h.printf("%s %q%s: %d steps, state in %s\n", kind, r.Name, env, len(s.Steps), r.StateDir)
	if r.Starts > 1 {
		h.printf("resumed from the journal (start %d)\n", r.Starts)
	}
	if r.AutoConfirm {
		h.printf("--yes: confirmations and manual steps are answered automatically (rehearsal)\n")
	}
	if b := r.Baseline; b != nil {
		h.printf("baseline: the rehearsal in %s (%s end to end): its actual durations are the plan\n", b.Path, dur(b.Total))
	}
}

// versusBaseline says how the run compares with its baseline ("" without one).
func versusBaseline(r engine.RunView) string {
	if b := r.Baseline; b != nil && b.LatenessKnown {
		return "; " + latenessText(b)
	}
	return ""
}

// catchUp prints the steps that are already past pending, so a resumed run shows where it stands:
// each at the time its journal record put it in its state, not the time of printing.
func (h *headless) catchUp(s engine.Snapshot) {
	for _, st := range s.Steps {
		if st.State != engine.StatePending && st.State != engine.StateReady {
			at := st.Since
			if at.IsZero() {
				at = s.At
			}
			h.stepLine(at, st)
		}
	}
}

func (h *headless) event(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.StepChanged:
		h.seen = max(h.seen, ev.Seq)
		switch ev.Record {
		case engine.RecExternal, engine.RecConfirmRefused, engine.RecValidation, engine.RecOverrideRequested, engine.RecOverrideRefused:
			return
		case engine.RecOverrideApproved:
			if o := ev.Step.Override; o != nil {
				h.line(ev.At, ev.Step.ID, string(o.Action)+"?", fmt.Sprintf("%s asks to %s: %s — %d of %d approved (%s); each approver types %q",
					o.By.Name, o.Action.Words(), o.Reason, len(o.Approvals), o.Needed, approvalNames(o.Approvals), o.Phrase))
			}
			return
		case engine.RecOverrideWithdrawn:
			h.line(ev.At, ev.Step.ID, "withdrawn", "the request to skip it or mark it done was withdrawn")
			return
		case engine.RecApproved:
			if ev.Step.State != engine.StateAwaiting {
				h.line(ev.At, ev.Step.ID, "confirmed", "by "+approvalNames(ev.Step.ConfirmedBy))
				return
			}
		}
		h.stepLine(ev.At, ev.Step)
	case engine.RunChanged:
		h.seen = max(h.seen, ev.Seq)
		if ev.Run.Paused {
			h.line(ev.At, "(run)", "paused", "by "+nameOf(ev.Run.PausedBy)+": "+ev.Run.PauseReason)
		}
		if ev.Run.Halted != "" {
			h.line(ev.At, "(run)", "HALTED", ev.Run.Halted)
		}
	case engine.LogBatch:
		if ev.Dropped > 0 {
			h.eventf("… %d log lines not shown (they are in %s)\n", ev.Dropped, engine.LogFileName)
		}
		h.logLines(ev.Lines)
	}
}

// catchUpLogs prints, from the engine's log, the lines the bus has not brought yet (a run's last
// output can still be on its way when its last journaled change arrives).
func (h *headless) catchUpLogs() {
	last := h.e.Logs(1, "")
	if len(last) == 0 || last[0].Seq <= h.logSeq {
		return
	}
	h.logLines(h.e.Logs(int(min(last[0].Seq-h.logSeq, engine.DefaultLogRing)), ""))
}

// logLines prints the log lines it has not printed yet, in order.
func (h *headless) logLines(lines []engine.LogLine) {
	for _, l := range lines {
		if l.Seq <= h.logSeq {
			continue
		}
		h.logSeq = l.Seq
		switch {
		case l.Stream != "":
			h.eventf("%s  %-*s │ %s\n", h.stamp(l.Time), h.idWidth, l.Step, l.Msg)
		case l.Step == "":
			h.eventf("%s  %-*s %s\n", h.stamp(l.Time), h.idWidth, "(cutover)", l.Msg)
		case !l.State:
			h.eventf("%s  %-*s · %s\n", h.stamp(l.Time), h.idWidth, l.Step, l.Msg)
		}
	}
}

func nameOf(a *engine.Actor) string {
	if a == nil {
		return "?"
	}
	return displayName(*a)
}

// displayName is how an actor is shown: the engine acting on its own shows what it acted as.
func displayName(a engine.Actor) string {
	if a.Role == engine.RoleSystem && a.Origin != "" {
		return a.Origin
	}
	return a.Name
}

// stepLine prints one step transition: time, step, state, message.
func (h *headless) stepLine(at time.Time, st engine.StepView) {
	msg := ""
	switch st.State {
	case engine.StateRunning:
		msg = st.Action // every line: instructions (the LCS portal's path) are on the later ones
		if st.Attempt > 1 {
			if st.Attempt <= st.MaxAttempts {
				msg = fmt.Sprintf("attempt %d of %d: %s", st.Attempt, st.MaxAttempts, msg)
			} else {
				msg = fmt.Sprintf("attempt %d: %s", st.Attempt, msg)
			}
		}
		if st.InOperatorsHands() {
			msg = "in the operator's hands: " + st.Action
		}
	case engine.StateAwaiting:
		c := st.Confirmation
		msg = fmt.Sprintf("needs %d confirmation(s), %d given: type %q", c.Needed, len(c.Approvals), c.Phrase)
		if len(c.Approvals) > 0 {
			msg += " (approved by " + approvalNames(c.Approvals) + ")"
		}
		// A cheap look before taking a snapshot: rollbackNotice asks the engine's rule
		// (Snapshot.GuardsNoReturn) and is empty for any other step.
		if st.ID == h.noReturn || (h.noReturn != "" && st.Mode == engine.ModeGate) {
			if text, _ := rollbackNotice(h.e.Snapshot(), st, h.e.Now(), h.opt.Local); text != "" {
				msg += "\n" + text // below the message, where line puts it
			}
		}
	case engine.StateSucceeded:
		msg = st.Message
		if st.ByHand {
			msg = fmt.Sprintf("done by hand by %s: %s", nameOf(st.By), st.Reason)
		}
		if !st.FirstStarted.IsZero() && !st.Finished.IsZero() {
			msg = strings.TrimSpace(msg + " [" + runbook.FormatDuration(st.Finished.Sub(st.FirstStarted)) + "]")
		}
	case engine.StateFailed:
		msg = st.LastError
	case engine.StateRetrying:
		msg = fmt.Sprintf("%s; attempt %d of %d at %s", st.LastError, st.Attempt+1, st.MaxAttempts, h.stamp(st.RetryAt))
	case engine.StateSkipped:
		msg = fmt.Sprintf("by %s: %s", nameOf(st.By), st.Reason)
	case engine.StateNotNeeded:
		msg = st.Message
	case engine.StateReady:
		msg = "dependencies done"
		if st.By != nil && st.Reason == "" {
			msg = "retry requested by " + st.By.Name
		}
	case engine.StatePending:
		return
	}
	h.line(at, st.ID, st.State.String(), msg)
}

// line prints time, step, state and message in aligned columns; a message of several lines
// prints every one, the later ones indented under the first.
func (h *headless) line(at time.Time, id, state, msg string) {
	stamp := h.stamp(at)
	first, rest, more := strings.Cut(strings.TrimRight(msg, "\n"), "\n")
	h.eventf("%s  %-*s %-10s %s\n", stamp, h.idWidth, id, state, first)
	if !more {
		return
	}
	indent := strings.Repeat(" ", len(stamp)+2+max(h.idWidth, len(id))+1+max(10, len(state))+1)
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimRight(l, " \t\r"); l == "" {
			h.eventf("\n")
			continue
		}
		h.eventf("%s%s\n", indent, l)
	}
}

func approvalNames(as []engine.Approval) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = displayName(a.Actor)
	}
	return strings.Join(names, ", ")
}

// reconcile keeps the prompt queue in step with what the run needs from an operator.
func (h *headless) reconcile(s engine.Snapshot) {
	want := map[string]prompt{}
	for _, st := range s.Waiting() {
		switch st.WaitsFor() {
		case engine.WaitConfirmation:
			want[st.ID] = prompt{step: st.ID, request: st.Confirmation.Request}
		case engine.WaitCompletion:
			want[st.ID] = prompt{step: st.ID, manual: true}
		}
	}
	keep := h.prompts[:0]
	for _, p := range h.prompts {
		if w, ok := want[p.step]; ok && w.request == p.request {
			keep = append(keep, p)
			delete(want, p.step)
		}
	}
	h.prompts = keep
	for _, st := range s.Steps {
		if p, ok := want[st.ID]; ok {
			h.prompts = append(h.prompts, p)
		}
	}
	if h.current != nil && (len(h.prompts) == 0 || h.prompts[0] != *h.current) {
		h.current = nil
	}
	if len(h.prompts) == 0 {
		return
	}
	if !h.opt.Interactive || h.opt.In == nil {
		for _, p := range h.prompts {
			key := fmt.Sprintf("%s/%d/%v", p.step, p.request, p.manual)
			if !h.told[key] {
				h.told[key] = true
				what := "its confirmation"
				if p.manual {
					what = "an operator to mark it done"
				}
				h.printf("          %-*s waiting for %s (no terminal here: answer from the cockpit, or run cutover on a terminal)\n", h.idWidth, p.step, what)
			}
		}
		return
	}
	if h.current == nil {
		p := h.prompts[0]
		h.current = &p
		h.ask(s, p)
	}
}

// ask shows the operator what the step needs and how to answer.
func (h *headless) ask(s engine.Snapshot, p prompt) {
	st, ok := s.Step(p.step)
	if !ok {
		return
	}
	if p.manual {
		h.printf("\n── manual step %s: %s\n", st.ID, st.Title)
		for _, l := range strings.Split(st.Action, "\n") {
			h.printf("   %s\n", l)
		}
		skip := "skip: reason"
		if g := st.Guard; g != nil {
			skip = fmt.Sprintf("%s: reason (%d operator(s))", g.Skip, g.Needed)
		}
		h.printf("   type done (or done: note) when finished, %s to skip it\n", skip)
		h.prompt()
		return
	}
	c := st.Confirmation
	tag := ""
	if st.Destructive {
		tag = " (DESTRUCTIVE)"
	}
	h.printf("\n── confirmation needed%s: %s — %s\n", tag, st.ID, st.Title)
	if s.Run.Environment != "" {
		h.printf("   environment: %s\n", s.Run.Environment)
	}
	for i, l := range strings.Split(c.Action, "\n") {
		label := "   what: "
		if i > 0 {
			label = "         "
		}
		h.printf("%s%s\n", label, l)
	}
	h.printf("   approvals: %d of %d", len(c.Approvals), c.Needed)
	if len(c.Approvals) > 0 {
		h.printf(" (by %s)", approvalNames(c.Approvals))
	}
	h.printf("\n   type %q to confirm as %s, or no: reason for a no-go\n", c.Phrase, h.opt.Actor.Name)
	if st.WhenFailed != "" {
		// A conditional step: one of two choices on its trigger's failure.
		h.printf("   it runs because %s failed; the other choice is to retry %s (no: reason here, then cutover step retry %s)\n", st.WhenFailed, st.WhenFailed, st.WhenFailed)
	}
	if g := st.Guard; g != nil {
		h.printf("   to skip it instead: %s: reason (%d operator(s))\n", g.Skip, g.Needed)
	}
	if h.rehearsal && c.Needed > 1 {
		h.printf("   rehearsal: a second person at this terminal types as NAME: %s\n", c.Phrase)
	}
	h.prompt()
}

// answer applies what the operator typed to the current prompt.
func (h *headless) answer(line string) {
	if h.current == nil {
		return
	}
	p := *h.current
	text := strings.TrimSpace(line)
	lower := strings.ToLower(text)
	var err error
	switch {
	case text == "":
		h.printf("   (still waiting)\n")
		h.prompt()
		return
	case p.manual && (lower == "done" || strings.HasPrefix(lower, "done:")):
		_, err = h.e.MarkDone(p.step, h.opt.Actor, strings.TrimSpace(strings.TrimPrefix(text[4:], ":")), "")
	case (strings.HasPrefix(lower, "skip:") || strings.HasPrefix(lower, "skip ")) && strings.Contains(text, ":"):
		// "skip: reason", or for a guarded step its skip phrase before the reason: "SKIP id: reason".
		phrase, reason, _ := strings.Cut(text, ":")
		if strings.EqualFold(strings.TrimSpace(phrase), "skip") {
			phrase = ""
		}
		var res engine.ConfirmResult
		res, err = h.e.Skip(p.step, h.opt.Actor, strings.TrimSpace(reason), strings.TrimSpace(phrase))
		if err == nil && !res.Satisfied {
			h.printf("   skip approved by %s (%d of %d); another operator must approve it from their own session\n", h.opt.Actor.Name, res.Count, res.Needed)
			h.prompt()
			return
		}
	case !p.manual && strings.HasPrefix(lower, "no:"):
		err = h.e.Decline(p.step, p.request, h.opt.Actor, strings.TrimSpace(text[3:]))
	case !p.manual:
		actor, phrase := h.opt.Actor, text
		if name, rest, ok := strings.Cut(text, ":"); ok && h.rehearsal && strings.HasPrefix(lower, "as ") {
			// A stand-in for a second operator: rehearsals only, and journaled as such.
			actor.Name, actor.StandIn = strings.TrimSpace(name[3:]), true
			actor.Origin += " (stand-in at the same terminal, rehearsal only)"
			phrase = strings.TrimSpace(rest)
		}
		var res engine.ConfirmResult
		res, err = h.e.Confirm(p.step, p.request, actor, phrase)
		if err == nil && !res.Satisfied {
			h.printf("   confirmed by %s (%d of %d); another operator must confirm from their own session\n", actor.Name, res.Count, res.Needed)
			h.prompt()
			return
		}
	default:
		skip := "skip: reason"
		if st, ok := h.e.Snapshot().Step(p.step); ok && st.Guard != nil {
			skip = st.Guard.Skip + ": reason"
		}
		h.printf("   type done, done: note, or %s\n", skip)
		h.prompt()
		return
	}
	h.atPrompt = false
	if err != nil {
		h.printf("   %v\n", err)
		h.prompt()
		return
	}
	h.current = nil
	h.prompts = h.prompts[1:]
}

// finished decides whether the headless run is over.
func (h *headless) finished(s engine.Snapshot, interrupted bool) (int, bool) {
	if h.opt.Stay {
		if s.Run.Outcome != h.said {
			h.said = s.Run.Outcome
			switch s.Run.Outcome {
			case engine.OutcomeCompleted:
				h.printf("run completed: every step succeeded or was skipped (journal head %s); still serving — Ctrl-C stops\n", journal.ShortHash(s.Run.JournalHead))
			case engine.OutcomeBlocked:
				h.printf("run blocked by a failed step: an operator can retry, skip or mark it done from a cockpit\n")
			}
		}
		if interrupted && len(h.e.Running()) == 0 {
			h.printf("stopped: nothing is running; start again to continue where it stopped\n")
			h.flush()
			return ExitInterrupted, true
		}
		return 0, false
	}
	switch s.Run.Outcome {
	case engine.OutcomeCompleted:
		h.printf("run completed: every step succeeded or was skipped (journal head %s)%s\n", journal.ShortHash(s.Run.JournalHead), versusBaseline(s.Run))
		h.flush()
		return ExitCompleted, true
	case engine.OutcomeBlocked:
		if h.opt.Helper != nil {
			if who := h.opt.Helper(s); who != "" {
				if who != h.helperSaid {
					h.printf("run blocked; waiting: %s\n", who)
					h.helperSaid = who
				}
				return 0, false
			}
		}
		var failed []string
		for _, st := range s.Steps {
			if st.State == engine.StateFailed {
				failed = append(failed, st.ID)
			}
		}
		h.printf("run blocked: %s failed and nothing else can run; fix the cause, then retry (cutover step retry ID), skip or mark it done, and run again\n", strings.Join(failed, ", "))
		h.flush()
		return ExitFailed, true
	case engine.OutcomeHalted:
		h.flush()
		return ExitFailed, true
	}
	if interrupted && len(h.e.Running()) == 0 {
		h.printf("stopped: nothing is running; start again to continue where it stopped\n")
		h.flush()
		return ExitInterrupted, true
	}
	return 0, false
}

func (h *headless) closed() int {
	h.flush()
	return ExitInterrupted
}
