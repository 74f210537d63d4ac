package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// pubKind is the role of a publication.
type pubKind int

const (
	pubPK     pubKind = iota + 1 // AX_PUB_PkTable_N: transactional, continuous
	pubOther                     // AX_PUB_OtherObjects: functions
	pubNoPK                      // AX_PUB_NoPKTable: snapshot only
	pubLocked                    // AX_PUB_TABLE_LockedTable: snapshot at cutover
)

const (
	historyInterval   = 30.0   // seconds between agent history rows
	cleanupInterval   = 600.0  // distribution cleanup job period
	backlogAge        = 2400.0 // the initial backlog was queued over the 40 min before start
	logReaderLatency  = 1.8    // seconds from commit to the distribution database
	deliveryLatency   = 1.2    // seconds from the distribution database to the subscriber
	commandsPerTxn    = 3.4    // average commands per replicated transaction
	latencyThreshold  = 30     // monitor warning threshold (seconds)
	snapshotBatchRows = 100_000
)

type publication struct {
	id        int32
	name      string
	nameAny   any
	kind      pubKind
	tables    []int
	functions []string
	funcIDs   []int32 // article ids of the functions
	created   float64 // sim seconds

	// The command queue (PK and OtherObjects publications): everything
	// enqueued is initTotal + share*cumW, delivered counts what the
	// distribution agent applied, FIFO (the initial backlog first).
	share     float64
	initTotal float64
	delivered float64
	caughtUp  bool
	rate      float64 // current delivery rate (commands/s)

	down      bool // distribution agent failed
	downMsg   string
	downErrID int32
	downAt    float64

	histPrevD, histLastD float64
	sessionD0, sessionT0 float64
	cleanD               float64
	lastDelivery         float64
	avgLatency           float64

	snap *snapSchedule // NoPK and locked publications

	// unstarted marks a publication whose snapshot was never started (ScenarioSnapshotNotStarted):
	// its subscription stays "subscribed" (it needs to be initialized) and its snapshot agent has no
	// history until StartSnapshot; initSnap is the snapshot StartSnapshot started. The simulator
	// models the subscription's status and the agents' history only: the publication's command queue
	// is modelled as for an initialized one.
	unstarted bool
	initSnap  *snapSchedule

	distName, snapName string
	distAny, snapAny   any
}

// nameAgents names the publication's agents as SQL Server does:
// <publisher>-<publisher db>-<publication>[-<subscriber>]-<n>.
func (w *World) nameAgents(p *publication) {
	c := &w.cfg
	trim := func(s string) string {
		if len(s) > 100 {
			return s[:100]
		}
		return s
	}
	p.snapName = trim(fmt.Sprintf("%s-%s-%s-%d", c.SourceServerName, c.SourceDatabase, p.name, p.id))
	p.distName = trim(fmt.Sprintf("%s-%s-%s-%s-%d", c.SourceServerName, c.SourceDatabase, p.name, c.TargetServerName, p.id))
	p.snapAny, p.distAny = p.snapName, p.distName
}

// logReaderName is the one log reader agent of the AX database.
func (w *World) logReaderName() string {
	return fmt.Sprintf("%s-%s-1", w.cfg.SourceServerName, w.cfg.SourceDatabase)
}

func (p *publication) transactional() bool { return p.kind != pubNoPK }

// initialized reports whether the publication's subscription is initialized at t: its snapshot
// was applied (MSsubscriptions.status 2, active, rather than 1, subscribed).
func (p *publication) initialized(t float64) bool {
	switch {
	case p.unstarted:
		return false
	case p.initSnap != nil:
		return t >= p.initSnap.end
	case p.snap != nil:
		return t >= p.snap.end
	}
	return true
}

// queued is whether the publication takes part in continuous delivery.
func (p *publication) queued() bool { return p.kind == pubPK || p.kind == pubOther }

type writeBreak struct{ t, cum, rate float64 }

type tracerToken struct {
	id      int32
	pub     int
	posted  float64
	pos     float64
	arrived float64 // +Inf until delivered
}

type replError struct {
	id   int32
	at   float64
	code string
	text string
}

