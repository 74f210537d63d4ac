package sim

import (
	"context"
	"iter"
	"slices"
	"strings"

	"cutover/sql/contract"
	"cutover/sql/tdssim"
)

// The rows the world holds of each documented object the ad hoc evaluator reads (catalog.go).
// Each is a world answer whose columns are named as the document names them; project puts them
// in the documented order. The history tables hold each agent's newest row, MSrepl_errors the 20
// newest errors, MSrepl_transactions the newest transaction's time: what the world keeps. The
// numbering the documents leave open is the simulator's: publisher_id and subscriber_id 0, a
// distribution and snapshot agent's id its publication's id, the log reader's 1.

// documented is the source of a documented object in a database of the session's server; nil
// (no error) for an object the world holds no rows of.
func (s *Servers) documented(c *contract.Contract, obj *contract.Object, v view, db dbKind) (tdssim.Source, error) {
	w := s.world
	p := platformOf(v.server)
	now := func(res *tdssim.Result, err error) (tdssim.Source, error) {
		if err != nil {
			return nil, err
		}
		return project(obj, p, res.Sets[0].Columns, func() (*tdssim.Result, error) { return res, nil }), nil
	}
	lazy := func(cols []tdssim.Column, rows func() *tdssim.Result) tdssim.Source {
		return project(obj, p, cols, func() (*tdssim.Result, error) { return rows(), nil })
	}
	switch strings.ToLower(obj.Name) {
	case "dbo.sysserversessions":
		return now(w.axServerSessions(), nil)
	case "dbo.sysclientsessions":
		return now(w.axClientSessions(), nil)
	case "dbo.batchjob":
		if db == dbAX {
			return now(w.batchJobRows(), nil)
		}
	case "dbo.batch":
		hist := w.axRunningTasks
		if db == dbTarget {
			hist = w.upgradeBatchTasks
		}
		return now(taskRows(hist()), nil)
	case "dbo.syspublications":
		res, err := w.publisherPublications()
		return now(res, err)
	case "dbo.sqldictionary":
		res, err := w.aotTables()
		return now(res, err)
	case "dbo.mspublications":
		return now(w.publicationsResult(), nil)
	case "dbo.msarticles":
		return lazy(msArticleColumns, w.msArticles), nil
	case "dbo.msdistribution_agents":
		return now(w.msDistributionAgents(), nil)
	case "dbo.msdistribution_status":
		return now(w.msDistributionStatus(), nil)
	case "dbo.msdistribution_history":
		return now(w.withAgentID(w.distributionHistory(), w.agentIDs(true)), nil)
	case "dbo.mslogreader_agents":
		return now(w.msLogReaderAgents(), nil)
	case "dbo.mslogreader_history":
		return now(w.withAgentID(w.logReaderHistory(), func(any) any { return int64(1) }), nil)
	case "dbo.mssnapshot_agents":
		return now(w.msSnapshotAgents(), nil)
	case "dbo.mssnapshot_history":
		return now(w.withAgentID(w.snapshotHistory(), w.agentIDs(false)), nil)
	case "dbo.msrepl_errors":
		return now(w.replErrorsResult(), nil)
	case "dbo.msrepl_transactions":
		res := w.newestTransaction()
		var rows []tdssim.Row
		if v := res.Sets[0].Rows[0][0]; v != nil {
			rows = append(rows, tdssim.Row{v})
		}
		return now(tdssim.Rows([]tdssim.Column{colDT("entry_time")}, rows...), nil)
	case "dbo.msreplication_monitordata":
		return now(w.agentStates(), nil)
	case "dbo.mssubscriptions":
		return lazy(msSubscriptionColumns, w.msSubscriptions), nil
	case "sys.databases":
		return now(s.sysDatabases(v), nil)
	case "sys.dm_exec_sessions":
		return now(s.sysSessions(v), nil)
	case "sys.objects", "sys.tables":
		return lazy(sysTableColumns, func() *tdssim.Result { return w.sysTables(db) }), nil
	case "sys.partitions", "sys.dm_db_partition_stats":
		if obj.Name == "sys.dm_db_partition_stats" && v.reader {
			return nil, permissionDenied() // VIEW DATABASE STATE
		}
		return lazy(partitionColumns, func() *tdssim.Result { return w.partitions(db) }), nil
	case "sys.schemas":
		return now(tdssim.Rows([]tdssim.Column{colNV("name", sysname), colInt("schema_id"), colInt("principal_id")},
			tdssim.Row{"dbo", 1, 1}, tdssim.Row{"guest", 2, 2}, tdssim.Row{"INFORMATION_SCHEMA", 3, 3}, tdssim.Row{"sys", 4, 4}), nil)
	case "dbupgrade.dataupgradestatus":
		return now(w.dataUpgradeStatus())
	case "dbupgrade.servicingstep":
		return now(w.servicingSteps())
	case "dbo.dbsyncexecstats":
		return now(w.dbSyncSteps())
	case "dbo.releaseupdatescriptserrorlog":
		return now(w.upgradeScriptErrors())
	}
	return nil, nil
}

