// The lcs.refresh step: the production database refresh from the upgraded sandbox, via LCS.

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// LCSRefreshKind copies one environment's database into another. Into a sandbox it starts the
// refresh through the API, journals the operation id before polling it, and after a restart keeps
// polling that operation — it never starts a second one. Into production (which the API does not
// offer) it is a guided step: it shows the portal path and what a refresh resets, waits for the
// operators' typed confirmations that they started it, then follows it in the environment's
// history until it completes.
type LCSRefreshKind struct{}

// Name implements Kind.
func (LCSRefreshKind) Name() string { return "lcs.refresh" }

// Mode implements Kind.
func (LCSRefreshKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {source, target, poll, find_within}`.
func (LCSRefreshKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &refreshAction{poll: time.Minute, findWithin: 6 * time.Hour}
	present := d.Fields(with, where, map[string]runbook.Field{
		"source":      func(v *yaml.Node) { a.source, _ = lcsEnv(d, s, v, "source"); a.sourceLabel = v.Value },
		"target":      func(v *yaml.Node) { a.target, a.production = lcsEnv(d, s, v, "target"); a.targetLabel = v.Value },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
		"find_within": func(v *yaml.Node) { a.findWithin = d.Duration(v, where, "find_within") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.refresh needs `with: {source: sandbox, target: production}`")
		return a
	}
	d.Require(with, where, present, "source", "target")
	if !s.Destructive {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "lcs.refresh overwrites the target's database: mark the step destructive: true")
	}
	if a.production && s.Approvals == 0 {
		s.Approvals = 2 // the point of no return needs two people unless the runbook says otherwise
	}
	if a.poll < time.Second {
		a.poll = time.Second
	}
	return a
}

type refreshAction struct {
	source, target           string
	sourceLabel, targetLabel string
	production               bool
	poll                     time.Duration
	findWithin               time.Duration
}

// refreshResets is what a refresh into production does besides copying (database-refresh.md).
const refreshResets = `a refresh cannot be cancelled; afterwards all users except Admin are disabled, all batch jobs are set to Withhold, batch history and server configuration are cleared, attachments stored in blobs are not copied, and the point-in-time-restore chain restarts`

func (a *refreshAction) Describe() string {
	if a.production {
		return fmt.Sprintf("refresh %s (%s) from %s (%s) — the API does not offer this refresh: start it yourself in the LCS portal:\n  %s environment → Maintain → Move database → Refresh database, source = %s\nthen confirm here that it started; cutover follows it in the environment's history.\n%s",
			a.targetLabel, a.target, a.sourceLabel, a.source, a.targetLabel, a.source, refreshResets)
	}
	return fmt.Sprintf("refresh %s (%s) from %s (%s) through the LCS API and follow the operation until it completes; %s",
		a.targetLabel, a.target, a.sourceLabel, a.source, "the target environment goes offline while its database is replaced")
}

// stopEffect implements stopNoter: LCS goes on with a refresh that started (database-refresh.md:
// it cannot be cancelled).
func (a *refreshAction) stopEffect() string {
	return "A refresh that started goes on in LCS: it cannot be cancelled. cutover stops following it and the step fails; the environment's history in LCS shows how it ends."
}

// Preview shows the database operation budget with the confirmation and, when a retry asks
// again, what the refresh an earlier attempt followed is doing (so the operators know whether
// confirming starts a new one).
func (a *refreshAction) Preview(ctx context.Context, run *Run) (Preview, error) {
	api, err := needLCS(run)
	if err != nil {
		return Preview{}, err
	}
	var s string
	q, err := api.Quota(ctx, a.target)
	switch {
	case err != nil:
		s = fmt.Sprintf("database operations counted for %s could not be read: %v", a.targetLabel, err)
	case a.production:
		// The portal refresh is not throttled: what LCS counted is information.
		s = portalQuotaNote(q, a.targetLabel)
	default:
		s = fmt.Sprintf("database operations left for %s in the rolling 24 hours: %d of 3", a.targetLabel, q.Remaining)
		if q.Remaining == 0 && !q.NextSlot.IsZero() {
			s += " (next at " + q.NextSlot.Local().Format("15:04") + ")"
		}
		if q.Remaining < 2 {
			s += " — a failed refresh could not be retried through the API tonight"
		}
	}
	if note := a.earlierNote(ctx, run, api); note != "" {
		s += "\n" + note
	}
	return Preview{Text: s}, nil
}

// earlierNote says what confirming does about the refresh an earlier attempt followed ("" when
// there is none).
func (a *refreshAction) earlierNote(ctx context.Context, run *Run, api LCS) string {
	prev := earlierAttempt(run)
	if prev.activity == "" {
		return ""
	}
	op, err := api.Operation(ctx, a.target, prev.activity)
	switch {
	case err != nil:
		return fmt.Sprintf("attempt %d followed refresh %s, whose state cannot be read now (%v): confirming looks at it again first and starts no other refresh while it runs", prev.attempt, prev.activity, err)
	case !op.Terminal || op.Succeeded:
		return fmt.Sprintf("attempt %d's refresh, operation %s, is %s: confirming follows it; no new refresh is started", prev.attempt, prev.activity, op.Status)
	case a.production:
		return fmt.Sprintf("attempt %d's refresh, operation %s, ended %s: start a new refresh in the portal; cutover ignores the ended one", prev.attempt, prev.activity, op.Status)
	}
	return fmt.Sprintf("attempt %d's refresh, operation %s, ended %s: confirming starts a new refresh", prev.attempt, prev.activity, op.Status)
}

func (a *refreshAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	if a.production {
		// The earlier attempt's refresh first, before this attempt records anything: should its
		// state be unreadable now, the next retry must still find that attempt's refresh. The
		// operators confirmed when the attempt started (a re-run after a crash keeps that moment).
		since := run.Started
		if since.IsZero() {
			since = run.Clock().Now()
		}
		if handled, err := a.followEarlier(ctx, run, api); handled {
			return err
		}
		if err := run.Record(map[string]string{"guided_since": since.UTC().Format(time.RFC3339Nano)}); err != nil {
			return err
		}
		return a.followPortal(ctx, run, api, since)
	}
	// A retry first follows the refresh an earlier attempt started, unless it ended badly.
	if handled, err := a.followEarlier(ctx, run, api); handled {
		return err
	}
	// Journal the intent before the request: if cutover dies before the answer is journaled, the
	// restart looks in the history instead of starting a second refresh.
	intent := run.Clock().Now()
	if err := run.Record(map[string]string{"intent": intent.UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	activity, err := api.StartRefresh(ctx, a.source, a.target)
	if err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return a.adopt(ctx, run, api, intent)
		}
		return err
	}
	if err := run.Record(map[string]string{"activity": activity}); err != nil {
		return err
	}
	run.Logf("LCS accepted the refresh: operation %s", activity)
	return a.follow(ctx, run, api, activity)
}

// Rerunnable: an attempt cut off before it recorded anything had sent nothing to LCS (a refresh
// request is always preceded by its journaled intent; the guided production step only reads), so
// running it again cannot start a second refresh.
func (a *refreshAction) Rerunnable() bool { return true }

// Resume keeps following the operation a previous run started; it never starts another.
func (a *refreshAction) Resume(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	ref := run.Ref()
	if id := ref["activity"]; id != "" {
		run.Logf("resuming: following LCS operation %s (started before the restart)", id)
		return a.follow(ctx, run, api, id)
	}
	if since, err := time.Parse(time.RFC3339Nano, ref["guided_since"]); err == nil {
		return a.followPortal(ctx, run, api, since)
	}
	if intent, err := time.Parse(time.RFC3339Nano, ref["intent"]); err == nil {
		return a.adopt(ctx, run, api, intent)
	}
	return Permanent(errors.New("interrupted before anything was sent to LCS; retry the step"))
}

// isRefresh recognizes a refresh in the environment history.
func isRefresh(op LCSOperation) bool {
	t := strings.ToLower(op.Type + " " + op.Name)
	return strings.Contains(t, "refresh") || strings.Contains(t, "sourcedbto")
}

// ended reports whether a history entry had stopped: a terminal status, or an end time (history
// statuses LCS spells differently from the operation API's still end).
func ended(op LCSOperation) bool { return op.Terminal || !op.Ended.IsZero() }

// refreshSince is the newest refresh in hist (newest first) started at or after from.
func refreshSince(hist []LCSOperation, from time.Time) (LCSOperation, bool) {
	for _, op := range hist {
		if isRefresh(op) && op.ActivityID != "" && !op.Started.Before(from) {
			return op, true
		}
	}
	return LCSOperation{}, false
}

// earlierRefresh is what the newest earlier attempt of a refresh step journaled.
type earlierRefresh struct {
	attempt  int
	activity string
	intent   time.Time
}

// earlierAttempt is what the step's newest earlier attempt journaled, so a retry follows the
// refresh that attempt started instead of starting a second one.
func earlierAttempt(run *Run) earlierRefresh {
	n, ref := run.Earlier()
	out := earlierRefresh{attempt: n, activity: ref["activity"]}
	if t, err := time.Parse(time.RFC3339Nano, ref["intent"]); err == nil {
		out.intent = t
	}
	return out
}

// followEarlier follows the refresh the step's newest earlier attempt started, unless it ended
// badly: it may still run, or have completed while that attempt could not read it. handled is
// false when there is no such refresh, so a new one is due.
func (a *refreshAction) followEarlier(ctx context.Context, run *Run, api LCS) (handled bool, err error) {
	prev := earlierAttempt(run)
	id := prev.activity
	if id == "" && !prev.intent.IsZero() {
		// That attempt's answer was lost: its refresh, if LCS started one, is in the history.
		hist, err := api.History(ctx, a.target)
		if err != nil {
			return true, readFailed(fmt.Sprintf("attempt %d may have started a refresh at %s; reading %s's history to find it", prev.attempt, prev.intent.Local().Format("15:04:05"), a.targetLabel), err)
		}
		if op, ok := refreshSince(hist, prev.intent.Add(-time.Minute)); ok {
			id = op.ActivityID
		}
	}
	if id == "" {
		return false, nil
	}
	op, err := api.Operation(ctx, a.target, id)
	if err != nil {
		return true, readFailed(fmt.Sprintf("attempt %d started refresh %s; reading its state before deciding whether another is needed", prev.attempt, id), err)
	}
	if op.Terminal && !op.Succeeded {
		run.Logf("attempt %d's refresh, operation %s, ended %s: it is not followed again", prev.attempt, id, op.Status)
		return false, nil
	}
	if err := run.Record(map[string]string{"activity": id}); err != nil {
		return true, err
	}
	run.Logf("attempt %d's refresh, operation %s, is %s: following it instead of starting another", prev.attempt, id, op.Status)
	return true, a.follow(ctx, run, api, id)
}

// readFailed fails a step that could not read LCS before a decision: at once when waiting cannot
// help, otherwise through the step's retries. It never decides blind.
func readFailed(what string, err error) error {
	if IsPermanent(err) {
		return permanentRead(what, err, "retry this step")
	}
	return fmt.Errorf("%s: %w (no refresh was started; retry this step when LCS answers)", what, err)
}

// adopt finds the refresh a lost answer may have started, in the target's history.
func (a *refreshAction) adopt(ctx context.Context, run *Run, api LCS, intent time.Time) error {
	hist, err := api.History(ctx, a.target)
	if err != nil {
		return Permanent(fmt.Errorf("a refresh may have been started at %s but LCS's answer was lost, and the history cannot be read (%w): look at %s's history in LCS; retrying this step looks there again before starting anything", intent.Local().Format("15:04:05"), err, a.targetLabel))
	}
	if op, ok := refreshSince(hist, intent.Add(-time.Minute)); ok {
		if err := run.Record(map[string]string{"activity": op.ActivityID}); err != nil {
			return err
		}
		run.Logf("found the refresh in %s's history: operation %s (%s)", a.targetLabel, op.ActivityID, op.Status)
		return a.follow(ctx, run, api, op.ActivityID)
	}
	return Permanent(fmt.Errorf("a refresh may have been started at %s, but %s's history shows none: check the environment in LCS; if no refresh is running, retry this step", intent.Local().Format("15:04:05"), a.targetLabel))
}

// follow polls an operation until it ends. LCS not answering (network, 5xx, 429) is waited out
// with the outage's age shown; a refusal waiting cannot fix (sign-in, permissions, an unknown
// environment) fails the step, and a retry follows the same operation again.
func (a *refreshAction) follow(ctx context.Context, run *Run, api LCS, activity string) error {
	start := run.Clock().Now()
	last := ""
	var out outage
	what := "reading refresh " + activity + " in LCS"
	for {
		op, err := api.Operation(ctx, a.target, activity)
		now := run.Clock().Now()
		switch {
		case IsPermanent(err):
			return permanentRead(what, err, fmt.Sprintf("retry this step: it looks at operation %s again first and starts no other refresh while that one runs", activity))
		case err != nil:
			out.fail(run, now, what, err)
		default:
			out.ok(run, now, what)
			if op.Status != last {
				run.Logf("operation %s: %s", activity, op.Status)
				last = op.Status
				_ = run.Record(map[string]string{"status": op.Status})
			}
			if op.Terminal {
				if op.Succeeded {
					run.SetMessage(fmt.Sprintf("refresh %s %s after %s", activity, op.Status, runbook.FormatDuration(now.Sub(start))))
					return nil
				}
				return Permanent(fmt.Errorf("the refresh of %s (operation %s) ended %s: %s", a.targetLabel, activity, op.Status, a.endedAdvice(op.Status, activity)))
			}
		}
		switch {
		case out.failures > 0:
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("refresh %s: last known %s; %s", activity, orDash(last), out.status(now))})
		case last != "":
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("refresh %s: %s for %s", activity, last, runbook.FormatDuration(now.Sub(start)))})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("refresh %s still %s: %w", activity, orDash(last), err)
		}
	}
}

// endedAdvice says what to do after a refresh ended without success, by its final state.
func (a *refreshAction) endedAdvice(status, activity string) string {
	again := "retry this step to start a new refresh"
	if a.production {
		again = "start a new refresh in the LCS portal and retry this step (cutover ignores the ended one)"
	}
	quota := "; a new refresh uses another of the 3 database operations allowed in 24 hours"
	if a.production {
		// Counted by LCS, but the portal refresh is never refused for it.
		quota = ""
	}
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "failed":
		return fmt.Sprintf("%s's database may be unusable. In LCS open %s → History, download the refresh's runbook logs and find the cause; then either roll the refresh back there (Rollback restores the previous database) or %s%s",
			a.targetLabel, a.targetLabel, again, quota)
	case "rollbackcompleted":
		return fmt.Sprintf("the refresh failed and was rolled back, so %s has its previous database again. Find the cause in the refresh's runbook logs (LCS → %s → History) before trying again; then %s%s",
			a.targetLabel, a.targetLabel, again, quota)
	case "rollbackfailed":
		return fmt.Sprintf("the refresh failed and so did its rollback: %s's database is in an unknown state. Do not go on with the cutover: open a support request in LCS quoting operation %s",
			a.targetLabel, activity)
	case "aborted":
		return fmt.Sprintf("the refresh was cancelled in LCS; to refresh %s, %s%s", a.targetLabel, again, quota)
	}
	return fmt.Sprintf("look at the operation in %s's history in LCS and download its runbook logs before trying again; then %s%s", a.targetLabel, again, quota)
}

// followPortal finds the refresh the operators started in the portal and follows it. Only a
// refresh that had not ended when they confirmed counts: the history still holds earlier ones (a
// failed attempt, a rehearsal within find_within), and adopting one of those would fail the step
// again or let it succeed without a new refresh. The refreshes that had ended are journaled
// with the first good read of the history, so a restart ignores the same ones — and still adopts
// a new refresh that ended while cutover was down.
func (a *refreshAction) followPortal(ctx context.Context, run *Run, api LCS, since time.Time) error {
	ref := run.Ref()
	var old map[string]bool
	if ref["known_at"] != "" {
		old = map[string]bool{}
		for _, id := range strings.Split(ref["ended_before"], ",") {
			if id != "" {
				old[id] = true
			}
		}
	}
	from := since.Add(-a.findWithin)
	var out outage
	what := "reading " + a.targetLabel + "'s history in LCS"
	for {
		hist, err := api.History(ctx, a.target)
		now := run.Clock().Now()
		switch {
		case IsPermanent(err):
			return permanentRead(what, err, "retry this step (a refresh already started in the portal is found again)")
		case err != nil:
			out.fail(run, now, what, err)
		default:
			out.ok(run, now, what)
			if old == nil {
				if old, err = a.noteEnded(run, hist, from, since, now); err != nil {
					return err
				}
			}
			for _, op := range hist {
				if isRefresh(op) && op.ActivityID != "" && !old[op.ActivityID] && !op.Started.Before(from) {
					if err := run.Record(map[string]string{"activity": op.ActivityID}); err != nil {
						return err
					}
					run.Logf("found the refresh started in the portal: operation %s (%s), started %s", op.ActivityID, op.Status, op.Started.Local().Format("15:04"))
					return a.follow(ctx, run, api, op.ActivityID)
				}
			}
		}
		msg := fmt.Sprintf("no new refresh in %s's history yet: start it in the LCS portal (Maintain → Move database → Refresh database, source %s)", a.targetLabel, a.source)
		if len(old) > 0 {
			msg += fmt.Sprintf("; %d refresh(es) that had ended before the confirmation are ignored", len(old))
		}
		if s := out.status(now); s != "" {
			msg = s + "; " + msg
		}
		run.Progress(Progress{Percent: -1, Message: msg})
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("no refresh of %s found in LCS: %w", a.targetLabel, err)
		}
	}
}

// noteEnded journals the refreshes in the history that had already ended when the operators
// confirmed (since), and returns their ids. The first good read of the history may come long
// after the confirmation (LCS out of reach): a refresh that ended after since is the operators'
// own and is not ignored; one that has ended at an unknown time counts as old only if it started
// before since.
func (a *refreshAction) noteEnded(run *Run, hist []LCSOperation, from, since, now time.Time) (map[string]bool, error) {
	old := map[string]bool{}
	var ids []string
	for _, op := range hist {
		if !isRefresh(op) || !ended(op) || op.ActivityID == "" || op.Started.Before(from) || old[op.ActivityID] {
			continue
		}
		if endedAt := op.Ended; (!endedAt.IsZero() && endedAt.After(since)) || (endedAt.IsZero() && op.Started.After(since)) {
			continue
		}
		old[op.ActivityID] = true
		ids = append(ids, op.ActivityID)
		run.Logf("ignoring refresh %s of %s (%s, started %s): it had ended before the confirmation", op.ActivityID, a.targetLabel, op.Status, op.Started.Local().Format("2006-01-02 15:04"))
	}
	if err := run.Record(map[string]string{"known_at": now.UTC().Format(time.RFC3339Nano), "ended_before": strings.Join(ids, ",")}); err != nil {
		return nil, err
	}
	return old, nil
}
