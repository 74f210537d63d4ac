package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by the World's actions. They are wrapped with context;
// test them with errors.Is.
var (
	// ErrUnknownTable: no such table in the AX database.
	ErrUnknownTable = errors.New("sim: unknown table")
	// ErrNotReplicated: the table is on the ignore list (or a replication
	// system table) and is never replicated.
	ErrNotReplicated = errors.New("sim: table is not replicated")
	// ErrUnknownAOS: no AOS instance with that host and service.
	ErrUnknownAOS = errors.New("sim: unknown AOS instance")
	// ErrServiceNotRunning: stopping an AOS that is stopped.
	ErrServiceNotRunning = errors.New("sim: the service has not been started")
	// ErrServiceRunning: starting an AOS that runs.
	ErrServiceRunning = errors.New("sim: an instance of the service is already running")
	// ErrServicePending: the AOS is starting or stopping and cannot take
	// the other control now.
	ErrServicePending = errors.New("sim: the service cannot accept control messages at this time")
	// ErrStopRefused: the AOS service was told to refuse to stop
	// (World.RefuseStop), as a service hung in its shutdown does (Windows
	// error 1053).
	ErrStopRefused = errors.New("sim: the service did not respond to the start or control request in a timely fashion")
	// ErrReplicationRemoved: the replication setup was removed.
	ErrReplicationRemoved = errors.New("sim: replication was removed")
	// ErrAlreadyCreated: the NoPK publication exists already.
	ErrAlreadyCreated = errors.New("sim: publication already exists")
	// ErrUnknownPublication: no such publication.
	ErrUnknownPublication = errors.New("sim: unknown publication")
	// ErrSnapshotPublication: tracer tokens need a transactional publication.
	ErrSnapshotPublication = errors.New("sim: tracer tokens cannot be posted for a snapshot publication")
	// ErrUnknownToken: no tracer token with that id.
	ErrUnknownToken = errors.New("sim: unknown tracer token")
	// ErrUpgradeState: the data upgrade cannot take that action in its
	// current state (already triggered, not failed, ...).
	ErrUpgradeState = errors.New("sim: data upgrade is not in a state for that action")
)

// tableKind says how a table takes part in replication.
type tableKind int

const (
	kindPK      tableKind = iota + 1 // in an AX_PUB_PkTable_N publication
	kindNoPK                         // no primary key: AX_PUB_NoPKTable snapshot
	kindLocked                       // locked-table scenario: AX_PUB_TABLE_LockedTable snapshot
	kindIgnored                      // IgnoreTables.xml: never replicated
	kindSystem                       // created by replication in the published database
)

type table struct {
	name      string
	nameAny   any // boxed once for the row streams
	schemaAny any
	kind      tableKind
	hasPK     bool
	baseRows  int64
	width     int64 // bytes per row, for sizes
	pub       int   // publication index, -1 when in none (yet)
	articleID int32
	snapPos   int // position in its publication's snapshot
	hot       bool
	share     float64 // share of all application writes
	insFrac   float64 // share of commands that insert a row
	init      float64 // commands of the initial backlog
	// mismatch rows are missing on the target (count-mismatch scenario)
	// until redeliverAt (sim seconds, 0: not redelivered).
	mismatch    int64
	redeliverAt float64
}

// World is the simulated AX 2012 source server, distributor and Azure SQL
// sandbox. All methods are safe for concurrent use; each advances the
// world to the clock's current time first.
type World struct {
	mu    sync.Mutex
	cfg   Config
	clock Clock
	start time.Time // sim second 0, UTC
	t     float64   // integrated up to (seconds since start)

	tables []*table
	byName map[string]int // upper-case name -> index
	pubs   []*publication
	sysSrc []int // replication system tables on the source (indices)
	sysTgt []string

	repl replState
	// denied are the objects ("dbo.MSrepl_errors") the cutover login may not SELECT (DenySelect).
	denied  map[string]bool
	aos     []*aosState
	jobs    []batchJob
	clients []clientSession
	// leftover is AX activity the AOS left behind (SetLeftover): client sessions still running or
	// marked for kill, batch tasks still executing or cancelling, AOS rows left in Drain.
	leftover struct {
		clients         []clientSession
		tasks           int
		cancellingTasks int
		drainedRows     int
	}
	upg     upgradeState
	pre     Preflight
	monitor monitorCache
	// listed is the article list sorted once per publication set (listed.go).
	listed articleList

	// backups and restores are msdb's backup and restore history (backup.go); backupTZ is the
	// time_zone the next backups record; lost is the application writes a restore took back from
	// the AX database (its source rows).
	backups  []backupSet
	restores []restoreRec
	backupTZ int
	lost     float64

	sizeBytes int64 // AX database size at start
	seed      uint64
	removedAt float64 // sim seconds of RemoveReplication, +Inf while set up
	version   uint64  // bumps when the published objects change (caches)

	// onAction hears every successful action; counts counts them (replayed ones too);
	// replaying is the time of the action being replayed (zero otherwise).
	onAction  func(Action)
	counts    map[string]int
	replaying time.Time
}