// taskRows are BATCH rows, one per task, from a count of tasks by STATUS (what the world keeps of
// them).
func taskRows(hist *tdssim.Result) *tdssim.Result {
	var rows []tdssim.Row
	recID := int64(5637150000)
	for _, r := range hist.Sets[0].Rows {
		n, _ := r[1].(int)
		for range n {
			recID++
			rows = append(rows, tdssim.Row{recID, r[0]})
		}
	}
	return tdssim.Rows([]tdssim.Column{colBig("RECID"), colInt("STATUS")}, rows...)
}

// batchJobRows are every BATCHJOB row the world keeps: the jobs in whatever status, and the
// cancelling job of the leftover tasks.
func (w *World) batchJobRows() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colBig("RECID"), colNV("CAPTION", 100), colInt("STATUS"), colDT("STARTDATETIME")}
	rows := make([]tdssim.Row, 0, len(w.jobs)+1)
	for i := range w.jobs {
		j := &w.jobs[i]
		st, start := w.jobStatus(j, w.t)
		rows = append(rows, tdssim.Row{j.recID, j.caption, int(st), w.dt(start)})
	}
	if w.leftover.cancellingTasks > 0 {
		rows = append(rows, tdssim.Row{int64(5637145999), "Master planning - net requirements (cancelling)", int(BatchCancelling), w.dt(w.t - 3600)})
	}
	return tdssim.Rows(cols, rows...)
}

// agentIDs are the ids of the distribution (dist) or snapshot agents by name, read once per answer.
func (w *World) agentIDs(dist bool) func(name any) any {
	w.lock()
	ids := make(map[any]any, len(w.pubs))
	for _, p := range w.pubs {
		name := p.snapName
		if dist {
			name = p.distName
		}
		if _, seen := ids[name]; !seen {
			ids[name] = int64(p.id)
		}
	}
	w.mu.Unlock()
	return func(name any) any { return ids[name] }
}

// withAgentID adds agent_id to a history answer, from its agent_name column.
func (w *World) withAgentID(res *tdssim.Result, id func(name any) any) *tdssim.Result {
	set := res.Sets[0]
	at := slices.IndexFunc(set.Columns, func(c tdssim.Column) bool { return c.Name == "agent_name" })
	cols := append(slices.Clone(set.Columns), colInt("agent_id"))
	rows := make([]tdssim.Row, len(set.Rows))
	for i, r := range set.Rows {
		var name any
		if at >= 0 {
			name = r[at]
		}
		rows[i] = append(slices.Clone(r), id(name))
	}
	return tdssim.Rows(cols, rows...)
}

var msArticleColumns = []tdssim.Column{colSmall("publisher_id"), colNV("publisher_db", sysname), colInt("publication_id"),
	colNV("article", sysname), colInt("article_id"), colNV("destination_object", sysname), colNV("source_owner", sysname),
	colNV("source_object", sysname), colNV("destination_owner", sysname)}

