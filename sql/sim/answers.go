package sim

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"cutover/sql/tdssim"
	"cutover/sql/tsql"
)

// Column helpers. SQL Server's sysname is NVARCHAR(128).
func colNV(name string, size int) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeNVarChar, Size: size, Nullable: true}
}
func colInt(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeInt, Nullable: true}
}
func colBig(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeBigInt, Nullable: true}
}
func colSmall(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeSmallInt, Nullable: true}
}
func colBit(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeBit, Nullable: true}
}
func colDT(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeDateTime, Nullable: true}
}
func colFloat(name string) tdssim.Column {
	return tdssim.Column{Name: name, Type: tdssim.TypeFloat, Nullable: true}
}

const sysname = 128

// sqlEpoch is 1900-01-01, the "not finished" marker of DBSyncExecStats.
func sqlEpoch() time.Time { return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }

// dt converts sim seconds to a DATETIME value (UTC).
func (w *World) dt(t float64) any {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return nil
	}
	return w.timeAt(t)
}

// ---------------------------------------------------------------------------------------------
// Row counts.

// rowCounts answers RowCountsPartitionStats / RowCountsPartitions on the
// AX database (target false) or the sandbox (target true). The counts are
// taken under the lock; the rows stream afterwards from a reused Row.
func (w *World) rowCounts(target bool) *tdssim.Result {
	w.lock()
	counts := make([]int64, len(w.tables))
	for i, t := range w.tables {
		switch {
		case target:
			n, ok := w.tgtRows(i, t)
			if !ok {
				n = -1
			}
			counts[i] = n
		case t.kind == kindSystem:
			// Replication's own tables are is_ms_shipped: the row-count queries leave them out.
			counts[i] = -1
		default:
			counts[i] = w.srcRows(t)
		}
	}
	w.mu.Unlock()

	cols := []tdssim.Column{colNV("schema_name", sysname), colNV("table_name", sysname), colBig("row_count"), colBit("has_pk")}
	seq := func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, 4)
		for i, n := range counts {
			if n < 0 {
				continue
			}
			t := w.tables[i]
			row[0], row[1], row[2], row[3] = t.schemaAny, t.nameAny, n, t.hasPK
			if !yield(row, nil) {
				return
			}
		}
	}
	return tdssim.Stream(cols, seq)
}

// exactCount answers SELECT COUNT_BIG(*) / COUNT(*) FROM [dbo].[T].
func (w *World) exactCount(target bool, name string, big bool) (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	n, ok := w.tableRowsLocked(target, name)
	if !ok {
		return nil, tdssim.InvalidObjectError("dbo." + name)
	}
	return w.countResult(n, big)
}

// tableRowsLocked is how many rows the named table holds in the AX database (target false) or in
// the sandbox; false when it does not exist there (a system table once replication is removed).
// The sandbox's replication system tables hold a row per publication. The caller holds w.mu.
func (w *World) tableRowsLocked(target bool, name string) (int64, bool) {
	i, ok := w.byName[upper(name)]
	if !ok {
		if target && containsFold(w.sysTgt, name) {
			return int64(len(w.pubs)), true
		}
		return 0, false
	}
	return w.tableRowsAt(i, target)
}

// tableRowsAt is how many rows world table i holds in the AX database (target false) or in the
// sandbox; false when it is not there (on the source, a replication system table once replication
// is removed). The caller holds w.mu.
func (w *World) tableRowsAt(i int, target bool) (int64, bool) {
	t := w.tables[i]
	switch {
	case target:
		return w.tgtRows(i, t)
	case t.kind == kindSystem && w.removed():
		return 0, false
	default:
		return w.srcRows(t), true
	}
}

func (w *World) countResult(n int64, big bool) (*tdssim.Result, error) {
	if big {
		return tdssim.Rows([]tdssim.Column{{Type: tdssim.TypeBigInt}}, tdssim.Row{n}), nil
	}
	if n > math.MaxInt32 {
		return nil, &tdssim.Error{Number: 8115, State: 2, Class: 16, Message: "Arithmetic overflow error converting expression to data type int."}
	}
	return tdssim.Rows([]tdssim.Column{{Type: tdssim.TypeInt}}, tdssim.Row{n}), nil
}

// ---------------------------------------------------------------------------------------------
// AX sessions and batch.

func (w *World) axServerSessions() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("SERVERID"), colNV("AOSID", 50), colNV("INSTANCE_NAME", 50), colInt("STATUS"),
		colDT("LOGINDATETIME"), colDT("LASTUPDATEDATETIME")}
	rows := make([]tdssim.Row, 0, len(w.aos))
	for i, a := range w.aos {
		status, last := a.serverStatus(w.t, i < w.leftover.drainedRows), a.leftRunning(w.t)
		if a.active(w.t) {
			last = max(a.runningSince(w.t), math.Floor(w.t/60)*60)
		} else {
			for _, tr := range a.trans {
				if tr.t <= w.t && tr.state == ServiceStopped {
					last = tr.t
				}
			}
		}
		inst := a.cfg.Service
		if i := strings.LastIndexByte(inst, '$'); i >= 0 {
			inst = inst[i+1:]
		}
		rows = append(rows, tdssim.Row{a.serverID, a.cfg.Host + "@2712", inst, status, w.dt(a.runningSince(w.t)), w.dt(last)})
	}
	return tdssim.Rows(cols, rows...)
}

// axClientSessions answers AXClientSessions: the sessions of the running AOS (STATUS 1) and the
// leftovers (SetLeftover), running or marked for kill. Ended sessions keep their rows with STATUS 0
// in AX, which the query leaves out.
func (w *World) axClientSessions() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("SESSIONID"), colInt("SERVERID"), colNV("USERID", 8), colInt("CLIENTTYPE"),
		colNV("CLIENTCOMPUTER", 80), colDT("LOGINDATETIME"), colInt("STATUS")}
	type r struct {
		c     clientSession
		login float64
	}
	var act []r
	for _, c := range w.clients {
		if w.clientActive(c) {
			act = append(act, r{c, w.clientLogin(c)})
		}
	}
	for _, c := range w.leftover.clients {
		act = append(act, r{c, c.login})
	}
	slices.SortStableFunc(act, func(a, b r) int { return cmp.Compare(a.login, b.login) })
	rows := make([]tdssim.Row, len(act))
	for i, a := range act {
		server, status := 0, a.c.status // a leftover row's AOS is gone
		if a.c.aos >= 0 {
			server, status = w.aos[a.c.aos].serverID, sessionRunning
		}
		rows[i] = tdssim.Row{a.c.sessionID, server, a.c.user, a.c.typ, a.c.computer, w.dt(a.login), status}
	}
	return tdssim.Rows(cols, rows...)
}