type replState struct {
	cumW      float64 // all application writes so far (commands)
	breaks    []writeBreak
	nextTick  float64
	histTime  float64
	lrPrevW   float64
	lrLastW   float64
	lastWrite float64 // sim seconds of the newest write, -Inf: none
	// directRate is the write rate that does not depend on the AOS (SetDirectWriteRate).
	directRate float64
	drainRate  float64
	writeRate  float64 // with every AOS running

	tokens      []tracerToken
	nextToken   int32
	nextArticle int32
	frozen      []int64 // target rows at removal
	errors      []replError
	cands       []*publication // scratch for allocate
}

func (w *World) initRepl() {
	r := &w.repl
	r.drainRate = w.cfg.DrainRate
	r.writeRate = w.cfg.WriteRate
	r.nextTick = historyInterval
	r.nextToken = -2147483641
	r.lastWrite = math.Inf(-1)
	for _, p := range w.pubs {
		for _, ti := range p.tables {
			p.initTotal += w.tables[ti].init
		}
		p.caughtUp = p.initTotal == 0
	}
	wr := w.writeRateNow()
	r.breaks = []writeBreak{{t: 0, cum: 0, rate: wr}}
	if wr > 0 {
		r.lastWrite = 0
	}
	w.allocate()
	for _, p := range w.pubs {
		p.histPrevD = -p.rate * historyInterval
		p.sessionT0 = -3 * 3600
		p.sessionD0 = -p.rate * 3 * 3600
		p.lastDelivery = 0
		if p.rate == 0 {
			p.lastDelivery = p.created + 600
		}
		p.avgLatency = w.latency(p)
	}
	r.lrPrevW = -wr * historyInterval
	sub := w.cfg.TargetServerName
	r.errors = []replError{
		{id: 1, at: -2*86400 + 3130, code: "10054", text: "TCP Provider: An existing connection was forcibly closed by the remote host."},
		{id: 2, at: -2*86400 + 3131, code: "MSSQL_REPL20084", text: fmt.Sprintf("The process could not connect to Subscriber '%s'.", sub)},
		{id: 3, at: -86400 + 7411, code: "40613", text: fmt.Sprintf("Database '%s' on server '%s' is not currently available.  Please retry the connection later.", w.cfg.TargetDatabase, strings.SplitN(sub, ".", 2)[0])},
	}
}

// writeRateNow is the application write rate given the AOS states at w.t.
func (w *World) writeRateNow() float64 {
	n := 0
	for _, a := range w.aos {
		if s := a.stateAt(w.t); s == ServiceRunning || s == ServiceStopPending {
			n++
		}
	}
	if len(w.aos) == 0 {
		return w.repl.directRate
	}
	return w.repl.writeRate*float64(n)/float64(len(w.aos)) + w.repl.directRate
}

// SetDirectWriteRate makes something other than the AOS write to the AX database (commands per
// second, >= 0): an integration or a SQL Agent job writing straight into it, which goes on after
// every AOS has stopped. It is a fault, not an Action: it is neither recorded nor replayed.
func (w *World) SetDirectWriteRate(perSecond float64) {
	w.lock()
	defer w.mu.Unlock()
	w.repl.directRate = max(0, perSecond)
}

func (w *World) enqueued(p *publication) float64 { return p.initTotal + p.share*w.repl.cumW }

func (w *World) queue(p *publication) float64 {
	if p.caughtUp {
		return 0
	}
	return max(0, w.enqueued(p)-p.delivered)
}

// allocate shares the drain rate among the distribution agents: max-min
// fair, so an agent that keeps up takes only what arrives and the rest is
// split evenly among the agents with a backlog. While any agent has a
// backlog the total delivered equals the drain rate.
func (w *World) allocate() {
	r := &w.repl
	wr := w.writeRateNow()
	cands := r.cands[:0]
	for _, p := range w.pubs {
		if !p.queued() {
			continue
		}
		p.rate = 0
		if w.removed() {
			continue
		}
		arr := p.share * wr
		if p.down {
			if arr > 0 {
				p.caughtUp = false
			}
			continue
		}
		if !p.caughtUp && w.enqueued(p)-p.delivered <= 1e-3 {
			p.caughtUp, p.delivered = true, w.enqueued(p)
		}
		cands = append(cands, p)
	}
	slices.SortFunc(cands, func(a, b *publication) int {
		switch {
		case a.caughtUp != b.caughtUp:
			if a.caughtUp {
				return -1
			}
			return 1
		case a.share < b.share:
			return -1
		case a.share > b.share:
			return 1
		}
		return int(a.id - b.id)
	})
	remaining := r.drainRate
	for i, p := range cands {
		arr := p.share * wr
		left := float64(len(cands) - i)
		if p.caughtUp && arr <= remaining/left {
			p.rate = arr
			remaining -= arr
			continue
		}
		level := remaining / left
		for _, q := range cands[i:] {
			q.rate = level
			if q.caughtUp && level < q.share*wr {
				q.caughtUp = false
			}
		}
		break
	}
	r.cands = cands[:0]
}