// msArticles is MSarticles: every article of every publication, streamed.
func (w *World) msArticles() *tdssim.Result {
	type art struct {
		pub, id int32
		name    any
	}
	w.lock()
	var arts []art
	for _, p := range w.pubs {
		for _, ti := range p.tables {
			arts = append(arts, art{p.id, w.tables[ti].articleID, w.tables[ti].nameAny})
		}
		for k, f := range p.functions {
			arts = append(arts, art{p.id, p.funcIDs[k], f})
		}
	}
	db := w.cfg.SourceDatabase
	w.mu.Unlock()
	return tdssim.Stream(msArticleColumns, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, len(msArticleColumns))
		for _, a := range arts {
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8] = 0, db, a.pub, a.name, a.id, a.name, "dbo", a.name, "dbo"
			if !yield(row, nil) {
				return
			}
		}
	})
}

// msDistributionAgents is MSdistribution_agents: one push subscription's agent per publication.
func (w *World) msDistributionAgents() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("id"), colNV("name", 100), colSmall("publisher_id"), colNV("publisher_db", sysname),
		colNV("publication", sysname), colSmall("subscriber_id"), colNV("subscriber_db", sysname), colInt("subscription_type"),
		colNV("subscriber_name", sysname)}
	rows := make([]tdssim.Row, 0, len(w.pubs))
	for _, p := range w.pubs {
		rows = append(rows, tdssim.Row{p.id, p.distName, 0, w.cfg.SourceDatabase, p.name, 0, w.cfg.TargetDatabase, 0, w.cfg.TargetServerName})
	}
	return tdssim.Rows(cols, rows...)
}

// msDistributionStatus is MSdistribution_status: the commands per article and agent in the
// distribution database, as pendingCommands counts them.
func (w *World) msDistributionStatus() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("article_id"), colInt("agent_id"), colInt("UndelivCmdsInDistDB"), colInt("DelivCmdsInDistDB")}
	var rows []tdssim.Row
	w.eachArticleInDistributionLocked(func(p *publication, t *table, n, d int64) {
		rows = append(rows, tdssim.Row{t.articleID, p.id, n, d})
	})
	return tdssim.Rows(cols, rows...)
}

func (w *World) msLogReaderAgents() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("id"), colNV("name", 100), colSmall("publisher_id"), colNV("publisher_db", sysname)}
	return tdssim.Rows(cols, tdssim.Row{1, w.logReaderName(), 0, w.cfg.SourceDatabase})
}

func (w *World) msSnapshotAgents() *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("id"), colNV("name", 100), colSmall("publisher_id"), colNV("publisher_db", sysname),
		colNV("publication", sysname), colInt("publication_type")}
	rows := make([]tdssim.Row, 0, len(w.pubs))
	for _, p := range w.pubs {
		typ := 0
		if !p.transactional() {
			typ = 1
		}
		rows = append(rows, tdssim.Row{p.id, p.snapName, 0, w.cfg.SourceDatabase, p.name, typ})
	}
	return tdssim.Rows(cols, rows...)
}

var msSubscriptionColumns = []tdssim.Column{colSmall("publisher_id"), colNV("publisher_db", sysname), colInt("publication_id"),
	colInt("article_id"), colSmall("subscriber_id"), colNV("subscriber_db", sysname), colInt("subscription_type"),
	{Name: "sync_type", Type: tdssim.TypeTinyInt, Nullable: true}, {Name: "status", Type: tdssim.TypeTinyInt, Nullable: true},
	colInt("agent_id")}