// axBatchJobs answers AXBatchJobs: the jobs not at rest (waiting, executing, ready), and a
// cancelling job for the leftover cancelling tasks.
func (w *World) axBatchJobs() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colBig("RECID"), colNV("CAPTION", 100), colInt("STATUS"), colDT("STARTDATETIME")}
	type r struct {
		recID   int64
		caption string
		st      BatchStatus
		start   float64
	}
	var out []r
	for i := range w.jobs {
		j := &w.jobs[i]
		st, start := w.jobStatus(j, w.t)
		if st == BatchWaiting || st == BatchExecuting || st == BatchReady {
			out = append(out, r{j.recID, j.caption, st, start})
		}
	}
	if w.leftover.cancellingTasks > 0 {
		out = append(out, r{5637145999, "Master planning - net requirements (cancelling)", BatchCancelling, w.t - 3600})
	}
	slices.SortStableFunc(out, func(a, b r) int {
		if c := cmp.Compare(b.st, a.st); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	rows := make([]tdssim.Row, len(out))
	for i, o := range out {
		rows[i] = tdssim.Row{o.recID, o.caption, int(o.st), w.dt(o.start)}
	}
	return tdssim.Rows(cols, rows...)
}

// axRunningTasks answers AXRunningBatchTasks: the BATCH rows still running, by status.
func (w *World) axRunningTasks() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	hist := w.runningTasks(w.t)
	keys := slices.Sorted(maps.Keys(hist))
	rows := make([]tdssim.Row, len(keys))
	for i, st := range keys {
		rows[i] = tdssim.Row{int(st), hist[st]}
	}
	return tdssim.Rows([]tdssim.Column{colInt("STATUS"), colInt("tasks")}, rows...)
}

// ---------------------------------------------------------------------------------------------
// Sessions and write activity (any database).

// simSession is a simulated row of sys.dm_exec_sessions. program is nil when the client sent no
// program name (the column is nullable).
type simSession struct {
	id          int
	login, host string
	program     any
	last        float64
	db          dbKind
}

func (w *World) simSessions(srv serverKind) []simSession {
	var out []simSession
	if srv == serverTarget {
		if last := w.upg.lastActivity(w.t); !math.IsNaN(last) {
			n := 3
			if !math.IsInf(w.upg.doneAt(w.t), 1) || w.t >= w.upg.runs[len(w.upg.runs)-1].stopAt {
				n = 1 // the pool keeps one idle connection
			}
			for k := range n {
				out = append(out, simSession{id: 301 + k, login: "axdbadmin", host: "SERVICING1",
					program: ".Net SqlClient Data Provider", last: last - float64(k)*1.7, db: dbTarget})
			}
		}
		return out
	}
	out = append(out, simSession{id: 377, login: `CONTOSO\dba.jdoe`, host: "ADMIN-WKS07",
		program: "Microsoft SQL Server Management Studio - Query", last: -1500, db: dbAX})
	// A warehouse integration that writes straight to the AX database and sends no program name.
	out = append(out, simSession{id: 391, login: `CONTOSO\svc-wms`, host: "WMS-APP02", program: nil,
		last: w.t - 45, db: dbAX})
	if !w.removed() {
		out = append(out, simSession{id: 380, login: `CONTOSO\svc-sqlagent`, host: w.cfg.SourceServerName,
			program: w.logReaderName(), last: w.t - 0.4, db: dbAX})
		for i, p := range w.pubs {
			if p.queued() || (p.snap != nil && w.t >= p.snap.start && (w.t < p.snap.end || p.transactional())) {
				out = append(out, simSession{id: 385 + i, login: `CONTOSO\svc-sqlagent`, host: w.cfg.SourceServerName,
					program: p.distName, last: max(p.lastDelivery, w.t-5), db: dbDistribution})
			}
		}
	}
	for i, a := range w.aos {
		if !a.active(w.t) {
			continue
		}
		for k := range 6 {
			out = append(out, simSession{id: 400 + 10*i + k, login: `CONTOSO\svc-axaos`, host: a.cfg.Host,
				program: "Microsoft Dynamics AX", last: w.t - float64(k)*1.3, db: dbAX})
		}
	}
	return out
}

// userSessions answers UserSessions: the rows of sys.dm_exec_sessions the query's WHERE clause
// keeps, evaluated with SQL's three-valued logic. A login without VIEW SERVER STATE (VIEW DATABASE
// STATE on Azure SQL Database) sees only its own session
// (sql-docs: docs/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql.md).
func (w *World) userSessions(v view, sql string) (*tdssim.Result, error) {
	cols := []tdssim.Column{colSmall("session_id"), colNV("login_name", sysname), colNV("host_name", sysname),
		colNV("program_name", sysname), colDT("last_request_end_time")}
	where, err := whereOf(sql)
	if err != nil {
		return nil, err
	}
	var keep []sessionRow
	for _, row := range w.sessionRows(v) {
		t, err := tsql.Test(where, sessionEnv{row: row, v: v})
		if err != nil {
			return nil, tdssim.NoAnswerError(err.Error())
		}
		if t == tsql.True {
			keep = append(keep, row)
		}
	}
	out := make([]tdssim.Row, len(keep))
	for i, x := range keep {
		out[i] = tdssim.Row{x.id, x.login, x.host, x.program, x.last}
	}
	return tdssim.Rows(cols, out...), nil
}

// sessionRows are the rows of sys.dm_exec_sessions the session's login sees, by session_id: the
// world's sessions and the live connections (v.live), only its own without VIEW SERVER STATE.
func (w *World) sessionRows(v view) []sessionRow {
	var all []sessionRow
	w.lock()
	for _, s := range w.simSessions(v.server) {
		all = append(all, sessionRow{id: int64(s.id), login: s.login, host: s.host, program: s.program, last: w.dt(s.last),
			db: dbID(s.db), user: true})
	}
	now := w.timeAt(w.t)
	w.mu.Unlock()
	for _, s := range v.live {
		all = append(all, sessionRow{id: int64(s.SPID), login: s.User, host: s.HostName, program: s.AppName, last: now,
			db: dbID(liveDB(v, s)), user: true})
	}
	if v.reader {
		all = slices.DeleteFunc(all, func(r sessionRow) bool { return r.id != int64(v.spid) })
	}
	slices.SortFunc(all, func(a, b sessionRow) int { return cmp.Compare(a.id, b.id) })
	return all
}

// sessionRow is one row of sys.dm_exec_sessions.
type sessionRow struct {
	id          int64
	login, host string
	program     any
	last        any
	db          int64
	user        bool
}

// sessionEnv evaluates a WHERE clause over a sessionRow.
type sessionEnv struct {
	row sessionRow
	v   view
}

func (e sessionEnv) Column(c *tsql.ColumnRef) (any, error) {
	switch strings.ToLower(c.Column()) {
	case "session_id":
		return e.row.id, nil
	case "login_name":
		return e.row.login, nil
	case "host_name":
		return e.row.host, nil
	case "program_name":
		return e.row.program, nil
	case "last_request_end_time":
		return e.row.last, nil
	case "database_id":
		return e.row.db, nil
	case "is_user_process":
		return e.row.user, nil
	}
	return nil, fmt.Errorf("sys.dm_exec_sessions.%s is not simulated", c.Column())
}