// advance integrates the world from w.t to the clock's time. Between
// events (history ticks, AOS state changes, a queue running empty) every
// rate is constant, so each piece is integrated exactly.
func (w *World) advance() {
	at := w.clock.Now()
	if !w.replaying.IsZero() {
		at = w.replaying
	}
	now := w.secs(at)
	for guard := 0; w.t < now; guard++ {
		w.allocate()
		next := min(now, w.repl.nextTick)
		if e := w.nextAOSEvent(); e < next {
			next = e
		}
		if !w.removed() {
			wr := w.writeRateNow()
			for _, p := range w.pubs {
				if !p.queued() || p.caughtUp || p.rate <= p.share*wr {
					continue
				}
				te := w.t + w.queue(p)/(p.rate-p.share*wr)
				if te < next {
					next = te
				}
			}
		}
		if next <= w.t {
			next = math.Nextafter(w.t, math.Inf(1))
		}
		w.integrate(next)
		if w.t >= w.repl.nextTick {
			w.tick(w.repl.nextTick)
			w.repl.nextTick += historyInterval
		}
		if guard > 50_000_000 {
			panic("sim: world does not advance")
		}
	}
}

func (w *World) integrate(t1 float64) {
	r := &w.repl
	dt := t1 - w.t
	wr := w.writeRateNow()
	if last := r.breaks[len(r.breaks)-1]; last.rate != wr {
		r.breaks = append(r.breaks, writeBreak{t: w.t, cum: r.cumW, rate: wr})
	}
	r.cumW += wr * dt
	if wr > 0 {
		r.lastWrite = t1
	}
	if !w.removed() {
		for pi, p := range w.pubs {
			if !p.queued() {
				continue
			}
			d0 := p.delivered
			e := w.enqueued(p)
			if p.caughtUp {
				p.delivered = e
			} else {
				p.delivered = d0 + p.rate*dt
				if p.delivered >= e-1e-3 {
					p.delivered, p.caughtUp = e, !p.down
				}
			}
			if p.delivered > d0+1e-9 {
				p.lastDelivery = t1
			}
			w.deliverTokens(pi, p, d0, w.t, t1)
		}
	}
	w.t = t1
}

// deliverTokens marks the tracer tokens the segment [t0, t1] delivered.
func (w *World) deliverTokens(pi int, p *publication, d0, t0, t1 float64) {
	for i := range w.repl.tokens {
		tk := &w.repl.tokens[i]
		if tk.pub != pi || !math.IsInf(tk.arrived, 1) || p.delivered < tk.pos-1e-3 {
			continue
		}
		cross := t0
		if d0 < tk.pos && p.delivered > d0 {
			cross = t0 + (t1-t0)*(tk.pos-d0)/(p.delivered-d0)
		}
		tk.arrived = max(cross, tk.posted+logReaderLatency) + deliveryLatency
	}
}

func (w *World) tick(at float64) {
	r := &w.repl
	r.histTime = at
	r.lrPrevW, r.lrLastW = r.lrLastW, r.cumW
	cleanup := math.Mod(at, cleanupInterval) == 0
	for _, p := range w.pubs {
		p.histPrevD, p.histLastD = p.histLastD, p.delivered
		p.avgLatency = 0.8*p.avgLatency + 0.2*w.latency(p)
		if cleanup {
			p.cleanD = p.delivered
		}
	}
}

