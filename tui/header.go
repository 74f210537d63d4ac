package tui

import (
	"fmt"
	"strings"
	"time"

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

// outcomeShort is outcomeMark in a word, for a short header line.
func outcomeShort(o engine.Outcome) string {
	switch o {
	case engine.OutcomeWaiting:
		return "◆ waiting"
	case engine.OutcomeBlocked:
		return "✗ blocked"
	}
	return outcomeMark(o)
}

// header is two lines laid out by priority (layoutParts). The first says where the run is: its
// phase, always, then how it goes, the environment, the badges, the clock, the run's name and who
// you are. The second says what the night depends on: the downtime clock, the point of no return
// and the rollback's readiness, always and in that order of importance, then the sources' health,
// the finish forecast, the pace against the rehearsal and who is watching. A short line shortens
// the words of what must stay before it leaves the rest out.
func (a *App) header(w int) []string {
	st := a.s.styles
	d := a.d
	run := d.snap.Run
	now := a.s.now()

	var l1 []part
	l1 = append(l1, part{forms: []string{st.HeaderName.Render(run.Name)}, prio: 3})
	if env := run.Environment; env != "" {
		forms := []string{st.HeaderEnv.Render(env)}
		if short, _, ok := strings.Cut(env, " ("); ok && short != "" {
			forms = append(forms, st.HeaderEnv.Render(short)) // "PROD (Contoso Dynamics 365)": PROD
		}
		l1 = append(l1, part{forms: forms, prio: 7})
	}
	if run.Rehearsal {
		l1 = append(l1, part{forms: []string{st.Badge.Render("REHEARSAL")}, prio: 7})
	}
	if a.s.readOnly {
		l1 = append(l1, part{forms: []string{st.Badge.Render("READ-ONLY")}, prio: 6})
	}
	phase := d.phase()
	phaseForms := []string{"phase " + st.Bold.Render(phase), st.Bold.Render(phase)}
	if ansiWidth(phase) > w {
		phaseForms = append(phaseForms, st.Bold.Render(fit(phase, w))) // a phase name longer than the line
	}
	l1 = append(l1, part{forms: phaseForms, prio: 10, essential: true})
	long, short := outcomeMark(run.Outcome), outcomeShort(run.Outcome)
	ostyle := func(s string) string {
		switch run.Outcome {
		case engine.OutcomeBlocked, engine.OutcomeHalted:
			return st.Crit.Render(s)
		case engine.OutcomeWaiting, engine.OutcomePaused:
			return st.Warn.Render(s)
		case engine.OutcomeCompleted:
			return st.OK.Render(s)
		}
		return s
	}
	l1 = append(l1, part{forms: []string{ostyle(long), ostyle(short)}, prio: 8})
	l1 = append(l1, part{forms: []string{st.Muted.Render("you: ") + a.s.actor.Name + st.Muted.Render(" ("+string(a.s.actor.Role)+")")}, prio: 2})
	clock := st.Muted.Render(now.In(a.s.local).Format("15:04:05"))
	l1 = append(l1, part{forms: []string{clock}, prio: 4})
	// The clock goes to the right edge when it is kept.
	chosen := layoutParts(l1, "  ", w)
	var left []string
	for i, f := range chosen[:len(chosen)-1] {
		if f >= 0 {
			left = append(left, l1[i].forms[f])
		}
	}
	line1 := strings.Join(left, "  ")
	if chosen[len(chosen)-1] >= 0 {
		line1 = fit(line1, max(w-ansiWidth(clock)-1, 0)) + " " + clock
	}

	var l2 []part
	dt := d.snap.Downtime(now) // the engine's rule, shared with the web page and the notifications
	if forms, want := a.downtimeForms(dt); len(forms) > 0 {
		l2 = append(l2, part{forms: forms, prio: 10, essential: true, want: want})
	}
	proj := d.snap.Project(now) // once a frame, for the forecast and the point of no return
	l2 = append(l2, a.noReturn(d, proj)...)
	if f, ok := d.forecastFrom(proj); ok && run.Finished.IsZero() {
		at := clockAt(f, now, a.s.local)
		forms, prio := []string{"finish ≈ " + at}, 5
		if late, ok := dt.Late(f); ok {
			if late > 0 {
				// A finish past the budget's end matters as much as the sources' health.
				forms = []string{st.Crit.Render(fmt.Sprintf("▲ finish ≈ %s, %s late", at, dur(late))), st.Crit.Render("▲ finish " + dur(late) + " late")}
				prio = 7
			} else {
				forms = []string{fmt.Sprintf("finish ≈ %s (%s spare)", at, dur(-late)), forms[0]}
			}
		}
		l2 = append(l2, part{forms: forms, prio: prio})
	}
	if b := run.Baseline; b != nil && b.LatenessKnown && run.Finished.IsZero() {
		l2 = append(l2, part{forms: []string{a.lateness(b)}, prio: 4})
	}
	if v := d.repl; v != nil {
		if !v.Retired.IsZero() {
			l2 = append(l2, part{forms: []string{st.Muted.Render("replication removed")}, prio: 6})
		} else {
			var full, marks []string
			for _, name := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
				h := v.SourceHealth(name)
				failing := ""
				if h.State == engine.HealthFailing && !h.Since.IsZero() {
					failing = " " + dur(now.Sub(h.Since))
				}
				hs := st.healthStyle(h.State)
				full = append(full, hs.Render(shortSource(name)+" "+healthMark(h.State)+failing))
				marks = append(marks, hs.Render(shortSource(name)+" "+healthGlyph(h.State)+failing))
			}
			l2 = append(l2, part{forms: []string{strings.Join(full, " "), strings.Join(marks, " ")}, prio: 6})
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
			if engine.Away(who.Idle) {
				n += " idle " + dur(who.Idle)
			}
			names = append(names, n+")")
		}
		if len(names) > 0 {
			l2 = append(l2, part{forms: []string{"watching: " + strings.Join(names, " "), fmt.Sprintf("watching: %d", len(names))}, prio: 1})
		}
	}
	line2 := joinParts(l2, st.Muted.Render(" · "), w)
	return []string{fit(line1, w), fit(line2, w)}
}

