package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"

	"cutover/engine"
)

// forecast is when the run should finish: now plus the longest chain of remaining planned
// durations, each the baseline rehearsal's actual duration when there is one (a running step
// counts what is left of its plan). ok is false when nothing is planned.
func (d *data) forecast(now time.Time) (time.Time, bool) {
	return d.forecastFrom(d.snap.Project(now))
}

// forecastFrom is forecast from a projection already made.
func (d *data) forecastFrom(p engine.Projection) (time.Time, bool) {
	if !d.snap.Run.Finished.IsZero() {
		return d.snap.Run.Finished, true
	}
	return p.Finish(), p.Planned
}

// phase is the phase of the step in focus of the run (the engine's rule).
func (d *data) phase() string { return d.snap.Phase() }

func outcomeMark(o engine.Outcome) string {
	switch o {
	case engine.OutcomeRunning:
		return "▶ running"
	case engine.OutcomeWaiting:
		return "◆ waiting for an operator"
	case engine.OutcomePaused:
		return "⏸ paused"
	case engine.OutcomeBlocked:
		return "✗ blocked by a failed step"
	case engine.OutcomeCompleted:
		return "✓ completed"
	case engine.OutcomeHalted:
		return "✗ HALTED"
	}
	return o.String()
}

// header is two lines: what and where, then the clocks, the point of no return, the sources'
// health and who is watching.
func (a *App) header(w int) []string {
	st := a.s.styles
	d := a.d
	run := d.snap.Run
	now := a.s.now()
	var l1 []hpart
	l1 = append(l1, hpart{st.HeaderName.Render(run.Name), 1})
	if run.Environment != "" {
		l1 = append(l1, hpart{st.HeaderEnv.Render(run.Environment), 9})
	}
	if run.Rehearsal {
		l1 = append(l1, hpart{st.Badge.Render("REHEARSAL"), 8})
	}
	if a.s.readOnly {
		l1 = append(l1, hpart{st.Badge.Render("READ-ONLY"), 8})
	}
	l1 = append(l1, hpart{"phase " + st.Bold.Render(d.phase()), 5})
	o := outcomeMark(run.Outcome)
	switch run.Outcome {
	case engine.OutcomeBlocked, engine.OutcomeHalted:
		o = st.Crit.Render(o)
	case engine.OutcomeWaiting, engine.OutcomePaused:
		o = st.Warn.Render(o)
	case engine.OutcomeCompleted:
		o = st.OK.Render(o)
	}
	l1 = append(l1, hpart{o, 7})
	l1 = append(l1, hpart{st.Muted.Render("you: ") + a.s.actor.Name + st.Muted.Render(" ("+string(a.s.actor.Role)+")"), 4})
	clock := now.In(a.s.local).Format("15:04:05")
	line1 := joinFit(l1, "  ", max(w-len(clock)-1, 0))
	line1 = fit(line1, max(w-len(clock)-1, 0)) + " " + st.Muted.Render(clock)

	var l2 []hpart
	dt := d.snap.Downtime(now) // the engine's rule, shared with the web page and the notifications
	switch {
	case dt.Budget == 0:
	case dt.Began.IsZero():
		s := "downtime not started · budget " + dur(dt.Budget)
		if !dt.Planned.IsZero() {
			s += " · planned " + dt.Planned.In(a.s.local).Format("Mon 15:04")
		}
		l2 = append(l2, hpart{s, 9})
	default:
		pct := int(100 * dt.Elapsed / dt.Budget)
		s := fmt.Sprintf("downtime %s / %s (%d%%)", dur(dt.Elapsed), dur(dt.Budget), pct)
		if dt.Over() {
			s = st.Crit.Render(fmt.Sprintf("▲ downtime %s — OVER budget %s by %s", dur(dt.Elapsed), dur(dt.Budget), dur(dt.Elapsed-dt.Budget)))
		} else if dt.Near() {
			s = st.Warn.Render("▲ " + s)
		}
		l2 = append(l2, hpart{s, 9})
	}
	proj := d.snap.Project(now) // once a frame, for the forecast and the point of no return
	fcAt := -1
	if f, ok := d.forecastFrom(proj); ok && run.Finished.IsZero() {
		s := "finish ≈ " + f.In(a.s.local).Format("15:04")
		if late, ok := dt.Late(f); ok {
			if late > 0 {
				s = st.Crit.Render(fmt.Sprintf("▲ finish ≈ %s, %s late", f.In(a.s.local).Format("15:04"), dur(late)))
			} else {
				s += fmt.Sprintf(" (%s spare)", dur(-late))
			}
		}
		fcAt = len(l2)
		l2 = append(l2, hpart{s, 5})
	}
	if b := run.Baseline; b != nil && b.LatenessKnown && run.Finished.IsZero() {
		l2 = append(l2, hpart{a.lateness(b), 5})
	}
	// The point of no return in full, or shorter when the full text would push the forecast off
	// the line.
	nrAt := -1
	nr := a.noReturn(d, proj)
	if len(nr) > 0 {
		nrAt = len(l2)
		l2 = append(l2, hpart{nr[0], 6})
	}
	if v := d.repl; v != nil {
		if !v.Retired.IsZero() {
			l2 = append(l2, hpart{st.Muted.Render("replication removed"), 7})
		} else {
			var hs []string
			for _, name := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
				h := v.SourceHealth(name)
				txt := shortSource(name) + " " + healthMark(h.State)
				if h.State == engine.HealthFailing && !h.Since.IsZero() {
					txt += " " + dur(now.Sub(h.Since))
				}
				hs = append(hs, st.healthStyle(h.State).Render(txt))
			}
			l2 = append(l2, hpart{strings.Join(hs, " "), 8})
		}
	}
	if a.s.watchers != nil {
		var names []string
		for _, who := range a.s.watchers() {
			role := string(who.Actor.Role)
			if role == "" {
				role = "?" // never empty in practice; a bad actor must not crash the frame
			}
			n := who.Actor.Name + "(" + role[:1]
			if who.Idle >= 5*time.Minute {
				n += " idle " + dur(who.Idle)
			}
			names = append(names, n+")")
		}
		if len(names) > 0 {
			l2 = append(l2, hpart{"watching: " + strings.Join(names, " "), 3})
		}
	}
	sep := st.Muted.Render(" · ")
	line2 := joinFit(l2, sep, w)
	dropped := func(at int) bool { return at >= 0 && !strings.Contains(line2, l2[at].text) }
	for i := 1; i < len(nr) && (dropped(fcAt) || dropped(nrAt)); i++ {
		l2[nrAt].text = nr[i]
		line2 = joinFit(l2, sep, w)
	}
	return []string{fit(line1, w), fit(line2, w)}
}