func (e sessionEnv) Call(f *tsql.FuncCall, args []any) (any, error) {
	if strings.EqualFold(f.Name.Object(), "DB_ID") && len(args) == 0 {
		return dbID(e.v.db), nil
	}
	return nil, fmt.Errorf("%s is not simulated", f.Name)
}

func (e sessionEnv) Variable(x *tsql.VariableRef) (any, error) {
	if x.System && strings.EqualFold(x.Name, "SPID") {
		return int64(e.v.spid), nil
	}
	return nil, fmt.Errorf("variable %s is not simulated", x.Name)
}

// whereOf is the WHERE clause of a one-SELECT batch (nil: none; a nil predicate keeps every row).
func whereOf(sql string) (tsql.Expr, error) {
	script, err := tsql.Parse(sql)
	if err != nil {
		return nil, tdssim.NoAnswerError(err.Error())
	}
	if len(script.Statements) == 1 {
		if st, ok := script.Statements[0].(*tsql.SelectStatement); ok {
			if sel, ok := st.Query.(*tsql.Select); ok {
				if sel.Where == nil {
					return &tsql.Literal{Kind: tsql.NumberLit, Value: "1"}, nil
				}
				return sel.Where, nil
			}
		}
	}
	return nil, tdssim.NoAnswerError(sql)
}

// dbID is a database's database_id: master 1, tempdb 2, model 3, msdb 4, then the AX database
// and distribution on the source; the sandbox database on the target.
func dbID(k dbKind) int64 {
	switch k {
	case dbMaster:
		return 1
	case dbMsdb:
		return 4
	case dbAX, dbTarget:
		return 5
	case dbDistribution:
		return 6
	}
	return 0
}

func liveDB(v view, s *tdssim.Session) dbKind {
	switch db := s.CurrentDatabase(); {
	case strings.EqualFold(db, v.dbName):
		return v.db
	case strings.EqualFold(db, "master"):
		return dbMaster
	}
	return dbOther
}

// lastUserUpdate answers LastUserUpdate: application writes on the AX
// database, the log reader's on the distribution database, the
// distribution agents' (and the upgrade's) on the sandbox.
func (w *World) lastUserUpdate(v view) *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	last := math.Inf(-1)
	switch v.db {
	case dbAX:
		last = w.repl.lastWrite
	case dbDistribution:
		last = min(w.repl.lastWrite+logReaderLatency, w.t)
		for _, p := range w.pubs {
			last = max(last, min(p.lastDelivery, w.removedAt))
		}
	case dbTarget:
		for _, p := range w.pubs {
			last = max(last, min(p.lastDelivery, w.removedAt))
			if p.snap != nil && w.t >= p.snap.genEnd {
				last = max(last, min(w.t, p.snap.end, w.removedAt))
			}
		}
		if a := w.upg.lastActivity(w.t); !math.IsNaN(a) {
			last = max(last, a)
		}
	}
	return tdssim.Rows([]tdssim.Column{colDT("")}, tdssim.Row{w.dt(last)})
}

// ---------------------------------------------------------------------------------------------
// Publisher side.

func replNotEnabled() *tdssim.Error {
	return &tdssim.Error{Number: 14013, State: 1, Class: 16, Message: "This database is not enabled for publication."}
}

func noSuchPublication(name string) *tdssim.Error {
	return &tdssim.Error{Number: 20026, State: 1, Class: 16, Message: fmt.Sprintf("The publication '%s' does not exist.", name)}
}

func replSQLError(err error, pub string) error {
	switch {
	case errors.Is(err, ErrReplicationRemoved):
		return replNotEnabled()
	case errors.Is(err, ErrSnapshotPublication):
		return &tdssim.Error{Number: 21485, State: 1, Class: 16, Message: "Tracer tokens cannot be posted for a snapshot publication."}
	default:
		return noSuchPublication(pub)
	}
}

func (w *World) postTracerTokenResult(pub string) (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	id, err := w.postToken(pub)
	if err != nil {
		return nil, replSQLError(err, pub)
	}
	return tdssim.Rows([]tdssim.Column{colInt("tracer_id")}, tdssim.Row{id}), nil
}

func (w *World) tracerHistoryResult(pub string, id int64) (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if _, err := w.publication(pub); err != nil {
		return nil, replSQLError(err, pub)
	}
	cols := []tdssim.Column{colBig("distributor_latency"), colNV("subscriber", sysname), colNV("subscriber_db", sysname),
		colBig("subscriber_latency"), colBig("overall_latency")}
	for _, tk := range w.repl.tokens {
		if int64(tk.id) != id || !strings.EqualFold(w.pubs[tk.pub].name, pub) {
			continue
		}
		d, s, o := w.tokenLatencies(tk)
		sec := func(d *time.Duration) any {
			if d == nil {
				return nil
			}
			return int64(d.Seconds())
		}
		return tdssim.Rows(cols, tdssim.Row{sec(d), w.cfg.TargetServerName, w.cfg.TargetDatabase, sec(s), sec(o)}), nil
	}
	return tdssim.Rows(cols), nil
}

// ---------------------------------------------------------------------------------------------
// Distribution database.

func (w *World) publicationsResult() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("publication_id"), colNV("publisher_db", sysname), colNV("publication", sysname), colInt("publication_type")}
	ps := w.pubsByNameLocked()
	rows := make([]tdssim.Row, len(ps))
	for i, p := range ps {
		typ := 0
		if !p.transactional() {
			typ = 1
		}
		rows[i] = tdssim.Row{p.id, w.cfg.SourceDatabase, p.name, typ}
	}
	return tdssim.Rows(cols, rows...)
}

func (w *World) articlesResult() *tdssim.Result {
	w.lock()
	arts := w.sortedArticles()
	w.mu.Unlock()
	cols := []tdssim.Column{colInt("article_id"), colNV("publication", sysname), colNV("article", sysname),
		colNV("source_object", sysname), colNV("destination_object", sysname)}
	return tdssim.Stream(cols, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, 5)
		for _, a := range arts {
			row[0], row[1], row[2], row[3], row[4] = a.id, a.pub, a.name, a.name, a.name
			if !yield(row, nil) {
				return
			}
		}
	})
}

// eachArticleInDistributionLocked calls f for each article with commands in the distribution
// database (MSdistribution_status's rows): n undelivered, d delivered and not yet removed by the
// cleanup job. The caller holds w.mu.
func (w *World) eachArticleInDistributionLocked(f func(p *publication, t *table, n, d int64)) {
	for _, p := range w.pubs {
		if !p.queued() {
			continue
		}
		for _, ti := range p.tables {
			t := w.tables[ti]
			if t.init == 0 && !t.hot {
				continue
			}
			pd, _ := w.articlePending(t)
			dv := articleDelivered(t, p, p.delivered) - articleDelivered(t, p, p.cleanD)
			if n, d := ceilCount(pd), floorCount(dv); n > 0 || d > 0 {
				f(p, t, n, d)
			}
		}
	}
}