// downtimeForms are the downtime clock's forms, longest first, and the one it wants before the
// header's other parts (layoutParts): not started yet (with the budget and the planned start),
// running against its budget, near it (the engine's Near) or over it. None without a budget and a
// start.
func (a *App) downtimeForms(dt engine.DowntimeView) (forms []string, want int) {
	st := a.s.styles
	switch {
	case dt.Began.IsZero() && dt.Budget == 0:
		return nil, 0
	case dt.Began.IsZero():
		forms := []string{"downtime not started · budget " + dur(dt.Budget), "downtime not started"}
		if !dt.Planned.IsZero() {
			forms = append([]string{forms[0] + " · planned " + dt.Planned.In(a.s.local).Format("Mon 15:04")}, forms...)
		}
		return forms, 0
	case dt.Budget == 0:
		return []string{"downtime " + dur(dt.Elapsed)}, 0
	case dt.Over():
		over := dur(dt.Elapsed - dt.Budget)
		return []string{
			st.Crit.Render(fmt.Sprintf("▲ downtime %s — OVER budget %s by %s", dur(dt.Elapsed), dur(dt.Budget), over)),
			st.Crit.Render(fmt.Sprintf("▲ downtime %s, OVER by %s", dur(dt.Elapsed), over)),
			st.Crit.Render("▲ downtime OVER by " + over),
		}, 1
	}
	full := fmt.Sprintf("downtime %s / %s (%d%%)", dur(dt.Elapsed), dur(dt.Budget), int(100*dt.Elapsed/dt.Budget))
	short := fmt.Sprintf("downtime %s/%s", dur(dt.Elapsed), dur(dt.Budget))
	if dt.Near() {
		return []string{st.Warn.Render("▲ " + full), st.Warn.Render("▲ " + short)}, 0
	}
	return []string{full, short}, 0
}