// noReturn is the header's word on the point of no return and the AX 2012 rollback: passed or
// under way, or still ahead (in how long, by the plan, naming the step) with the rollback point:
// verified, made but not verified, pending or missing. It comes in up to three lengths, longest
// first: it shares the line with the downtime clock and the forecast, and the header takes the
// longest that leaves the forecast on the line.
func (a *App) noReturn(d *data, proj engine.Projection) []string {
	st := a.s.styles
	rb := d.snap.RollbackWith(proj)
	pnr, ok := d.step(rb.NoReturn)
	if rb.State == engine.RollbackUntracked || !ok {
		return nil
	}
	// heads are the point of no return's part, longest first.
	var heads []string
	switch {
	case pnr.State == engine.StateSucceeded:
		return []string{st.Muted.Render("no return: " + pnr.ID + " ✓ passed")}
	case rb.State == engine.RollbackGone:
		return []string{st.Crit.Render("⚠ no return: " + pnr.ID + " " + pnr.State.String())}
	case pnr.State == engine.StateAwaiting:
		heads = []string{st.Crit.Render("⚠ no return: " + pnr.ID + " awaiting")}
	case rb.Projected:
		heads = []string{"no return: " + pnr.ID + " in ≈" + dur(rb.Left), "no return: " + pnr.ID + " ≈" + dur(rb.Left), "no return ≈" + dur(rb.Left)}
	default:
		heads = []string{"no return: " + pnr.ID + " " + pnr.State.String()}
	}
	// tails are the rollback point's part, longest first.
	var tails []string
	at := rb.PointAt.In(a.s.local).Format("15:04")
	switch {
	case rb.State == engine.RollbackReady && rb.Proof == engine.ProofVerified:
		tails = []string{" · " + st.OK.Render("rollback ready · backup verified "+at), " · " + st.OK.Render("rollback ✓ verified "+at)}
	case rb.State == engine.RollbackReady && rb.Proof == engine.ProofByHand:
		tails = []string{" · " + st.Warn.Render("rollback point made by hand (not verified)"), " · " + st.Warn.Render("rollback point by hand")}
	case rb.State == engine.RollbackReady:
		tails = []string{" · " + st.Warn.Render("rollback point made "+at+" (not verified)"), " · " + st.Warn.Render("rollback point unverified")}
	case rb.State == engine.RollbackAtRisk:
		tails = []string{st.Crit.Render(" — NO rollback point (" + rb.Point + " " + rb.PointState.String() + ")")}
	case rb.State == engine.RollbackNoPoint && rb.Point != "":
		tails = []string{" · " + st.Warn.Render("rollback point "+rb.PointState.String())}
	default:
		tails = []string{""}
	}
	// The step's name goes last, the rollback point's words before it.
	out := []string{heads[0] + tails[0]}
	for i := 1; i < max(len(heads), len(tails)); i++ {
		out = append(out, heads[min(i, len(heads)-1)]+tails[min(i, len(tails)-1)])
	}
	return out
}