// pendingCommands answers PendingCommands: like the MSdistribution_status
// view it has a row only for articles with commands in the distribution
// database (undelivered, or delivered and not yet removed by the cleanup
// job, which runs every 10 minutes).
func (w *World) pendingCommands() *tdssim.Result {
	type pend struct {
		pub, art, agent any
		pending, deliv  int64
	}
	w.lock()
	var rows []pend
	w.eachArticleInDistributionLocked(func(p *publication, t *table, n, d int64) {
		rows = append(rows, pend{p.nameAny, t.nameAny, p.distAny, n, d})
	})
	subDB := w.cfg.TargetDatabase
	w.mu.Unlock()
	slices.SortStableFunc(rows, func(a, b pend) int { return cmp.Compare(b.pending, a.pending) })
	cols := []tdssim.Column{colNV("publication", sysname), colNV("article", sysname), colNV("agent_name", 100),
		colNV("subscriber_db", sysname), colInt("pending_cmds"), colInt("delivered_cmds")}
	return tdssim.Stream(cols, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, 6)
		for _, r := range rows {
			row[0], row[1], row[2], row[3], row[4], row[5] = r.pub, r.art, r.agent, subDB, r.pending, r.deliv
			if !yield(row, nil) {
				return
			}
		}
	})
}

// Replication Monitor status codes (MSreplication_monitordata.status,
// runstatus of the history tables).
const (
	runSucceeded  = 2
	runInProgress = 3
	runIdle       = 4
	runFailed     = 6
)

// Replication Monitor's cache refresh (caching-refresh-and-replication-monitor-performance.md): the
// refresher job waits 4 seconds after a refresh when agent history changed since, 30 seconds when
// it did not (the time taken to build the cache, the documented alternative, is nothing here).
const (
	monitorRefreshBusy = 4.0
	monitorRefreshIdle = 30.0
)

// monitorCache is MSreplication_monitordata: the agent rows as the refresher job last built them.
type monitorCache struct {
	at      float64 // sim seconds of the last refresh
	rows    []tdssim.Row
	stopped bool // the refresher job is stopped (SetMonitorRefresher)
}

// refreshMonitor rebuilds the cache when the refresher job is due (w.mu held): the rows are those
// of now, stamped with the newest refresh instant of the job's schedule at or before now.
func (w *World) refreshMonitor() {
	m := &w.monitor
	if m.rows != nil && m.stopped {
		return
	}
	period := monitorRefreshIdle
	if w.repl.histTime > m.at {
		period = monitorRefreshBusy
	}
	if m.rows != nil && w.t < m.at+period {
		return
	}
	m.at = math.Floor(w.t/period) * period
	m.rows = w.agentRows(w.timeAt(m.at))
}

// SetMonitorRefresher starts (true, as it is at first) or stops the SQL Server Agent job
// "Replication monitoring refresher for distribution". Stopped, MSreplication_monitordata keeps the
// rows and lastrefresh of its last refresh, however the agents fare since. It is a fault, not an
// Action: it is neither recorded nor replayed.
func (w *World) SetMonitorRefresher(running bool) {
	w.lock()
	defer w.mu.Unlock()
	if !running {
		w.refreshMonitor() // what was due before the job stopped
	}
	w.monitor.stopped = !running
}

// agentStates answers AgentStates from the cache, with each row's age on the server's clock.
func (w *World) agentStates() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publication", sysname), colInt("agent_type"), colNV("agent_name", sysname), colInt("status"),
		colBit("isagentrunningnow"), colInt("warning"), colInt("cur_latency"), colInt("avg_latency"),
		colDT("last_distsync"), colDT("lastrefresh"), colInt("refresh_age")}
	w.refreshMonitor()
	age := int64(math.Floor(w.t) - math.Floor(w.monitor.at))
	rows := make([]tdssim.Row, len(w.monitor.rows))
	for i, r := range w.monitor.rows {
		rows[i] = append(slices.Clip(r), age)
	}
	return tdssim.Rows(cols, rows...)
}

// agentRows are the monitor's rows of every agent now, stamped refreshed at now (w.mu held).
func (w *World) agentRows(now time.Time) []tdssim.Row {
	lrActive := w.repl.lrLastW-w.repl.lrPrevW >= 0.5
	lrName := w.logReaderName()
	ps := w.pubsByNameLocked()
	var rows []tdssim.Row
	for _, p := range ps {
		// Snapshot agent.
		snapStatus, snapRunning := runSucceeded, false
		s := p.snap
		if p.initSnap != nil {
			s = p.initSnap
		}
		if p.unstarted {
			snapStatus = runIdle
		}
		if s != nil {
			switch {
			case w.t < s.start:
				snapStatus = runIdle
			case w.t < s.genEnd:
				snapStatus, snapRunning = runInProgress, true
			}
		}
		rows = append(rows, tdssim.Row{p.name, 1, p.snapName, snapStatus, snapRunning, 0, 0, 0, nil, now})
		// Log reader (transactional publications).
		if p.transactional() {
			st, lat := runIdle, 0
			if lrActive {
				st, lat = runInProgress, int(math.Round(logReaderLatency))
			}
			rows = append(rows, tdssim.Row{p.name, 2, lrName, st, true, 0, lat, lat, w.dt(w.repl.lastWrite), now})
		}
		// Distribution agent.
		st, running, warn, cur, avg := runIdle, true, 0, 0, 0
		last := w.dt(p.lastDelivery)
		switch {
		case p.snap != nil:
			switch s := p.snap; {
			case w.t < s.genEnd:
				st = runIdle
			case w.t < s.end:
				st = runInProgress
			case p.transactional():
				st = runIdle
			default:
				st, running = runSucceeded, false
			}
			last = w.dt(min(w.t, p.snap.end))
			if w.t < p.snap.genEnd {
				last = nil
			}
		case p.down:
			st, running = runFailed, false
		default:
			if w.queue(p) > 1e-3 {
				st = runInProgress
			}
			cur, avg = int(math.Round(w.latency(p))), int(math.Round(p.avgLatency))
			if cur > latencyThreshold {
				warn = 2
			}
		}
		rows = append(rows, tdssim.Row{p.name, 3, p.distName, st, running, warn, cur, avg, last, now})
	}
	return rows
}

func txnMessage(cmds float64) string {
	m := int64(math.Round(cmds))
	return fmt.Sprintf("%d transaction(s) with %d command(s) were delivered.", max(1, int64(math.Ceil(float64(m)/commandsPerTxn))), m)
}

const noTxnMessage = "No replicated transactions are available."