// enqueueTime is when the command at queue position x of p was queued.
func (w *World) enqueueTime(p *publication, x float64) float64 {
	if x < p.initTotal {
		return -backlogAge + backlogAge*x/p.initTotal
	}
	if p.share == 0 {
		return w.t
	}
	c := (x - p.initTotal) / p.share
	br := w.repl.breaks
	k := sort.Search(len(br), func(i int) bool { return br[i].cum > c }) - 1
	if k < 0 {
		return 0
	}
	b := br[k]
	if b.rate == 0 {
		return b.t
	}
	return min(w.t, b.t+(c-b.cum)/b.rate)
}

// latency is the current distribution latency of p in seconds: the age of
// the oldest undelivered command, or the steady-state latency when
// nothing waits.
func (w *World) latency(p *publication) float64 {
	if q := w.queue(p); q > 1e-3 && !w.removed() {
		return w.t - w.enqueueTime(p, p.delivered) + logReaderLatency + deliveryLatency
	}
	return logReaderLatency + deliveryLatency
}

// articlePending is a PK table's undelivered commands and, of those, the
// inserts (rows still missing on the target).
func (w *World) articlePending(t *table) (pending, inserts float64) {
	if t.pub < 0 || t.kind != kindPK || w.removed() {
		return 0, 0
	}
	p := w.pubs[t.pub]
	if p.caughtUp {
		return 0, 0
	}
	if t.init > 0 && p.delivered < p.initTotal {
		pending = t.init * (1 - p.delivered/p.initTotal)
	}
	if t.hot && p.share > 0 {
		writes := w.enqueued(p) - max(p.delivered, p.initTotal)
		if writes > 0 {
			pending += writes * t.share / p.share
		}
	}
	return pending, pending * t.insFrac
}