// New builds a world from cfg, reading time from clock (nil: WallClock).
// Generation is deterministic for a given Config.
func New(cfg Config, clock Clock) (*World, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = WallClock()
	}
	if cfg.Start.IsZero() {
		cfg.Start = clock.Now()
	}
	w := &World{
		cfg:       cfg,
		clock:     clock,
		start:     cfg.Start.UTC(),
		byName:    make(map[string]int, cfg.Tables+16),
		seed:      cfg.Seed,
		removedAt: math.Inf(1),
		pre:       *cfg.Preflight,
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_c0ff_ee15_ab1e))
	if err := w.generateTables(rng); err != nil {
		return nil, err
	}
	w.generatePublications()
	w.generateBacklog(rng)
	w.generateAX(rng)
	w.initRepl()
	w.upg.init(cfg.UpgradeDuration, cfg.FailUpgradeAt)
	if w.pre.Drives == nil {
		mb := w.sizeBytes / (1 << 20)
		w.pre.Drives = []Drive{{Letter: "C", FreeMB: 48_213}, {Letter: "D", FreeMB: 2*mb + 51_200}}
	}
	return w, nil
}

// Config returns the effective configuration (defaults filled in).
func (w *World) Config() Config {
	c := w.cfg
	c.AOS = slices.Clone(c.AOS)
	p := *c.Preflight
	c.Preflight = &p
	return c
}

// StartedAt is the simulated time the world was created at.
func (w *World) StartedAt() time.Time { return w.start }

// Now advances the world and returns the current simulated time (UTC).
func (w *World) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance()
	return w.timeAt(w.t)
}

// lock takes the lock and advances the world to the clock's time.
func (w *World) lock() {
	w.mu.Lock()
	w.advance()
}

func (w *World) timeAt(t float64) time.Time {
	return w.start.Add(time.Duration(math.Round(t * 1e9)))
}

func (w *World) secs(at time.Time) float64 {
	return at.Sub(w.start).Seconds()
}

func (w *World) removed() bool { return w.t >= w.removedAt }

// ---------------------------------------------------------------------------------------------
// Generation.

func (w *World) addTable(t *table) {
	t.nameAny = t.name
	t.schemaAny = "dbo"
	t.pub = -1
	w.byName[upper(t.name)] = len(w.tables)
	w.tables = append(w.tables, t)
}

// paretoRows draws a heavy-tailed row count: most tables small, a few huge.
func paretoRows(rng *rand.Rand) int64 {
	if rng.Float64() < 0.12 {
		return 0
	}
	u := 1 - rng.Float64() // (0, 1]
	x := 20 * (math.Pow(u, -1/0.6) - 1)
	return int64(min(x, 4e8))
}