func (w *World) distributionHistory() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publication", sysname), colNV("agent_name", 100), colInt("runstatus"), colDT("time"),
		colNV("comments", 4000), colInt("delivered_commands"), colInt("current_delivery_latency"), colFloat("delivery_rate"),
		colInt("error_id")}
	ps := w.pubsByNameLocked()
	var rows []tdssim.Row
	for _, p := range ps {
		if s := p.snap; s != nil {
			st, at, msg := w.snapshotDelivery(p, s)
			rows = append(rows, tdssim.Row{p.name, p.distName, st, w.dt(at), msg, 5 * len(s.tables), 0, 0.0, 0})
			continue
		}
		if p.unstarted {
			at := max(p.created, math.Floor(w.t/historyInterval)*historyInterval)
			rows = append(rows, tdssim.Row{p.name, p.distName, runIdle, w.dt(at), notYetAvailable(p), 0, 0, 0.0, 0})
			continue
		}
		if s := p.initSnap; s != nil && w.t < s.end+historyInterval {
			st, at, msg := w.snapshotDelivery(p, s)
			rows = append(rows, tdssim.Row{p.name, p.distName, st, w.dt(at), msg, 5 * len(s.tables), 0, 0.0, 0})
			continue
		}
		total := p.histLastD - p.sessionD0
		rate := 0.0
		if span := w.repl.histTime - p.sessionT0; span > 0 {
			rate = total / span
		}
		latMS := int(math.Round(w.latency(p) * 1000))
		switch {
		case p.down:
			rows = append(rows, tdssim.Row{p.name, p.distName, runFailed, w.dt(p.downAt), p.downMsg, int(total), 0, rate, p.downErrID})
		case p.histLastD-p.histPrevD >= 0.5:
			rows = append(rows, tdssim.Row{p.name, p.distName, runInProgress, w.dt(w.repl.histTime),
				txnMessage(p.histLastD - p.histPrevD), int(total), latMS, rate, 0})
		default:
			rows = append(rows, tdssim.Row{p.name, p.distName, runIdle, w.dt(w.repl.histTime), noTxnMessage, int(total), latMS, rate, 0})
		}
	}
	return tdssim.Rows(cols, rows...)
}

// snapshotDelivery is the newest distribution agent message of a cutover
// publication.
//
// Once delivered, the next history row says "No replicated transactions are available" (the
// sequence migration-upgrade/monitor-replication.md describes): the delivery stays only in the
// older rows (snapshotDeliveries).
func (w *World) snapshotDelivery(p *publication, s *snapSchedule) (status int, at float64, msg string) {
	now := min(w.t, w.removedAt)
	switch {
	case now >= s.end && w.repl.histTime > s.end:
		return runIdle, min(w.repl.histTime, now), noTxnMessage
	case now >= s.end:
		return runSucceeded, s.end, deliveredMessage(s)
	case now < s.genEnd:
		return runIdle, max(p.created, math.Floor(now/historyInterval)*historyInterval), notYetAvailable(p)
	}
	at, msg = s.genEnd, "Applying the snapshot to the Subscriber."
	for i, ti := range s.tables {
		name := w.tables[ti].name
		if s.loadStart[i] <= now {
			at, msg = s.loadStart[i], fmt.Sprintf("Bulk copying data into table '%s'", name)
		}
		if s.loadEnd[i] <= now {
			at, msg = s.loadEnd[i], fmt.Sprintf("Bulk copied data into table '%s' (%d rows)", name, s.rows[i])
		}
	}
	return runInProgress, at, msg
}

// notYetAvailable is the distribution agent's message while its publication has no snapshot.
func notYetAvailable(p *publication) string {
	return fmt.Sprintf("The initial snapshot for publication '%s' is not yet available.", p.name)
}

// deliveredMessage is the distribution agent's message once a snapshot is applied, in the form
// migration-upgrade/monitor-replication.md shows: "Delivered snapshot from the \\unc\server\folder".
func deliveredMessage(s *snapSchedule) string {
	return "Delivered snapshot from the " + s.folder
}

// snapshotDeliveries answers SnapshotDeliveries: the "Delivered snapshot" rows of the distribution
// history logged within the last within seconds. The PK publications' snapshots were delivered
// once, ten minutes after they were created; the cutover publications' when their snapshot ends.
func (w *World) snapshotDeliveries(within int64) *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publication", sysname), colNV("agent_name", 100), colInt("runstatus"), colDT("time"),
		colNV("comments", 4000)}
	type r struct {
		at  float64
		row tdssim.Row
	}
	var rs []r
	now, from := min(w.t, w.removedAt), math.Floor(w.t)-float64(within)
	for _, p := range w.pubs {
		at, msg := p.created+600, fmt.Sprintf("Delivered snapshot from the \\\\%s\\ReplData\\unc\\%s\\", w.cfg.SourceServerName, strings.ToUpper(p.name))
		switch {
		case p.unstarted:
			continue
		case p.snap != nil:
			at, msg = p.snap.end, deliveredMessage(p.snap)
		case p.initSnap != nil:
			at, msg = p.initSnap.end, deliveredMessage(p.initSnap)
		}
		if at >= from && at <= now {
			rs = append(rs, r{at, tdssim.Row{p.name, p.distName, runSucceeded, w.dt(at), msg}})
		}
	}
	slices.SortStableFunc(rs, func(a, b r) int { return cmp.Compare(b.at, a.at) })
	rows := make([]tdssim.Row, len(rs))
	for i, x := range rs {
		rows[i] = x.row
	}
	return tdssim.Rows(cols, rows...)
}

func (w *World) logReaderHistory() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("agent_name", 100), colNV("publisher_db", sysname), colInt("runstatus"), colDT("time"),
		colNV("comments", 255), colInt("delivery_latency"), colInt("error_id")}
	var share float64
	for _, p := range w.pubs {
		share += p.share
	}
	cmds := (w.repl.lrLastW - w.repl.lrPrevW) * share
	st, msg, lat := runIdle, noTxnMessage, 0
	if cmds >= 0.5 {
		st, msg, lat = runInProgress, txnMessage(cmds), int(logReaderLatency*1000)
	}
	return tdssim.Rows(cols, tdssim.Row{w.logReaderName(), w.cfg.SourceDatabase, st, w.dt(w.repl.histTime), msg, lat, 0})
}

func (w *World) snapshotHistory() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publication", sysname), colNV("agent_name", 100), colInt("runstatus"), colDT("time"),
		colNV("comments", 255), colInt("error_id")}
	ps := w.pubsByNameLocked()
	var rows []tdssim.Row
	for _, p := range ps {
		if p.unstarted { // a snapshot agent that never ran has no history
			continue
		}
		n := len(p.tables) + len(p.functions)
		done := fmt.Sprintf("[100%%] A snapshot of %d article(s) was generated.", n)
		s := p.snap
		if p.initSnap != nil {
			s = p.initSnap
		}
		switch {
		case s == nil:
			rows = append(rows, tdssim.Row{p.name, p.snapName, runSucceeded, w.dt(p.created + 120 + float64(n)/20), done, 0})
		case w.t < s.start:
		case w.t < s.genEnd:
			f := (w.t - s.start) / (s.genEnd - s.start)
			i := min(len(s.tables)-1, int(f*float64(len(s.tables))))
			msg := fmt.Sprintf("[%d%%] Bulk copied snapshot data for article '%s' (%d rows).", int(f*100), w.tables[s.tables[i]].name, s.rows[i])
			rows = append(rows, tdssim.Row{p.name, p.snapName, runInProgress, w.dt(w.t), msg, 0})
		default:
			rows = append(rows, tdssim.Row{p.name, p.snapName, runSucceeded, w.dt(s.genEnd), done, 0})
		}
	}
	return tdssim.Rows(cols, rows...)
}

