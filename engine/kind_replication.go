package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// ReplicationHealthyKind succeeds once replication has been healthy for a stable period: agents
// without errors, the backlog and latency under their thresholds, fresh data. Until then it says
// which publication or agent holds it back.
type ReplicationHealthyKind struct{}

// Name implements Kind.
func (ReplicationHealthyKind) Name() string { return "replication.healthy" }

// Mode implements Kind.
func (ReplicationHealthyKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {publications, max_pending, max_latency, stable_for, max_age, check_every}`.
func (ReplicationHealthyKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &healthyAction{maxPending: 100000, maxLatency: 5 * time.Minute, stableFor: 10 * time.Minute, maxAge: 5 * time.Minute, every: 15 * time.Second}
	d.Fields(with, where, map[string]runbook.Field{
		"publications": func(v *yaml.Node) {
			a.publications = d.Strings(v, where, "publications")
			for _, p := range a.publications {
				if strings.TrimSpace(p) == "" || strings.Trim(p, "*") == "" {
					d.Errorf(v, where, "publications: %q matches any name: name the publications (AX_PUB_PkTable_*, AX_PUB_OtherObjects)", p)
				}
			}
		},
		"max_pending": func(v *yaml.Node) { a.maxPending = int64(d.Int(v, where, "max_pending", 0, 1<<31-1)) },
		"max_latency": func(v *yaml.Node) { a.maxLatency = d.Duration(v, where, "max_latency") },
		"stable_for":  func(v *yaml.Node) { a.stableFor = d.Duration(v, where, "stable_for") },
		"max_age":     func(v *yaml.Node) { a.maxAge = d.Duration(v, where, "max_age") },
		"check_every": func(v *yaml.Node) { a.every = d.Duration(v, where, "check_every") },
	})
	requireReplicationConnections(d, s)
	if a.every <= 0 {
		a.every = 15 * time.Second
	}
	if a.publications == nil {
		// The toolkit's primary-key publications (data-upgrade-self-service.md step 5, "Created
		// publishers: AX_PUB_PkTable_[*]"); AX_PUB_OtherObjects is not required by default: "If
		// there are no functions to replicate, the publication won't be created" (step 6).
		a.publications = []string{"AX_PUB_PkTable_*"}
	}
	return a
}

// requireReplicationConnections reports a runbook without the connections the monitor needs.
func requireReplicationConnections(d *runbook.Decoder, s *runbook.Step) {
	rb := d.Runbook()
	if rb == nil {
		return
	}
	c := rb.Connections
	var missing []string
	if c.Source == nil {
		missing = append(missing, "source")
	}
	if c.Distribution == nil {
		missing = append(missing, "distribution")
	}
	if c.Target == nil {
		missing = append(missing, "target")
	}
	if len(missing) > 0 {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind %s reads replication from SQL Server: add connections %s", s.Kind, strings.Join(missing, ", "))
	}
}

type healthyAction struct {
	// publications are the name patterns ('*' matches any run of characters) each of which must
	// match at least one publication.
	publications []string
	maxPending   int64
	maxLatency   time.Duration
	stableFor    time.Duration
	maxAge       time.Duration
	every        time.Duration
}

func (a *healthyAction) Describe() string {
	return fmt.Sprintf("wait until replication is healthy for %s: publications %s exist, every subscription is active (its snapshot applied), agents without errors, at most %d commands pending, latency under %s",
		runbook.FormatDuration(a.stableFor), strings.Join(a.publications, ", "), a.maxPending, runbook.FormatDuration(a.maxLatency))
}

// setupBlockers are replication.healthy's preconditions, weighed before any figure of the
// monitor: with no publication, or a publication whose snapshot never reached the sandbox, the
// backlog is empty and tells nothing. Every pattern of `publications` must match a publication,
// and every subscription of every publication must be active: MSsubscriptions.status 2, which
// sp_addsubscription's page describes as "initialized and ready to accept changes" (1,
// "subscribed", "needs to be initialized"). The subscription's status, not a "Delivered snapshot"
// row, is the proof the snapshot was applied: the agents' history is kept 48 hours by default
// (sp-adddistributiondb-transact-sql.md, @history_retention), and the replication is set up days
// before; the history only says why a subscription is not initialized yet. An inactive one is what
// SQL Server makes of a subscription that fell behind the distribution retention: it "need[s] to be
// reinitialized" (same page, @max_distretention). A read that fails blocks too: it never passes.
func (a *healthyAction) setupBlockers(ctx context.Context, run *Run) []string {
	pubs, err := run.Ports().Setup.Setup(ctx)
	if err != nil {
		return []string{"could not read the publications and their subscriptions: " + err.Error()}
	}
	if len(pubs) == 0 {
		return []string{"no publication exists: run the toolkit's «Replication: Setup Publication for Primary Key (PK) Tables» (migration-upgrade/data-upgrade-self-service.md, step 5)"}
	}
	var out, names []string
	for _, p := range pubs {
		names = append(names, p.Name)
	}
	for _, pat := range a.publications {
		if !slices.ContainsFunc(names, func(n string) bool { return globMatch(pat, n) }) {
			out = append(out, fmt.Sprintf("no publication named %s (there are: %s)", pat, strings.Join(names, ", ")))
		}
	}
	now := run.Clock().Now()
	for _, p := range pubs {
		out = append(out, publicationBlockers(p, now)...)
	}
	return out
}

// snapshotWaitLimit is how long troubleshoot-self-service-env.md lets a publication show "Waiting
// for snapshot to complete" before its fix applies (scenario 9: "for more than two hours").
const snapshotWaitLimit = 2 * time.Hour

// publicationBlockers says what keeps one publication's subscriptions from being active, with the
// documented fix (migration-upgrade/data-upgrade-self-service.md step 5; troubleshoot-self-service-env.md
// scenarios 3, 9 and 11).
func publicationBlockers(p PublicationSetup, now time.Time) []string {
	if len(p.Subscriptions) == 0 {
		return []string{fmt.Sprintf("%s has no subscription: the toolkit creates the sandbox's push subscription with the publication (rerun its step)", p.Name)}
	}
	var out []string
	awaiting := false
	for _, s := range p.Subscriptions {
		switch s.State {
		case SubscriptionActive:
		case SubscriptionAwaitingSnapshot:
			awaiting = true
		case SubscriptionInactive:
			out = append(out, fmt.Sprintf("%s: the subscription of %s is inactive (%d articles): in Replication Monitor, select and hold (or right-click) the publication and select Reinitialize Subscription",
				p.Name, orDash(s.SubscriberDB), s.Articles))
		default:
			out = append(out, fmt.Sprintf("%s: the subscription of %s has status %d, which the documents do not name (%d articles)", p.Name, orDash(s.SubscriberDB), s.Status, s.Articles))
		}
	}
	if !awaiting {
		return out
	}
	snap, dist := p.Snapshot, p.Distribution
	switch {
	case snap.At.IsZero():
		out = append(out, fmt.Sprintf("%s: its snapshot was never started (the subscription needs to be initialized and the snapshot agent has no history, or its history was cleaned up): "+
			"in Replication Monitor, on the Agents tab, select and hold (or right-click) the snapshot agent of %s and select Start; start one snapshot at a time and wait for \"Delivered snapshot\" before the next (data-upgrade-self-service.md, step 5)",
			p.Name, p.Name))
	case snap.Status.Bad() && strings.Contains(strings.ToLower(snap.Message), "prefetch objects failed"):
		out = append(out, fmt.Sprintf("%s: its snapshot failed at %s (%s): in Replication Monitor, select and hold (or right-click) the publication and select Generate Snapshot (troubleshoot-self-service-env.md, scenario 11)",
			p.Name, snap.At.Local().Format("15:04"), snap.Message))
	case snap.Status.Bad():
		out = append(out, fmt.Sprintf("%s: its snapshot failed at %s (%s): in Replication Monitor, on the Agents tab, select the publication, select and hold (or right-click) the snapshot agent and select Start agent (troubleshoot-self-service-env.md, scenario 3)",
			p.Name, snap.At.Local().Format("15:04"), orDash(snap.Message)))
	case snap.Status == AgentStarted || snap.Status == AgentInProgress:
		out = append(out, fmt.Sprintf("%s: its snapshot is being generated (%s at %s)", p.Name, orDash(snap.Message), snap.At.Local().Format("15:04")))
	case snap.Status != AgentSucceeded:
		out = append(out, fmt.Sprintf("%s: the subscription needs to be initialized and its snapshot agent is %s (%s at %s): "+
			"in Replication Monitor, on the Agents tab, select and hold (or right-click) the snapshot agent of %s and select Start (data-upgrade-self-service.md, step 5)",
			p.Name, snap.Status, orDash(snap.Message), snap.At.Local().Format("15:04"), p.Name))
	case now.Sub(snap.At) > snapshotWaitLimit:
		out = append(out, fmt.Sprintf("%s: its snapshot was generated at %s and is still not applied after %s (the distribution agent says: %s): "+
			"in Replication Monitor, select and hold (or right-click) the publication and select Reinitialize Subscription (troubleshoot-self-service-env.md, scenario 9)",
			p.Name, snap.At.Local().Format("15:04"), runbook.FormatDuration(now.Sub(snap.At)), orDash(dist.Message)))
	default:
		out = append(out, fmt.Sprintf("%s: its snapshot was generated at %s and is being applied to the sandbox (the distribution agent says: %s)",
			p.Name, snap.At.Local().Format("15:04"), orDash(dist.Message)))
	}
	return out
}

// globMatch matches a publication name against a pattern in which '*' stands for any run of
// characters, ignoring case (SQL Server's default collations ignore it).
func globMatch(pattern, name string) bool {
	p, n := strings.ToUpper(pattern), strings.ToUpper(name)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == n
	}
	if !strings.HasPrefix(n, parts[0]) {
		return false
	}
	n = n[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(n, mid)
		if i < 0 {
			return false
		}
		n = n[i+len(mid):]
	}
	return strings.HasSuffix(n, parts[len(parts)-1])
}

// Rerunnable: it only reads.
func (a *healthyAction) Rerunnable() bool { return true }

// monitorBlockers lists what makes the monitor's picture unusable or unhealthy — missing or stale
// data, failing sources, agents in error — by the one replication verdict (Judge) with no pending
// or latency threshold.
func monitorBlockers(v *ReplicationView, now time.Time, maxAge time.Duration) []string {
	return v.Judge(Thresholds{MaxAge: maxAge}, now).Blocking()
}

// blockers is what keeps replication from healthy: the replication verdict (Judge) with the step's
// limits as its warning thresholds — anything but OK blocks.
func (a *healthyAction) blockers(v *ReplicationView, now time.Time) []string {
	return v.Judge(Thresholds{WarnPending: a.maxPending, WarnLatency: a.maxLatency, MaxAge: a.maxAge}, now).Blocking()
}

// shape is a message without its figures: what it says, not how much.
func shape(msg string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, msg)
}

func (a *healthyAction) Run(ctx context.Context, run *Run) error {
	if run.Ports().Replication == nil {
		return Permanent(errors.New("no replication monitor: the runbook's connections are not configured"))
	}
	if run.Ports().Setup == nil {
		return Permanent(errors.New("cannot read the publications and subscriptions: the runbook's source and distribution connections are not configured"))
	}
	var since, loggedAt time.Time
	var logged string
	for {
		now := run.Clock().Now()
		v := run.Replication()
		blocking := append(a.setupBlockers(ctx, run), a.blockers(v, now)...)
		if len(blocking) > 0 {
			msg := strings.Join(blocking, "; ")
			switch {
			case !since.IsZero():
				run.Logf("no longer healthy: %s", msg)
			case shape(msg) != logged || now.Sub(loggedAt) >= 5*time.Minute:
				// The log says what holds the step back when that changes, and every 5 minutes.
				run.Logf("held back: %s", msg)
			default:
				msg = ""
			}
			if msg != "" {
				logged, loggedAt = shape(msg), now
			}
			since = time.Time{}
			run.Progress(Progress{Percent: -1, Message: "held back: " + strings.Join(blocking, "; ")})
		} else {
			if since.IsZero() {
				since = now
				run.Logf("healthy: %d commands pending; must stay so for %s", v.TotalPending, runbook.FormatDuration(a.stableFor))
			}
			held := now.Sub(since)
			if held >= a.stableFor {
				run.SetMessage(fmt.Sprintf("healthy for %s: %d commands pending, %d agents", runbook.FormatDuration(held), v.TotalPending, len(v.Agents)))
				return nil
			}
			run.Progress(Progress{Percent: 100 * held.Seconds() / a.stableFor.Seconds(),
				Message: fmt.Sprintf("healthy for %s of %s", runbook.FormatDuration(held), runbook.FormatDuration(a.stableFor)), ETA: a.stableFor - held})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.every); err != nil {
			return fmt.Errorf("replication not healthy: %s (%w)", strings.Join(blocking, "; "), err)
		}
	}
}

// ReplicationDrainKind is the gate in front of "Remove replication setup": it opens only when every
// AOS is stopped, nobody is connected to AX, writes have stopped, a tracer token posted after the
// shutdown has arrived on every transactional publication, the backlog is zero and no agent is in
// error. Until then it says which condition blocks, with the backlog's ETA.
type ReplicationDrainKind struct{}

// Name implements Kind.
func (ReplicationDrainKind) Name() string { return "replication.drain" }

// Mode implements Kind.
func (ReplicationDrainKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {quiet_for, max_age, check_every}`.
func (ReplicationDrainKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &drainAction{quietFor: 2 * time.Minute, maxAge: 5 * time.Minute, every: 15 * time.Second}
	d.Fields(with, where, map[string]runbook.Field{
		"quiet_for":   func(v *yaml.Node) { a.quietFor = d.Duration(v, where, "quiet_for") },
		"max_age":     func(v *yaml.Node) { a.maxAge = d.Duration(v, where, "max_age") },
		"check_every": func(v *yaml.Node) { a.every = d.Duration(v, where, "check_every") },
	})
	requireReplicationConnections(d, s)
	if rb := d.Runbook(); rb != nil && rb.AOS != nil {
		for _, in := range rb.AOS.Instances {
			a.instances = append(a.instances, aosInstance{host: in.Host, service: in.Service})
		}
	}
	if a.every <= 0 {
		a.every = 15 * time.Second
	}
	return a
}

type drainAction struct {
	quietFor  time.Duration
	maxAge    time.Duration
	every     time.Duration
	instances []aosInstance
}

func (a *drainAction) Describe() string {
	return fmt.Sprintf("wait until replication has drained: every AOS stopped, no AX sessions, no writes for %s, a tracer token posted after the shutdown arrived on every transactional publication, 0 commands pending, no agent in error",
		runbook.FormatDuration(a.quietFor))
}

// Rerunnable: it only reads and posts tracer tokens, which are harmless to post again.
func (a *drainAction) Rerunnable() bool { return true }

// Condition is one thing the drain gate waits for.
type Condition struct {
	Name   string
	OK     bool
	Detail string
}

func (a *drainAction) Run(ctx context.Context, run *Run) error { return a.drain(ctx, run, nil) }

// Resume keeps the tracer tokens already posted.
func (a *drainAction) Resume(ctx context.Context, run *Run) error {
	tokens := map[string]int{}
	var posted time.Time
	for k, v := range run.Ref() {
		if pub, ok := strings.CutPrefix(k, "tracer:"); ok {
			if id, err := strconv.Atoi(v); err == nil {
				tokens[pub] = id
			}
		}
		if k == "tracers_posted" {
			posted, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	if len(tokens) == 0 || posted.IsZero() {
		return a.drain(ctx, run, nil)
	}
	run.Logf("following the %d tracer tokens posted at %s", len(tokens), posted.Local().Format("15:04:05"))
	return a.drain(ctx, run, &tracerSet{ids: tokens, posted: posted, arrived: map[string]bool{}})
}

type tracerSet struct {
	ids     map[string]int
	posted  time.Time
	arrived map[string]bool
}

func (a *drainAction) drain(ctx context.Context, run *Run, tokens *tracerSet) error {
	ports := run.Ports()
	switch {
	case ports.Replication == nil:
		return Permanent(errors.New("no replication monitor: the runbook's connections are not configured"))
	case ports.AX == nil:
		return Permanent(errors.New("no AX source connection: the drain gate cannot see sessions and writes"))
	case ports.Tracers == nil:
		return Permanent(errors.New("no tracer tokens: the drain gate needs the source connection"))
	}
	// The log gets a line when the set of blocking conditions changes, and otherwise once a
	// minute; the step's progress carries every poll's detail.
	var lastKey string
	var lastLogged time.Time
	for {
		conds := a.check(ctx, run, &tokens)
		var blocking, names []string
		for _, c := range conds {
			if !c.OK {
				blocking = append(blocking, c.Name+": "+c.Detail)
				names = append(names, c.Name)
			}
		}
		if len(blocking) == 0 {
			details := make([]string, len(conds))
			for i, c := range conds {
				details[i] = c.Detail
			}
			run.SetMessage("drained: " + strings.Join(details, "; "))
			return nil
		}
		msg := strings.Join(blocking, "; ")
		if v := run.Replication(); v != nil && v.ETA > 0 {
			msg += fmt.Sprintf(" (backlog drains in about %s)", runbook.FormatDuration(v.ETA))
		}
		if key, now := strings.Join(names, ","), run.Clock().Now(); key != lastKey || now.Sub(lastLogged) >= time.Minute {
			run.Logf("blocked: %s", msg)
			lastKey, lastLogged = key, now
		}
		ok := 0
		for _, c := range conds {
			if c.OK {
				ok++
			}
		}
		run.Progress(Progress{Percent: 100 * float64(ok) / float64(len(conds)), Message: msg})
		if err := clock.Sleep(ctx, run.Clock(), a.every); err != nil {
			return fmt.Errorf("not drained: %s (%w)", msg, err)
		}
	}
}

// check evaluates every condition once; tracer tokens are posted once the AX side is quiet.
func (a *drainAction) check(ctx context.Context, run *Run, tokens **tracerSet) []Condition {
	ports := run.Ports()
	now := run.Clock().Now()
	var conds []Condition

	aos := Condition{Name: "AOS stopped", OK: true}
	if ports.Services != nil && len(a.instances) > 0 {
		var running []string
		for _, in := range a.instances {
			st, _, err := ports.Services.State(ctx, in.host, in.service)
			if err != nil || st != ServiceStopped {
				detail := st.String()
				if err != nil {
					detail = err.Error()
				}
				running = append(running, fmt.Sprintf("%s (%s)", in, detail))
			}
		}
		if len(running) > 0 {
			aos.OK, aos.Detail = false, strings.Join(running, ", ")+" not stopped"
		} else {
			aos.Detail = fmt.Sprintf("%d AOS stopped", len(a.instances))
		}
	}
	act, err := ports.AX.Activity(ctx)
	sessions := Condition{Name: "no AX sessions"}
	switch {
	case err != nil:
		sessions.Detail = "cannot read AX sessions: " + err.Error()
	case len(act.Servers) > 0:
		sessions.Detail = fmt.Sprintf("%d AOS server session(s) active: %s", len(act.Servers), serverList(act.Servers))
	case len(act.Users) > 0:
		sessions.Detail = fmt.Sprintf("%d client session(s) active%s", len(act.Users), endingText(act.EndingUsers()))
	case act.ExecutingTasks > 0:
		sessions.Detail = fmt.Sprintf("%d batch task(s) executing", act.ExecutingTasks)
		if act.CancellingTasks > 0 {
			sessions.Detail += fmt.Sprintf(" (%d cancelling, still ending)", act.CancellingTasks)
		}
	default:
		sessions.OK, sessions.Detail = true, "no AX sessions"
	}
	if len(act.Servers) > 0 && aos.Detail == "" {
		aos.OK, aos.Detail = false, fmt.Sprintf("%d AOS active in AX", len(act.Servers))
	} else if aos.Detail == "" {
		aos.Detail = "AX shows no running AOS"
	}
	conds = append(conds, aos, sessions)

	writes := Condition{Name: "writes stopped"}
	lastWrite, werr := ports.AX.LastWrite(ctx)
	lastRepl, rerr := ports.AX.NewestReplicated(ctx)
	newest := lastWrite
	if lastRepl.After(newest) {
		newest = lastRepl
	}
	switch {
	case werr != nil || rerr != nil:
		writes.Detail = "cannot read write activity: " + errors.Join(werr, rerr).Error()
	case newest.IsZero() || now.Sub(newest) >= a.quietFor:
		writes.OK = true
		writes.Detail = "no writes since " + sinceText(newest)
	default:
		writes.Detail = fmt.Sprintf("last write %s ago (must be quiet for %s)", runbook.FormatDuration(now.Sub(newest)), runbook.FormatDuration(a.quietFor))
	}
	conds = append(conds, writes)

	// Tracer tokens: posted once the AOS are down and nobody is connected, then followed.
	tracer := Condition{Name: "tracer tokens"}
	if *tokens == nil && aos.OK && sessions.OK {
		if t, err := a.post(ctx, run); err != nil {
			tracer.Detail = "cannot post tracer tokens: " + err.Error()
		} else {
			*tokens = t
		}
	}
	if *tokens == nil {
		if tracer.Detail == "" {
			tracer.Detail = "posted after the shutdown (waiting for the AOS and sessions)"
		}
	} else {
		var missing []string
		pubs := make([]string, 0, len((*tokens).ids))
		for p := range (*tokens).ids {
			pubs = append(pubs, p)
		}
		sort.Strings(pubs)
		for _, p := range pubs {
			if (*tokens).arrived[p] {
				continue
			}
			ok, _, err := ports.Tracers.Arrived(ctx, p, (*tokens).ids[p])
			switch {
			case err != nil:
				missing = append(missing, fmt.Sprintf("%s (%v)", p, err))
			case ok:
				(*tokens).arrived[p] = true
			default:
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			tracer.OK, tracer.Detail = true, fmt.Sprintf("%d tracer token(s) arrived", len(pubs))
		} else {
			tracer.Detail = "not arrived on " + strings.Join(missing, ", ")
		}
	}
	conds = append(conds, tracer)

	backlog := Condition{Name: "backlog empty"}
	agents := Condition{Name: "agents healthy", OK: true, Detail: "no agent in error"}
	v := run.Replication()
	if bl := monitorBlockers(v, now, a.maxAge); len(bl) > 0 {
		backlog.Detail = bl[0]
		agents.OK, agents.Detail = false, strings.Join(bl, "; ")
	} else {
		switch {
		case *tokens != nil && v.PendingAt.Before((*tokens).posted):
			backlog.Detail = "waiting for a backlog read after the tracer tokens"
		case v.TotalPending > 0:
			backlog.Detail = fmt.Sprintf("%d commands pending", v.TotalPending)
		default:
			backlog.OK, backlog.Detail = true, "0 commands pending"
		}
	}
	return append(conds, backlog, agents)
}

// post posts a tracer token on every transactional publication and journals their ids.
func (a *drainAction) post(ctx context.Context, run *Run) (*tracerSet, error) {
	tr := run.Ports().Tracers
	pubs, err := tr.TransactionalPublications(ctx)
	if err != nil {
		return nil, err
	}
	t := &tracerSet{ids: map[string]int{}, posted: run.Clock().Now(), arrived: map[string]bool{}}
	ref := map[string]string{"tracers_posted": t.posted.UTC().Format(time.RFC3339Nano)}
	for _, p := range pubs {
		id, err := tr.Post(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("post on %s: %w", p, err)
		}
		t.ids[p] = id
		ref["tracer:"+p] = strconv.Itoa(id)
	}
	if err := run.Record(ref); err != nil {
		return nil, err
	}
	run.Logf("posted tracer tokens on %d transactional publication(s)", len(pubs))
	return t, nil
}

func sinceText(t time.Time) string {
	if t.IsZero() {
		return "SQL Server started"
	}
	return t.Local().Format("15:04:05")
}