func (w *World) generateTables(rng *rand.Rand) error {
	n := w.cfg.Tables
	nIgnored := max(3, n/100)
	named := axTables()
	if len(named) > n-nIgnored {
		named = named[:n-nIgnored]
	}
	for _, nt := range named {
		t := &table{name: nt.name, kind: kindPK, hasPK: !nt.noPK, baseRows: nt.rows,
			width: 180 + rng.Int64N(900), insFrac: 0.4 + 0.6*rng.Float64()}
		if nt.noPK {
			t.kind = kindNoPK
		}
		if nt.hot > 0 {
			t.hot, t.share, t.insFrac = true, nt.hot, nt.inserts
		}
		w.addTable(t)
	}
	// Generated module-prefixed names.
	pre, nouns, suf := namePrefixes(), nameNouns(), nameSuffixes()
	combos := len(pre) * len(nouns) * len(suf)
	perm := rng.Perm(combos)
	hotLeft := 10
	for i := 0; len(w.tables) < n-nIgnored; i++ {
		k := perm[i%combos]
		name := pre[k/(len(nouns)*len(suf))] + nouns[k/len(suf)%len(nouns)] + suf[k%len(suf)]
		if i >= combos {
			name += strconv.Itoa(i/combos + 1)
		}
		if _, dup := w.byName[name]; dup {
			continue
		}
		t := &table{name: name, kind: kindPK, hasPK: true, baseRows: paretoRows(rng),
			width: 120 + rng.Int64N(1100), insFrac: 0.4 + 0.6*rng.Float64()}
		if rng.Float64() < 0.03 {
			t.kind, t.hasPK = kindNoPK, false
		} else if hotLeft > 0 && t.baseRows > 10_000 && rng.Float64() < 0.05 {
			hotLeft--
			t.hot, t.share = true, 0.1+0.4*rng.Float64()
		}
		w.addTable(t)
	}
	// Non-AOT tables on the ignore list.
	ign := ignorePrefixes()
	for i := 0; nIgnored > 0; i++ {
		base := named[rng.IntN(len(named))].name
		name := ign[rng.IntN(len(ign))] + base
		if rng.IntN(2) == 0 {
			name += "_" + strconv.Itoa(2015+rng.IntN(8))
		}
		if _, dup := w.byName[name]; dup {
			if i > 100*n {
				return fmt.Errorf("%w: cannot name %d ignore-list tables", ErrInvalidConfig, nIgnored)
			}
			continue
		}
		w.addTable(&table{name: name, kind: kindIgnored, hasPK: rng.IntN(3) > 0, baseRows: paretoRows(rng),
			width: 200 + rng.Int64N(600), insFrac: 1})
		nIgnored--
	}
	// Scenario tables.
	if w.cfg.Scenarios.Has(ScenarioLockedTable) {
		i, ok := w.byName[w.cfg.LockedTable]
		if !ok || w.tables[i].kind != kindPK || w.tables[i].hot {
			return fmt.Errorf("%w: LockedTable %s must be a PK table without writes", ErrInvalidConfig, w.cfg.LockedTable)
		}
		w.tables[i].kind = kindLocked
	}
	if w.cfg.Scenarios.Has(ScenarioCountMismatch) {
		i, ok := w.byName[w.cfg.MismatchTable]
		if !ok || w.tables[i].kind != kindPK || w.tables[i].hot {
			return fmt.Errorf("%w: MismatchTable %s must be a PK table without writes", ErrInvalidConfig, w.cfg.MismatchTable)
		}
		t := w.tables[i]
		t.mismatch = min(w.cfg.MismatchRows, t.baseRows)
		if t.mismatch <= 0 {
			return fmt.Errorf("%w: MismatchTable %s has no rows to miss", ErrInvalidConfig, t.name)
		}
	}
	// Normalise the write shares.
	var sum float64
	for _, t := range w.tables {
		if t.hot {
			sum += t.share
		}
	}
	for _, t := range w.tables {
		if t.hot {
			t.share /= sum
		}
		w.sizeBytes += t.baseRows * t.width
	}
	return nil
}