func (w *World) replErrorsResult() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	// MSrepl_errors.error_text is ntext (sql-docs: docs/relational-databases/system-tables/msrepl-errors-transact-sql.md).
	cols := []tdssim.Column{colInt("id"), colDT("time"), colNV("error_code", sysname), {Name: "error_text", Type: tdssim.TypeNText, Nullable: true}}
	errs := slices.Clone(w.repl.errors)
	slices.SortFunc(errs, func(a, b replError) int {
		if c := cmp.Compare(b.at, a.at); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	var rows []tdssim.Row
	for _, e := range errs {
		if e.at <= w.t && len(rows) < 20 {
			rows = append(rows, tdssim.Row{e.id, w.dt(e.at), e.code, e.text})
		}
	}
	return tdssim.Rows(cols, rows...)
}

func (w *World) newestTransaction() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	var v any
	newest := math.Inf(-1)
	for _, p := range w.pubs {
		if p.initTotal > 0 {
			newest = 0
		}
	}
	if !math.IsInf(w.repl.lastWrite, -1) {
		newest = max(newest, min(w.t, w.repl.lastWrite+logReaderLatency))
	}
	if !math.IsInf(newest, -1) {
		v = w.dt(newest)
	}
	return tdssim.Rows([]tdssim.Column{colDT("")}, tdssim.Row{v})
}

func (w *World) subscriptionsResult() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publisher", sysname), colNV("publisher_db", sysname), colNV("publication", sysname),
		colNV("subscriber", sysname), colNV("subscriber_db", sysname), colNV("agent_name", 100), colInt("subscription_type")}
	ps := w.pubsByNameLocked()
	rows := make([]tdssim.Row, len(ps))
	for i, p := range ps {
		// The toolkit creates push subscriptions to the sandbox.
		rows[i] = tdssim.Row{w.cfg.SourceServerName, w.cfg.SourceDatabase, p.name, w.cfg.TargetServerName, w.cfg.TargetDatabase, p.distName, 0}
	}
	return tdssim.Rows(cols, rows...)
}

// subscriptionStates answers query.SubscriptionStates: every publication has one push
// subscription to the sandbox database (the toolkit creates them with the publications), whose
// articles are all active once its snapshot was applied and subscribed (needing initialization)
// before (mssubscriptions-transact-sql.md, sp-addsubscription-transact-sql.md).
func (w *World) subscriptionStates() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colNV("publication", sysname), colNV("subscriber_db", sysname),
		{Name: "status", Type: tdssim.TypeTinyInt, Nullable: true}, colInt("articles")}
	ps := w.pubsByNameLocked()
	rows := make([]tdssim.Row, len(ps))
	for i, p := range ps {
		rows[i] = tdssim.Row{p.name, w.cfg.TargetDatabase, w.subscriptionStatusLocked(p), len(p.tables) + len(p.functions)}
	}
	return tdssim.Rows(cols, rows...)
}

// publisherPublications answers query.PublisherPublications in the AX database: its
// syspublications, which «Remove replication setup» drops with the rest (208 afterwards).
func (w *World) publisherPublications() (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if w.removed() || w.cfg.NoReplicationSystemTables {
		return nil, tdssim.InvalidObjectError("dbo.syspublications")
	}
	ps := w.pubsByNameLocked()
	rows := make([]tdssim.Row, len(ps))
	for i, p := range ps {
		rows[i] = tdssim.Row{p.name}
	}
	return tdssim.Rows([]tdssim.Column{colNV("name", sysname)}, rows...), nil
}

func (w *World) subscriptionPending(pub string) (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	p, err := w.publication(pub)
	if err != nil {
		return nil, noSuchPublication(pub)
	}
	cols := []tdssim.Column{colInt("pendingcmdcount"), colInt("estimatedprocesstime")}
	var n, est int64
	if p.queued() {
		q := w.queue(p)
		n = ceilCount(q)
		rate := p.rate
		if rate <= 0 && !p.down {
			queued := 0
			for _, x := range w.pubs {
				if x.queued() {
					queued++
				}
			}
			rate = w.repl.drainRate / float64(max(1, queued))
		}
		if n > 0 && rate > 0 {
			est = int64(math.Ceil(q / rate))
		}
	}
	return tdssim.Rows(cols, tdssim.Row{n, est}), nil
}

// ---------------------------------------------------------------------------------------------
// The data upgrade (sandbox).

// The upgrade's tables on the sandbox, shaped as migration-upgrade/monitor-upgrade.md reads them.
// The DBUPGRADE tables exist once the upgrade was triggered, DBSyncExecStats once its first
// database synchronization started, RELEASEUPDATESCRIPTSERRORLOG once the PreSync scripts started
// (the synchronization before creates it); before, a query on them answers 208 as SQL Server does.

func missingTable(name string) error { return tdssim.InvalidObjectError(name) }

// dataUpgradeStatus answers DataUpgradeStatus. STATUS is Completed or Failed as documented; a step
// in progress shows InProgress, which is this simulator's choice (the docs do not say), and its
// EndTime is 1900-01-01.
func (w *World) dataUpgradeStatus() (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if len(w.upg.runs) == 0 {
		return nil, missingTable("DBUPGRADE.DATAUPGRADESTATUS")
	}
	cols := []tdssim.Column{colDT("StartTime"), colDT("EndTime"), colNV("Steps", 100), colNV("SubSteps", 100), colNV("STATUS", 50)}
	type r struct {
		start, end float64
		row        tdssim.Row
	}
	var rs []r
	for i, s := range w.upg.steps {
		start, end, status, ok := w.upg.stepTimes(i, w.t)
		if !ok {
			continue
		}
		endV := any(sqlEpoch())
		sortEnd := math.Inf(-1)
		if !math.IsNaN(end) {
			endV, sortEnd = w.timeAt(end), end
		}
		rs = append(rs, r{start, sortEnd, tdssim.Row{w.timeAt(start), endV, s.phase.String(), s.name, status}})
	}
	slices.SortStableFunc(rs, func(a, b r) int {
		if c := cmp.Compare(b.end, a.end); c != 0 {
			return c
		}
		return cmp.Compare(b.start, a.start)
	})
	rows := make([]tdssim.Row, len(rs))
	for i, x := range rs {
		rows[i] = x.row
	}
	return tdssim.Rows(cols, rows...), nil
}

// Servicing step status values: 2 is done, as monitor-upgrade.md reads it; the others are this
// simulator's choice (the docs name no other value).
const (
	servicingRunning = 1
	servicingDone    = 2
	servicingFailed  = 3
)