// noReturn is the header's word on the point of no return (passed or under way, or still ahead:
// in how long by the plan, naming the step) and on the AX 2012 rollback point (verified, made but
// not verified, pending, missing, or none named): two essential parts, in forms longest first,
// each wanting the form that still names the step, the state and the time (layoutParts). None
// when the runbook names no point of no return; no rollback part once it passed.
func (a *App) noReturn(d *data, proj engine.Projection) []part {
	st := a.s.styles
	v := d.snap.RollbackWith(proj)
	step, ok := d.step(v.NoReturn)
	if v.State == engine.RollbackUntracked || !ok {
		return nil
	}
	pnr := part{prio: 9, essential: true}
	id, state := step.ID, step.State.String()
	switch {
	case step.State == engine.StateSucceeded:
		pnr.forms = []string{st.Muted.Render("no return: " + id + " ✓ passed"), st.Muted.Render("no return ✓ passed")}
		return []part{pnr}
	case v.State == engine.RollbackGone:
		pnr.forms = []string{st.Crit.Render("⚠ no return: " + id + " " + state), st.Crit.Render("⚠ no return: " + state)}
		return []part{pnr}
	case step.State == engine.StateAwaiting:
		pnr.forms = []string{st.Crit.Render("⚠ no return: " + id + " awaiting"), st.Crit.Render("⚠ no return: awaiting")}
	case v.Projected:
		left := dur(v.Left)
		pnr.forms = []string{"no return: " + id + " in ≈" + left, "no return: " + id + " ≈" + left, "no return ≈" + left}
		pnr.want = 1
	default:
		pnr.forms = []string{"no return: " + id + " " + state, "no return: " + state}
	}
	rb := part{prio: 8, essential: true, want: 1}
	at := v.PointAt.In(a.s.local).Format("15:04")
	switch {
	case v.State == engine.RollbackReady && v.Proof == engine.ProofVerified:
		rb.forms = []string{st.OK.Render("rollback ready · backup verified " + at), st.OK.Render("rollback ✓ verified " + at), st.OK.Render("rollback ✓ verified")}
	case v.State == engine.RollbackReady && v.Proof == engine.ProofByHand:
		rb.forms = []string{st.Warn.Render("rollback point made by hand (not verified)"), st.Warn.Render("rollback point by hand"), st.Warn.Render("rollback by hand")}
	case v.State == engine.RollbackReady:
		rb.forms = []string{st.Warn.Render("rollback point made " + at + " (not verified)"), st.Warn.Render("rollback point unverified"), st.Warn.Render("rollback unverified")}
		rb.want = 0
	case v.State == engine.RollbackAtRisk:
		rb.forms = []string{st.Crit.Render("NO rollback point (" + v.Point + " " + v.PointState.String() + ")"), st.Crit.Render("NO rollback point")}
		rb.want = 0
	case v.Point != "":
		rb.forms = []string{st.Warn.Render("rollback point " + v.PointState.String()), st.Warn.Render("rollback " + v.PointState.String())}
		rb.want = 0
	default:
		rb.forms = []string{st.Muted.Render("rollback point: none named"), st.Muted.Render("no rollback point named"), st.Muted.Render("no rollback point")}
	}
	return []part{pnr, rb}
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

// healthGlyph is healthMark's glyph without its word, for a short header line (the glyph alone
// still tells the states apart).
func healthGlyph(h engine.Health) string {
	g, _, _ := strings.Cut(healthMark(h), " ")
	return g
}

// clockAt is a time of day as the header shows it, with how many days from now's date it falls
// when that is not today ("12:17 +1d"): a finish at 12:17 tomorrow must not read as 46 minutes
// away.
func clockAt(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	s := t.Format("15:04")
	ty, tm, td := t.Date()
	ny, nm, nd := now.Date()
	// Dates compared as UTC midnights: a day is 24 hours there, whatever the zone's changes.
	if days := int(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Sub(time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)).Hours() / 24); days != 0 {
		s += fmt.Sprintf(" %+dd", days)
	}
	return s
}