func (w *World) generatePublications() {
	n := w.cfg.Publications
	for i := range n {
		w.pubs = append(w.pubs, &publication{name: "AX_PUB_PkTable_" + strconv.Itoa(i+1), kind: pubPK})
	}
	w.pubs = append(w.pubs, &publication{name: "AX_PUB_OtherObjects", kind: pubOther,
		functions: []string{"fn_AXDimensionDisplayValue", "fn_AXInventSumDeltaByItem", "fn_AXLedgerPeriodCode"}})
	var pk []int
	for i, t := range w.tables {
		if t.kind == kindPK {
			pk = append(pk, i)
		}
	}
	// Biggest first, dealt in snake order so the publications are balanced.
	slices.SortStableFunc(pk, func(a, b int) int {
		ra, rb := w.tables[a].baseRows, w.tables[b].baseRows
		switch {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return strings.Compare(w.tables[a].name, w.tables[b].name)
	})
	for k, ti := range pk {
		p := k % (2 * n)
		if p >= n {
			p = 2*n - 1 - p
		}
		w.tables[ti].pub = p
		w.pubs[p].tables = append(w.pubs[p].tables, ti)
	}
	var article int32
	for pi, p := range w.pubs {
		p.id = int32(pi + 1)
		p.nameAny = p.name
		w.nameAgents(p)
		p.created = -4*86400 + float64(pi)*1500
		slices.SortFunc(p.tables, func(a, b int) int { return strings.Compare(w.tables[a].name, w.tables[b].name) })
		for _, ti := range p.tables {
			article++
			w.tables[ti].articleID = article
		}
		for range p.functions {
			article++
			p.funcIDs = append(p.funcIDs, article)
		}
		for _, ti := range p.tables {
			if w.tables[ti].hot {
				p.share += w.tables[ti].share
			}
		}
	}
	w.repl.nextArticle = article + 1
	if w.cfg.Scenarios.Has(ScenarioSnapshotNotStarted) {
		w.pubs[n-1].unstarted = true
	}
	if !w.cfg.NoReplicationSystemTables {
		for _, name := range replSourceTables() {
			w.sysSrc = append(w.sysSrc, len(w.tables))
			w.addTable(&table{name: name, kind: kindSystem, width: 400})
		}
		w.sysTgt = replTargetTables()
	}
	w.setSystemRows()
}

// setSystemRows sizes the replication system tables from the publications.
func (w *World) setSystemRows() {
	var articles, subs int64
	for _, p := range w.pubs {
		articles += int64(len(p.tables) + len(p.functions))
		subs += int64(len(p.tables) + len(p.functions))
	}
	rows := map[string]int64{
		"sysarticlecolumns": articles * 14, "sysarticles": articles, "sysarticleupdates": articles,
		"syspublications": int64(len(w.pubs)), "sysreplservers": 1, "sysschemaarticles": 3,
		"syssubscriptions": subs, "systranschemas": 0,
	}
	for _, ti := range w.sysSrc {
		w.tables[ti].baseRows = rows[w.tables[ti].name]
	}
}

func (w *World) generateBacklog(rng *rand.Rand) {
	total := float64(w.cfg.InitialBacklog)
	if total <= 0 {
		return
	}
	weights := make([]float64, len(w.tables))
	var sum float64
	for i, t := range w.tables {
		if t.kind != kindPK || t.mismatch > 0 || t.baseRows < 1000 {
			continue
		}
		p := 0.08 + 0.25*math.Log10(float64(t.baseRows))/8.5
		if t.hot {
			p = 1
		}
		if rng.Float64() >= p {
			continue
		}
		weights[i] = math.Pow(float64(t.baseRows), 0.55) * (1 + 2*t.share*10)
		sum += weights[i]
	}
	for i, t := range w.tables {
		if weights[i] == 0 {
			continue
		}
		c := math.Floor(total * weights[i] / sum)
		t.init = min(c, float64(t.baseRows))
	}
}

// TableInfo describes one AX table.
type TableInfo struct {
	Name string
	// HasPK: the table has a primary key.
	HasPK bool
	// Ignored: on the toolkit's ignore list (never replicated).
	Ignored bool
	// System: created by replication (sysarticles ...), never replicated.
	System bool
	// Publication is the publication the table is an article of ("" when
	// none yet: NoPK and locked tables before the cutover publication).
	Publication string
	// Hot: the application writes to it while the AOS run.
	Hot bool
}

// Tables lists the source tables in a stable order.
func (w *World) Tables() []TableInfo {
	w.lock()
	defer w.mu.Unlock()
	out := make([]TableInfo, len(w.tables))
	for i, t := range w.tables {
		out[i] = TableInfo{Name: t.name, HasPK: t.hasPK, Ignored: t.kind == kindIgnored, System: t.kind == kindSystem, Hot: t.hot}
		if t.pub >= 0 {
			out[i].Publication = w.pubs[t.pub].name
		}
	}
	return out
}

func (w *World) table(name string) (*table, error) {
	i, ok := w.byName[upper(name)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTable, name)
	}
	return w.tables[i], nil
}

// SourceRows is the table's current row count on the source.
func (w *World) SourceRows(name string) (int64, error) {
	w.lock()
	defer w.mu.Unlock()
	t, err := w.table(name)
	if err != nil {
		return 0, err
	}
	if t.kind == kindSystem && w.removed() {
		return 0, fmt.Errorf("%w: %s (dropped with the replication setup)", ErrUnknownTable, name)
	}
	return w.srcRows(t), nil
}