// servicingSteps answers ServicingSteps: a row per phase (/DataUpgrade/PreReqs …) and the final
// /DataUpgrade/FinalDbSync/DisableDataUpgradeFlag. ModifiedDateTime is 2 seconds after a step
// completed (monitor-upgrade.md takes it less 2 seconds as the completion time), when a step
// running last moved on, or when it failed.
func (w *World) servicingSteps() (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if len(w.upg.runs) == 0 {
		return nil, missingTable("DBUPGRADE.SERVICINGSTEP")
	}
	cols := []tdssim.Column{colNV("Path", 256), colInt("Status"), colDT("ModifiedDateTime")}
	type agg struct {
		path     string
		modified float64
		status   int
	}
	var out []agg
	add := func(path string, pick func(s upStep) bool) {
		a := agg{path: path, modified: math.Inf(-1), status: servicingDone}
		seen := false
		var end float64
		for i, s := range w.upg.steps {
			if !pick(s) || s.umbrella {
				continue
			}
			start, e, st, ok := w.upg.stepTimes(i, w.t)
			if !ok {
				if a.status != servicingFailed {
					a.status = servicingRunning
				}
				continue
			}
			seen = true
			switch st {
			case "Completed":
				end = max(end, e)
				a.modified = max(a.modified, e)
			case "Failed":
				a.status = servicingFailed
				a.modified = max(a.modified, e)
			default:
				if a.status != servicingFailed {
					a.status = servicingRunning
				}
				a.modified = max(a.modified, start)
			}
		}
		if !seen {
			return
		}
		if a.status == servicingDone {
			a.modified = end + 2
		}
		out = append(out, a)
	}
	for p := UpgradePreReqs; p <= UpgradeFinalDbSync; p++ {
		add("/DataUpgrade/"+p.String(), func(s upStep) bool { return s.phase == p })
	}
	add("/DataUpgrade/FinalDbSync/DisableDataUpgradeFlag", func(s upStep) bool {
		return s.phase == UpgradeFinalDbSync && s.name == "DisableDataUpgradeFlag"
	})
	slices.SortStableFunc(out, func(a, b agg) int { return cmp.Compare(a.modified, b.modified) })
	rows := make([]tdssim.Row, len(out))
	for i, a := range out {
		rows[i] = tdssim.Row{a.path, a.status, w.timeAt(a.modified)}
	}
	return tdssim.Rows(cols, rows...), nil
}

// dbSyncSteps answers DBSyncSteps: one row per synchronization run, with the raw SyncStep names,
// newest RecID first (at most 50). Success is 0 until a run finishes well; FinishTime is
// 1900-01-01 while it runs.
func (w *World) dbSyncSteps() (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if !w.upg.begun(w.t, func(s upStep) bool { return s.sync != "" }) {
		return nil, missingTable("DBSyncExecStats")
	}
	cols := []tdssim.Column{colBig("RecID"), colNV("SyncStep", 100), colNV("DBSyncActivityId", 36), colDT("StartDateTime"), colDT("FinishTime"), colBit("Success")}
	type r struct {
		start float64
		row   tdssim.Row
	}
	var rs []r
	for k, run := range w.upg.runs {
		if w.t < run.t0 {
			continue
		}
		x := w.upg.reach(run, w.t)
		for i, s := range w.upg.steps {
			if s.sync == "" || run.u0 > s.s || (x <= s.s && s.s != run.u0) {
				continue
			}
			start := run.t0 + (s.s - run.u0)
			finish, ok := any(sqlEpoch()), false
			switch {
			case x >= s.e:
				finish, ok = w.timeAt(run.t0+(s.e-run.u0)), true
			case w.t >= run.stopAt && run.failed:
				finish = w.timeAt(run.stopAt)
			}
			rs = append(rs, r{start, tdssim.Row{nil, rawSync(s.sync), w.activityID(k, i), w.timeAt(start), finish, ok}})
		}
	}
	slices.SortStableFunc(rs, func(a, b r) int { return cmp.Compare(a.start, b.start) })
	for i := range rs {
		rs[i].row[0] = int64(5637144576 + i)
	}
	slices.Reverse(rs)
	rows := make([]tdssim.Row, 0, min(len(rs), 50))
	for _, x := range rs[:min(len(rs), 50)] {
		rows = append(rows, x.row)
	}
	return tdssim.Rows(cols, rows...), nil
}

// activityID is a stable GUID for one database sync run.
func (w *World) activityID(run, step int) string {
	h := w.seed*0x9E3779B97F4A7C15 + uint64(run)*0xBF58476D1CE4E5B9 + uint64(step)*0x94D049BB133111EB
	h ^= h >> 31
	g := h * 0xD6E8FEB86659FD93
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(h>>32), uint16(h>>16), uint16(g)&0xfff, uint16(g>>16)&0xfff, g>>16&0xffffffffffff)
}

// upgradeBatchTasks answers UpgradeBatchTasks: the tasks of the "Data upgrade" job executing now
// (none between the PreSync and PostSync runs, nor once a job ended or failed).
func (w *World) upgradeBatchTasks() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	total := map[BatchStatus]int{}
	for b := 1; b <= 2; b++ {
		if h, executing, ok := w.upg.batchTasks(b, w.t); ok && executing {
			for st, n := range h {
				total[st] += n
			}
		}
	}
	keys := slices.Sorted(maps.Keys(total))
	rows := make([]tdssim.Row, len(keys))
	for i, st := range keys {
		rows[i] = tdssim.Row{int(st), total[st]}
	}
	return tdssim.Rows([]tdssim.Column{colInt("STATUS"), colInt("tasks")}, rows...)
}

// upgradeScriptErrors answers UpgradeScriptErrors with the columns the documented example row shows
// (pre-post-upgrade-scripts.md: ClassName, MethodName, Company, ErrorCount, ErrorMessage) plus the
// RECID and PARTITION every D365 table has; no datetime column, so a client must not need one. The
// docs do not fix the columns: this shape is the simulator's. Rows come in the order they were
// written.
func (w *World) upgradeScriptErrors() (*tdssim.Result, error) {
	w.lock()
	defer w.mu.Unlock()
	if !w.upg.begun(w.t, func(s upStep) bool { return s.phase >= UpgradePreSync }) {
		return nil, missingTable("dbo.RELEASEUPDATESCRIPTSERRORLOG")
	}
	cols := []tdssim.Column{colBig("RECID"), colBig("PARTITION"), colNV("CLASSNAME", 81), colNV("METHODNAME", 81), colNV("COMPANY", 4),
		colInt("ERRORCOUNT"), {Name: "ERRORMESSAGE", Type: tdssim.TypeNVarCharMax, Nullable: true}}
	var rows []tdssim.Row
	for i, e := range w.upg.errs {
		if e.script && e.at <= w.t && len(rows) < 200 {
			rows = append(rows, tdssim.Row{int64(5637144576 + i), int64(5637144576), e.class, e.method, e.company, 1, e.errMsg})
		}
	}
	return tdssim.Rows(cols, rows...), nil
}