// latenessText says in words how far the run is behind or ahead of its baseline rehearsal (the
// engine's BaselineView.Pace).
func latenessText(b *engine.BaselineView) string {
	switch b.Pace() {
	case engine.PaceBehind, engine.PaceFarBehind:
		return fmt.Sprintf("%s behind rehearsal (at %s)", dur(b.Lateness), b.Against)
	case engine.PaceAhead:
		return fmt.Sprintf("%s ahead of rehearsal", dur(-b.Lateness))
	}
	return "on rehearsal pace"
}

// lateness is latenessText coloured: far behind is critical.
func (a *App) lateness(b *engine.BaselineView) string {
	st := a.s.styles
	txt := latenessText(b)
	switch b.Pace() {
	case engine.PaceFarBehind:
		return st.Crit.Render("▲ " + txt)
	case engine.PaceBehind:
		return st.Warn.Render(txt)
	case engine.PaceAhead:
		return st.OK.Render(txt)
	}
	return txt
}

// hpart is a piece of the header with its priority: when the line is too narrow, the least
// important pieces go first, and the rest keep their order.
type hpart struct {
	text string
	prio int
}

func joinFit(parts []hpart, sep string, w int) string {
	keep := make([]bool, len(parts))
	for i := range keep {
		keep[i] = true
	}
	width := func() int {
		total, n := 0, 0
		for i, p := range parts {
			if keep[i] {
				total += ansiWidth(p.text)
				n++
			}
		}
		return total + max(n-1, 0)*ansiWidth(sep)
	}
	for width() > w {
		low := -1
		for i, p := range parts {
			if keep[i] && (low < 0 || p.prio < parts[low].prio) {
				low = i
			}
		}
		if low < 0 {
			break
		}
		keep[low] = false
	}
	var out []string
	for i, p := range parts {
		if keep[i] {
			out = append(out, p.text)
		}
	}
	return strings.Join(out, sep)
}

func shortSource(source string) string {
	switch source {
	case engine.SourceAX:
		return "src"
	case engine.SourceDistributor:
		return "dist"
	case engine.SourceTarget:
		return "tgt"
	}
	return source
}

// footer is the focused pane's keys and the global ones, or the newest message (an idle warning
// first: it stays until a key is pressed).
func (a *App) footer(w int) string {
	st := a.s.styles
	if a.idleNotice != "" {
		return fit(st.FlashError.Render(a.idleNotice), w)
	}
	if a.flash != "" && time.Since(a.flashAt) < 8*time.Second {
		style := st.Flash
		if a.flashErr {
			style = st.FlashError
		}
		return fit(style.Render(a.flash), w)
	}
	var parts []string
	add := func(bs ...key.Binding) {
		for _, b := range bs {
			if b.Enabled() && len(b.Keys()) > 0 {
				parts = append(parts, st.FooterKey.Render(b.Help().Key)+" "+st.FooterDesc.Render(b.Help().Desc))
			}
		}
	}
	p := a.panes[a.focus]
	pk := p.bindings()
	if len(pk) > 6 {
		pk = pk[:6]
	}
	add(pk...)
	if !p.capturing() {
		k := a.s.keys
		add(k.NextPane, k.Help, k.Palette, k.Quit)
	}
	return fit(strings.Join(parts, "  "), w)
}