// msSubscriptions is MSsubscriptions: a row per article of each publication's push subscription
// to the sandbox, active once its snapshot was applied (subscriptionStates).
func (w *World) msSubscriptions() *tdssim.Result {
	type sub struct {
		pub, art int32
		status   int
	}
	w.lock()
	var subs []sub
	for _, p := range w.pubs {
		status := w.subscriptionStatusLocked(p)
		for _, ti := range p.tables {
			subs = append(subs, sub{p.id, w.tables[ti].articleID, status})
		}
		for _, id := range p.funcIDs {
			subs = append(subs, sub{p.id, id, status})
		}
	}
	srcDB, tgtDB := w.cfg.SourceDatabase, w.cfg.TargetDatabase
	w.mu.Unlock()
	return tdssim.Stream(msSubscriptionColumns, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, len(msSubscriptionColumns))
		for _, s := range subs {
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9] = 0, srcDB, s.pub, s.art, 0, tgtDB, 0, 1, s.status, s.pub
			if !yield(row, nil) {
				return
			}
		}
	})
}

// sysDatabases is sys.databases: the server's databases with the settings the world keeps.
func (s *Servers) sysDatabases(v view) *tdssim.Result {
	w := s.world
	cols := []tdssim.Column{colNV("name", sysname), colInt("database_id"), colNV("collation_name", sysname),
		{Name: "state", Type: tdssim.TypeTinyInt, Nullable: true}, colNV("state_desc", 60), colNV("recovery_model_desc", 60),
		colBit("is_read_committed_snapshot_on"), colBit("is_published"), colBit("is_distributor")}
	p := w.Preflight()
	collation := func(name string) string {
		c := w.collations(name).Sets[0].Rows[0][1]
		if s, ok := c.(string); ok {
			return s
		}
		return p.ServerCollation
	}
	var rows []tdssim.Row
	for _, name := range w.databases(v.server) {
		settings := w.databaseSettings(name, v.reader).Sets[0].Rows
		var recovery, rcsi any
		if len(settings) > 0 {
			recovery, rcsi = settings[0][2], settings[0][1]
		}
		if v.server == serverTarget {
			recovery, rcsi = "FULL", true // Azure SQL Database: FULL recovery, RCSI on
		}
		k := s.dbKind(v.server, name)
		rows = append(rows, tdssim.Row{name, s.databaseID(v.server, name), collation(name), 0, "ONLINE", recovery, rcsi,
			k == dbAX && !w.ReplicationRemoved(), k == dbDistribution})
	}
	return tdssim.Rows(cols, rows...)
}

// sysSessions is sys.dm_exec_sessions: the world's sessions and the live connections, only the
// caller's own for a login without VIEW SERVER STATE (sys-dm-exec-sessions-transact-sql.md).
func (s *Servers) sysSessions(v view) *tdssim.Result {
	v.live = s.server(endpointOf(v.server)).Conns()
	rows := s.world.sessionRows(v)
	cols := []tdssim.Column{colSmall("session_id"), colNV("host_name", sysname), colNV("program_name", sysname),
		colNV("login_name", sysname), colDT("last_request_end_time"), colBit("is_user_process"), colSmall("database_id"),
		colNV("status", 30)}
	out := make([]tdssim.Row, 0, len(rows))
	for _, r := range rows {
		status := "sleeping"
		if r.id == int64(v.spid) {
			status = "running"
		}
		out = append(out, tdssim.Row{r.id, r.host, r.program, r.login, r.last, r.user, r.db, status})
	}
	return tdssim.Rows(cols, out...)
}

var sysTableColumns = []tdssim.Column{colNV("name", sysname), colInt("object_id"), colInt("schema_id"), colNV("type", 2),
	colNV("type_desc", 60), colBit("is_ms_shipped"), colBit("is_replicated")}