func (w *World) servicingActivity(v view) *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	var last any
	if v.server == serverTarget && !v.reader {
		last = w.dt(w.upg.lastActivity(w.t))
	}
	return tdssim.Rows([]tdssim.Column{colDT("")}, tdssim.Row{last})
}

// ---------------------------------------------------------------------------------------------
// Pre-flight and ad hoc.

func (w *World) serverInfo(srv serverKind) *tdssim.Result {
	cols := []tdssim.Column{colNV("product_version", sysname), colNV("edition", sysname), colNV("version", 300), colInt("integrated_only")}
	if srv == serverTarget {
		return tdssim.Rows(cols, tdssim.Row{"12.0.2000.8", "SQL Azure", azureVersion(), 0})
	}
	p := w.Preflight()
	integrated := 0
	if p.IntegratedSecurityOnly {
		integrated = 1
	}
	return tdssim.Rows(cols, tdssim.Row{p.ProductVersion, p.Edition, p.Version, integrated})
}

// loginRights answers query.LoginRights: User is sysadmin on the source server and db_owner of
// the sandbox database; ReaderUser is neither.
// With Preflight.HideRoleMembership both functions return NULL, as they do for a membership the
// login may not view (they need VIEW DEFINITION on the role: is-srvrolemember-transact-sql.md).
func (w *World) loginRights(v view) *tdssim.Result {
	cols := []tdssim.Column{colNV("login_name", sysname), colInt("is_sysadmin"), colInt("is_db_owner")}
	login, sysadmin, owner := User, 0, 0
	switch {
	case v.reader:
		login = ReaderUser
	case v.server == serverSource:
		sysadmin, owner = 1, 1
	case v.db == dbTarget:
		owner = 1
	}
	if v.server == serverSource && w.Preflight().HideRoleMembership {
		return tdssim.Rows(cols, tdssim.Row{login, nil, nil})
	}
	return tdssim.Rows(cols, tdssim.Row{login, sysadmin, owner})
}

func azureVersion() string {
	return "Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tOct  2 2025 11:15:29 \n\tCopyright (C) 2025 Microsoft Corporation\n"
}

func (w *World) versionString(srv serverKind) string {
	if srv == serverTarget {
		return azureVersion()
	}
	return w.Preflight().Version
}

// databaseSettings answers DatabaseSettings. The reader login lacks CREATE DATABASE, ALTER ANY
// DATABASE and VIEW ANY DEFINITION, so sys.master_files shows it none of the files and the size is
// NULL (sql-docs: docs/relational-databases/system-catalog-views/sys-master-files-transact-sql.md);
// sys.databases still shows it the database it is connected to.
func (w *World) databaseSettings(name string, reader bool) *tdssim.Result {
	cols := []tdssim.Column{colNV("owner", sysname), colBit("is_read_committed_snapshot_on"), colNV("recovery_model_desc", 60), colBig("size_bytes")}
	w.lock()
	defer w.mu.Unlock()
	p := w.pre
	switch {
	case strings.EqualFold(name, w.cfg.SourceDatabase):
		var owner any // SUSER_SNAME of an orphaned owner SID is NULL
		if p.DatabaseOwner != "" {
			owner = p.DatabaseOwner
		}
		var size any = w.dbSizeBytes()
		if reader {
			size = nil
		}
		return tdssim.Rows(cols, tdssim.Row{owner, p.ReadCommittedSnapshot, p.RecoveryModel, size})
	case strings.EqualFold(name, w.cfg.DistributionDatabase) && !w.removed():
		return tdssim.Rows(cols, tdssim.Row{"sa", false, "SIMPLE", int64(6<<30) + int64(w.repl.cumW)*600})
	case strings.EqualFold(name, "master"), strings.EqualFold(name, "msdb"), strings.EqualFold(name, "model"):
		return tdssim.Rows(cols, tdssim.Row{"sa", false, "SIMPLE", int64(24 << 20)})
	case strings.EqualFold(name, "tempdb"):
		return tdssim.Rows(cols, tdssim.Row{"sa", false, "SIMPLE", int64(8 << 30)})
	}
	return tdssim.Rows(cols)
}

// defaultCollation is AX 2012's usual collation, and the only one the cloud supports.
const defaultCollation = "SQL_Latin1_General_CP1_CI_AS"

// collations answers query.Collations: the server's collation and the named database's (NULL for
// a database the server does not have).
func (w *World) collations(name string) *tdssim.Result {
	p := w.Preflight()
	server, db := p.ServerCollation, p.DatabaseCollation
	if server == "" {
		server = defaultCollation
	}
	if db == "" {
		db = defaultCollation
	}
	var dbCol any
	switch {
	case strings.EqualFold(name, w.cfg.SourceDatabase):
		dbCol = db
	case containsFold(w.databases(serverSource), name):
		dbCol = server
	}
	return tdssim.Rows([]tdssim.Column{colNV("server_collation", 128), colNV("database_collation", sysname)}, tdssim.Row{server, dbCol})
}

// aotTables answers query.AOTTables: SQLDICTIONARY's own row of every table of the AX model (the
// tables with or without a primary key, a locked one among them), not those on the toolkit's ignore
// list (non-AOT tables) nor replication's. The simulator keeps one name per table, so the AOT name
// and the SQL name are the same.
func (w *World) aotTables() (*tdssim.Result, error) {
	if w.Preflight().NoSQLDictionary {
		return nil, tdssim.InvalidObjectError("dbo.SQLDICTIONARY")
	}
	w.lock()
	defer w.mu.Unlock()
	var rows []tdssim.Row
	for _, t := range w.tables {
		switch t.kind {
		case kindPK, kindNoPK, kindLocked:
			rows = append(rows, tdssim.Row{t.nameAny, t.nameAny})
		}
	}
	return tdssim.Rows([]tdssim.Column{colNV("NAME", 40), colNV("SQLNAME", 40)}, rows...), nil
}

// databases are the names in sys.databases on a server.
func (w *World) databases(srv serverKind) []string {
	if srv == serverTarget {
		return []string{"master", w.cfg.TargetDatabase}
	}
	out := []string{"master", "tempdb", "model", "msdb", w.cfg.SourceDatabase}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance()
	if !w.removed() {
		out = append(out, w.cfg.DistributionDatabase)
	}
	return out
}

// pubsByNameLocked is the publications in name order, a copy the caller may keep (w.mu held).
func (w *World) pubsByNameLocked() []*publication {
	ps := slices.Clone(w.pubs)
	slices.SortFunc(ps, func(a, b *publication) int { return strings.Compare(a.name, b.name) })
	return ps
}

// subscriptionStatusLocked is MSsubscriptions.status of a publication's push subscription to the
// sandbox (w.mu held): 2, active, once its snapshot was applied; 1, subscribed and awaiting it,
// before (mssubscriptions-transact-sql.md). After replication was removed it stays as it was.
func (w *World) subscriptionStatusLocked(p *publication) int {
	if p.initialized(min(w.t, w.removedAt)) {
		return 2
	}
	return 1
}