// articleDelivered is how many of t's commands p has delivered at position d.
func articleDelivered(t *table, p *publication, d float64) float64 {
	var x float64
	if t.init > 0 {
		x = t.init * min(1, d/p.initTotal)
	}
	if t.hot && p.share > 0 && d > p.initTotal {
		x += (d - p.initTotal) * t.share / p.share
	}
	return x
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the cutover publications.

type snapSchedule struct {
	start, genEnd, end float64
	tables             []int
	rows               []int64
	loadStart, loadEnd []float64
	folder             string
}

func (s *snapSchedule) targetRows(t *table, at float64) (int64, bool) {
	if s == nil || at < s.genEnd {
		return 0, false
	}
	return s.rowsAt(t.snapPos, at), true
}

// newSnapshot plans a snapshot of tables starting at start: generation,
// then bulk copy table after table.
func (w *World) newSnapshot(p *publication, start float64) *snapSchedule {
	s := &snapSchedule{start: start, tables: p.tables}
	rate := w.cfg.SnapshotRate
	var total int64
	for _, ti := range p.tables {
		n := w.srcRows(w.tables[ti])
		s.rows = append(s.rows, n)
		total += n
	}
	s.genEnd = start + max(20, float64(total)/(2*rate))
	at := s.genEnd + 3
	for _, n := range s.rows {
		s.loadStart = append(s.loadStart, at)
		at += 1 + float64(n)/rate
		s.loadEnd = append(s.loadEnd, at)
	}
	s.end = at + 2
	stamp := w.timeAt(start).Format("20060102150405")
	srv := w.cfg.SourceServerName
	s.folder = fmt.Sprintf(`\\%s\ReplData\unc\%s_%s_%s\%s\`, srv, strings.ToUpper(srv),
		strings.ToUpper(w.cfg.SourceDatabase), strings.ToUpper(p.name), stamp)
	return s
}

// rowsAt is how many rows of the i-th table the bulk copy has committed at
// time at (batches of 100,000 rows).
func (s *snapSchedule) rowsAt(i int, at float64) int64 {
	switch {
	case at >= s.loadEnd[i]:
		return s.rows[i]
	case at <= s.loadStart[i]:
		return 0
	}
	f := (at - s.loadStart[i]) / (s.loadEnd[i] - s.loadStart[i])
	n := int64(f*float64(s.rows[i])) / snapshotBatchRows * snapshotBatchRows
	return min(n, s.rows[i])
}

// SnapshotState describes the cutover snapshots (NoPK and locked tables).
type SnapshotState struct {
	// Created: CreateNoPKPublication was called.
	Created bool
	// Generated: every snapshot agent finished ("A snapshot of N
	// article(s) was generated.").
	Generated bool
	// Delivered: every snapshot was applied to the target ("Delivered
	// snapshot from ...").
	Delivered bool
	// Tables and TablesLoaded count the snapshot's tables and those fully
	// bulk-copied.
	Tables, TablesLoaded int
	// Done is when the last snapshot will be (or was) delivered.
	Done time.Time
}

// CreateNoPKPublication runs the toolkit's "Cutover: Setup Publication for
// Non PK Tables": it creates AX_PUB_NoPKTable (and, in the locked-table
// scenario, AX_PUB_TABLE_LockedTable) and starts their snapshots, one
// after the other. Source rows are captured now: tables still written to
// end up different on the target.
func (w *World) CreateNoPKPublication() error {
	w.lock()
	defer w.mu.Unlock()
	if w.removed() {
		return fmt.Errorf("create NoPK publication: %w", ErrReplicationRemoved)
	}
	for _, p := range w.pubs {
		if p.kind == pubNoPK {
			return fmt.Errorf("create NoPK publication: %w: %s", ErrAlreadyCreated, p.name)
		}
	}
	start := w.t
	add := func(name string, kind pubKind, k tableKind) {
		p := &publication{name: name, nameAny: name, kind: kind, id: int32(len(w.pubs) + 1), created: w.t, caughtUp: true}
		for i, t := range w.tables {
			if t.kind == k {
				p.tables = append(p.tables, i)
			}
		}
		slices.SortFunc(p.tables, func(a, b int) int { return strings.Compare(w.tables[a].name, w.tables[b].name) })
		pi := len(w.pubs)
		for k, ti := range p.tables {
			t := w.tables[ti]
			t.pub, t.snapPos = pi, k
			t.articleID = w.repl.nextArticle
			w.repl.nextArticle++
		}
		w.nameAgents(p)
		p.snap = w.newSnapshot(p, start)
		start = p.snap.end + 60
		w.pubs = append(w.pubs, p)
	}
	add("AX_PUB_NoPKTable", pubNoPK, kindNoPK)
	if w.cfg.Scenarios.Has(ScenarioLockedTable) {
		add("AX_PUB_TABLE_LockedTable", pubLocked, kindLocked)
	}
	w.note(ActCreateNoPK)
	w.setSystemRows()
	w.version++
	return nil
}

// SnapshotState reports the progress of the cutover snapshots.
func (w *World) SnapshotState() SnapshotState {
	w.lock()
	defer w.mu.Unlock()
	var st SnapshotState
	at := min(w.t, w.removedAt)
	st.Generated, st.Delivered = true, true
	for _, p := range w.pubs {
		if p.snap == nil {
			continue
		}
		st.Created = true
		st.Tables += len(p.snap.tables)
		for i := range p.snap.tables {
			if at >= p.snap.loadEnd[i] {
				st.TablesLoaded++
			}
		}
		st.Generated = st.Generated && at >= p.snap.genEnd
		st.Delivered = st.Delivered && at >= p.snap.end
		if d := w.timeAt(p.snap.end); d.After(st.Done) {
			st.Done = d
		}
	}
	if !st.Created {
		st.Generated, st.Delivered = false, false
	}
	return st
}

// StartSnapshot starts the snapshot agent of a publication whose snapshot was never started
// (ScenarioSnapshotNotStarted), as the toolkit 1.0.12 asks the operator to do in Replication
// Monitor (Agents tab, the snapshot agent, Start: migration-upgrade/data-upgrade-self-service.md,
// step 5): the snapshot is generated, then applied to the sandbox ("Delivered snapshot from …"),
// and the subscription becomes active. A publication whose snapshot has been started already is
// left as it is.
func (w *World) StartSnapshot(publication string) error {
	w.lock()
	defer w.mu.Unlock()
	p, err := w.publication(publication)
	if err != nil {
		return err
	}
	if !p.unstarted {
		return nil
	}
	p.unstarted = false
	p.initSnap = w.newSnapshot(p, w.t)
	w.note(ActStartSnapshot, p.name)
	return nil
}

// UnstartedSnapshots lists the publications whose snapshot was never started.
func (w *World) UnstartedSnapshots() []string {
	w.lock()
	defer w.mu.Unlock()
	var out []string
	for _, p := range w.pubs {
		if p.unstarted && !w.removed() {
			out = append(out, p.name)
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Actions on replication.

// RemoveReplication runs the toolkit's "Cutover: Remove replication
// setup": publications, subscriptions and the distribution database are
// dropped. New logins to the distribution database then fail with 4060,
// queries on sessions still connected to it with 208; the publisher's
// replication procedures fail with 14013. Target tables keep what they
// have.
func (w *World) RemoveReplication() error {
	w.lock()
	defer w.mu.Unlock()
	if w.removed() {
		return fmt.Errorf("remove replication: %w", ErrReplicationRemoved)
	}
	frozen := make([]int64, len(w.tables))
	for i, t := range w.tables {
		if t.kind == kindPK {
			frozen[i], _ = w.tgtRows(i, t)
		}
	}
	w.repl.frozen = frozen
	w.note(ActRemoveReplication)
	w.removedAt = w.t
	w.version++
	return nil
}

// MarkReplicated is the toolkit's «Post-replication: Update environment state to Replicated»
// (data-upgrade-self-service.md, step 9): after replication was removed, the sandbox's LCS state
// goes from "Replication in progress" to "Replication completed". The world only records it; the
// LCS state is read from the world (Replicated).
func (w *World) MarkReplicated() error {
	w.lock()
	defer w.mu.Unlock()
	if !w.removed() {
		return errors.New("update environment state to Replicated: replication is still set up (run «Cutover: Remove replication setup» first)")
	}
	if w.counts[Action{Op: ActMarkReplicated}.key()] > 0 {
		return fmt.Errorf("update environment state to Replicated: %w", ErrAlreadyCreated)
	}
	w.note(ActMarkReplicated)
	w.version++
	return nil
}

// Replicated reports whether MarkReplicated ran.
func (w *World) Replicated() bool {
	w.lock()
	defer w.mu.Unlock()
	return w.counts[Action{Op: ActMarkReplicated}.key()] > 0
}

// DenySelect takes the SELECT permission on a distribution database object ("dbo.MSrepl_errors")
// away from the logins, as a login granted table by table rather than through the replmonitor
// role may lack it: the documented reads of it get error 229 from now on.
func (w *World) DenySelect(object string) {
	w.lock()
	defer w.mu.Unlock()
	if w.denied == nil {
		w.denied = map[string]bool{}
	}
	w.denied[strings.ToUpper(object)] = true
}

// selectDenied reports whether DenySelect took SELECT on object away.
func (w *World) selectDenied(object string) bool {
	w.lock()
	defer w.mu.Unlock()
	return w.denied[strings.ToUpper(object)]
}

// ReplicationRemoved reports whether RemoveReplication ran.
func (w *World) ReplicationRemoved() bool {
	w.lock()
	defer w.mu.Unlock()
	return w.removed()
}

// SetDrainRate changes the distribution agents' total delivery rate
// (commands per second, >= 0) from now on.
func (w *World) SetDrainRate(perSecond float64) {
	w.lock()
	defer w.mu.Unlock()
	w.repl.drainRate = max(0, perSecond)
	w.note(ActSetDrainRate, formatRate(perSecond))
}

// DrainRate is the current total delivery rate.
func (w *World) DrainRate() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.repl.drainRate
}

// SetWriteRate changes the application write rate with every AOS running
// (commands per second, >= 0) from now on.
func (w *World) SetWriteRate(perSecond float64) {
	w.lock()
	defer w.mu.Unlock()
	w.repl.writeRate = max(0, perSecond)
	w.note(ActSetWriteRate, formatRate(perSecond))
}

// WritesActive reports whether the application is writing (some AOS is
// running or stopping).
func (w *World) WritesActive() bool {
	w.lock()
	defer w.mu.Unlock()
	return w.writeRateNow() > 0
}

// FailDistributionAgent makes a publication's distribution agent fail
// with message (MSrepl_errors, history runstatus 6, status 6): it stops
// delivering until StartDistributionAgent.
func (w *World) FailDistributionAgent(publication, message string) error {
	w.lock()
	defer w.mu.Unlock()
	p, err := w.publication(publication)
	if err != nil {
		return err
	}
	if !p.queued() {
		return fmt.Errorf("fail distribution agent: %w: %s delivers a snapshot only", ErrSnapshotPublication, p.name)
	}
	if message == "" {
		message = "The process could not connect to Subscriber '" + w.cfg.TargetServerName + "'."
	}
	id := int32(len(w.repl.errors) + 1)
	w.repl.errors = append(w.repl.errors, replError{id: id, at: w.t, code: "MSSQL_REPL20084", text: message})
	p.down, p.downMsg, p.downErrID, p.downAt = true, message, id, w.t
	p.caughtUp = false
	w.note(ActFailAgent, p.name, message)
	return nil
}

// StartDistributionAgent restarts a failed distribution agent.
func (w *World) StartDistributionAgent(publication string) error {
	w.lock()
	defer w.mu.Unlock()
	p, err := w.publication(publication)
	if err != nil {
		return err
	}
	if p.down {
		p.down = false
		p.sessionT0, p.sessionD0 = w.t, p.delivered
	}
	w.note(ActStartAgent, p.name)
	return nil
}

func (w *World) publication(name string) (*publication, error) {
	if w.removed() {
		return nil, fmt.Errorf("publication %s: %w", name, ErrReplicationRemoved)
	}
	for _, p := range w.pubs {
		if strings.EqualFold(p.name, name) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownPublication, name)
}

// Publications lists the publication names.
func (w *World) Publications() []string {
	w.lock()
	defer w.mu.Unlock()
	if w.removed() {
		return nil
	}
	out := make([]string, len(w.pubs))
	for i, p := range w.pubs {
		out[i] = p.name
	}
	return out
}

// PostTracerToken posts a tracer token on a transactional publication and
// returns its id. It arrives once every command queued before it on that
// publication was delivered.
func (w *World) PostTracerToken(publication string) (int32, error) {
	w.lock()
	defer w.mu.Unlock()
	return w.postToken(publication)
}

func (w *World) postToken(publication string) (int32, error) {
	p, err := w.publication(publication)
	if err != nil {
		return 0, err
	}
	if !p.transactional() {
		return 0, fmt.Errorf("post tracer token on %s: %w", p.name, ErrSnapshotPublication)
	}
	pi := slices.Index(w.pubs, p)
	tk := tracerToken{id: w.repl.nextToken, pub: pi, posted: w.t, arrived: math.Inf(1)}
	w.repl.nextToken++
	switch {
	case p.queued():
		tk.pos = w.enqueued(p)
		if p.caughtUp {
			tk.arrived = w.t + logReaderLatency + deliveryLatency
		}
	default: // the locked-table publication: arrives once its snapshot is applied
		tk.arrived = max(w.t+logReaderLatency, p.snap.end) + deliveryLatency
	}
	w.repl.tokens = append(w.repl.tokens, tk)
	w.note(ActPostTracerToken, p.name)
	return tk.id, nil
}

// TracerToken is one tracer token's latencies; nil values have not been
// reached yet.
type TracerToken struct {
	ID                 int32
	Publication        string
	Posted             time.Time
	DistributorLatency *time.Duration
	SubscriberLatency  *time.Duration
	OverallLatency     *time.Duration
}

// TracerToken returns a posted token's state.
func (w *World) TracerToken(id int32) (TracerToken, error) {
	w.lock()
	defer w.mu.Unlock()
	for _, tk := range w.repl.tokens {
		if tk.id == id {
			out := TracerToken{ID: id, Publication: w.pubs[tk.pub].name, Posted: w.timeAt(tk.posted)}
			d, s, o := w.tokenLatencies(tk)
			out.DistributorLatency, out.SubscriberLatency, out.OverallLatency = d, s, o
			return out, nil
		}
	}
	return TracerToken{}, fmt.Errorf("%w: %d", ErrUnknownToken, id)
}

func (w *World) tokenLatencies(tk tracerToken) (dist, sub, overall *time.Duration) {
	dur := func(s float64) *time.Duration {
		d := time.Duration(math.Round(s)) * time.Second
		return &d
	}
	if w.t >= tk.posted+logReaderLatency {
		dist = dur(logReaderLatency)
	}
	if w.t >= tk.arrived {
		sub = dur(tk.arrived - tk.posted - logReaderLatency)
		overall = dur(tk.arrived - tk.posted)
	}
	return dist, sub, overall
}