// sysTables is sys.tables (and the tables of sys.objects) of the AX database or the sandbox:
// object_id is the simulator's numbering, replication's own tables are is_ms_shipped.
func (w *World) sysTables(db dbKind) *tdssim.Result {
	type tbl struct {
		name          any
		id            int
		shipped, repl bool
	}
	w.lock()
	var ts []tbl
	if db == dbAX || db == dbTarget {
		for i, t := range w.tables {
			if _, ok := w.tableRowsAt(i, db == dbTarget); !ok {
				continue
			}
			ts = append(ts, tbl{t.nameAny, 1_000_000 + i, t.kind == kindSystem, db == dbAX && t.pub >= 0 && !w.removed()})
		}
		if db == dbTarget {
			for i, n := range w.sysTgt {
				ts = append(ts, tbl{n, 2_000_000 + i, true, false})
			}
		}
	}
	w.mu.Unlock()
	return tdssim.Stream(sysTableColumns, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, len(sysTableColumns))
		for _, t := range ts {
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = t.name, t.id, 1, "U ", "USER_TABLE", t.shipped, t.repl
			if !yield(row, nil) {
				return
			}
		}
	})
}

var partitionColumns = []tdssim.Column{colBig("partition_id"), colInt("object_id"), colInt("index_id"), colInt("partition_number"),
	colBig("rows"), colBig("row_count")}

// partitions are sys.partitions and sys.dm_db_partition_stats: one partition of each table's heap
// or clustered index, with the world's row count.
func (w *World) partitions(db dbKind) *tdssim.Result {
	type part struct {
		id, index int
		rows      int64
	}
	w.lock()
	var ps []part
	if db == dbAX || db == dbTarget {
		for i, t := range w.tables {
			n, ok := w.tableRowsAt(i, db == dbTarget)
			if !ok {
				continue
			}
			index := 0
			if t.hasPK {
				index = 1
			}
			ps = append(ps, part{1_000_000 + i, index, n})
		}
	}
	w.mu.Unlock()
	return tdssim.Stream(partitionColumns, func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, len(partitionColumns))
		for _, p := range ps {
			row[0], row[1], row[2], row[3], row[4], row[5] = int64(p.id)<<16, p.id, p.index, 1, p.rows, p.rows
			if !yield(row, nil) {
				return
			}
		}
	})
}

// ---------------------------------------------------------------------------------------------
// The AX tables.

// axColumns are the system fields of every AX 2012 table; no page gives their SQL types, these
// are the simulator's (RecId and Partition are 64-bit, RecVersion 32-bit, DataAreaId four
// characters).
var axColumns = []tdssim.Column{colBig("RECID"), colInt("RECVERSION"), colBig("PARTITION"), colNV("DATAAREAID", 4)}

// axTableRows is an AX table as the world holds it: a row count. Its rows are made up as they are
// read.
type axTableRows struct {
	n int64
}

// Columns implements tdssim.Source.
func (t axTableRows) Columns() []tdssim.Column { return axColumns }

// Omits implements tdssim.PartialSource: an AX table has columns of its own the world does not
// hold (CUSTTABLE.ACCOUNTNUM …), and no document lists them.
func (t axTableRows) Omits(string) bool { return true }

// Count implements tdssim.CountedSource: COUNT(*) reads no rows.
func (t axTableRows) Count() (int64, error) { return t.n, nil }

// Rows implements tdssim.Source: the rows made up as they are read.
func (t axTableRows) Rows(ctx context.Context) iter.Seq2[tdssim.Row, error] {
	return func(yield func(tdssim.Row, error) bool) {
		row := make(tdssim.Row, len(axColumns))
		const first = 5637144576 // the first RecId AX 2012 hands out
		for i := range t.n {
			if i%4096 == 0 && ctx.Err() != nil {
				return
			}
			row[0], row[1], row[2], row[3] = first+i, 1, int64(first), "dat"
			if !yield(row, nil) {
				return
			}
		}
	}
}

// axTable is the source of a world table of the AX database (target false) or the sandbox.
func (w *World) axTable(target bool, name string) (tdssim.Source, error) {
	w.lock()
	defer w.mu.Unlock()
	n, ok := w.tableRowsLocked(target, name)
	if !ok {
		return nil, tdssim.InvalidObjectError(name)
	}
	return axTableRows{n: max(n, 0)}, nil
}