// TargetRows is the table's current row count on the sandbox; ok is false
// while the table does not exist there.
func (w *World) TargetRows(name string) (rows int64, ok bool, err error) {
	w.lock()
	defer w.mu.Unlock()
	t, err := w.table(name)
	if err != nil {
		return 0, false, err
	}
	rows, ok = w.tgtRows(w.byName[upper(name)], t)
	return rows, ok, nil
}

// Pending is the table's undelivered commands.
func (w *World) Pending(name string) (int64, error) {
	w.lock()
	defer w.mu.Unlock()
	t, err := w.table(name)
	if err != nil {
		return 0, err
	}
	if w.removed() || t.kind != kindPK {
		return 0, nil
	}
	p, _ := w.articlePending(t)
	return ceilCount(p), nil
}

// TotalPending is the undelivered commands of all publications (the sum
// of the per-publication queues, which the per-article figures add up to
// within rounding).
func (w *World) TotalPending() int64 {
	w.lock()
	defer w.mu.Unlock()
	if w.removed() {
		return 0
	}
	var q float64
	for _, p := range w.pubs {
		if p.kind == pubPK {
			q += w.queue(p)
		}
	}
	return ceilCount(q)
}

// Redeliver re-sends a table to the target (what a catch-up publication
// for a `dv` mismatch does). For the count-mismatch table the missing
// rows arrive after about 30 s plus the bulk-copy time of the table.
func (w *World) Redeliver(name string) error {
	w.lock()
	defer w.mu.Unlock()
	t, err := w.table(name)
	if err != nil {
		return err
	}
	if t.kind == kindIgnored || t.kind == kindSystem {
		return fmt.Errorf("%w: %s", ErrNotReplicated, name)
	}
	if w.removed() {
		return fmt.Errorf("redeliver %s: %w", name, ErrReplicationRemoved)
	}
	if t.mismatch > 0 && t.redeliverAt == 0 {
		t.redeliverAt = w.t + 30 + float64(w.srcRows(t))/w.cfg.SnapshotRate
	}
	w.note(ActRedeliver, t.name)
	return nil
}

// SetPreflight changes the pre-flight facts (to simulate failing checks).
func (w *World) SetPreflight(change func(*Preflight)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	change(&w.pre)
}

// Preflight returns the current pre-flight facts.
func (w *World) Preflight() Preflight {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pre
	p.Drives = slices.Clone(p.Drives)
	return p
}

// ---------------------------------------------------------------------------------------------
// Row counts.

func floorCount(x float64) int64 {
	if x <= 0 {
		return 0
	}
	return int64(math.Floor(x + 1e-6))
}

func ceilCount(x float64) int64 {
	if x <= 1e-6 {
		return 0
	}
	return int64(math.Ceil(x - 1e-6))
}

// srcRowsF is the exact (fractional) source row count.
func (w *World) srcRowsF(t *table) float64 {
	r := float64(t.baseRows)
	if t.hot {
		// A restore took back the writes after its backup (w.lost).
		r += t.insFrac * t.share * (w.repl.cumW - w.lost)
	}
	return r
}

func (w *World) srcRows(t *table) int64 { return floorCount(w.srcRowsF(t)) }

// tgtRows is the row count on the target and whether the table exists there.
func (w *World) tgtRows(i int, t *table) (int64, bool) {
	switch t.kind {
	case kindPK:
		if w.removed() {
			return w.repl.frozen[i], true
		}
		_, ins := w.articlePending(t)
		n := floorCount(w.srcRowsF(t) - ins)
		if t.mismatch > 0 && (t.redeliverAt == 0 || w.t < t.redeliverAt) {
			n = max(0, n-t.mismatch)
		}
		return n, true
	case kindNoPK, kindLocked:
		if t.pub < 0 {
			return 0, false
		}
		return w.pubs[t.pub].snap.targetRows(t, min(w.t, w.removedAt))
	}
	return 0, false
}

// dbSizeBytes is the AX database's current size.
func (w *World) dbSizeBytes() int64 {
	size := w.sizeBytes
	for _, t := range w.tables {
		if t.hot {
			size += (w.srcRows(t) - t.baseRows) * t.width
		}
	}
	// Data files are bigger than the data: free space, indexes.
	return size/8192*8192*13/10 + 512<<20
}
