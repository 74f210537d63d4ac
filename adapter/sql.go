package adapter

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/sql"
)

// SQL adapts the SQL Server connections to the engine's ports.
type SQL struct {
	// Src, Dist and Tgt are the AX source database, the distribution database and the sandbox
	// (nil when the runbook has no such connection).
	Src, Dist, Tgt *sql.DB
	axDB           string
	// master is a pool on the source server's master database, opened when first needed: backups
	// and restores go through it, so cutover holds no connection to the AX database a RESTORE
	// would have to wait for.
	masterMu sync.Mutex
	master   *sql.DB

	// poll is the monitor's reader of the distribution database (one request per poll, the
	// article list kept), made when first needed.
	pollMu sync.Mutex
	poll   *sql.Distributor
}

// masterDB is the pool on the source server's master database.
func (p *SQL) masterDB() (*sql.DB, error) {
	if err := need(p.Src, "source"); err != nil {
		return nil, err
	}
	p.masterMu.Lock()
	defer p.masterMu.Unlock()
	if p.master == nil {
		m, err := p.Src.OnDatabase("master")
		if err != nil {
			return nil, err
		}
		p.master = m
	}
	return p.master, nil
}

// backupErr translates the meaning sql gives a RESTORE error into the engine's terms.
func backupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case sql.IsDatabaseInUse(err):
		return fmt.Errorf("%w: %w", engine.ErrDatabaseInUse, err)
	case sql.IsBackupUnreadable(err):
		return fmt.Errorf("%w: %w", engine.ErrBackupUnreadable, err)
	case sql.IsPermission(err):
		return engine.Permanent(err)
	}
	return err
}

// FullBackups lists the newest full backups of database in msdb.
func (p *SQL) FullBackups(ctx context.Context, database string) ([]engine.BackupSet, error) {
	m, err := p.masterDB()
	if err != nil {
		return nil, err
	}
	sets, err := m.FullBackups(ctx, database)
	if err != nil {
		return nil, backupErr(err)
	}
	out := make([]engine.BackupSet, len(sets))
	for i, s := range sets {
		out[i] = engine.BackupSet{ID: s.ID, Position: s.Position, Start: s.Start, Finish: s.Finish, ZoneKnown: s.ZoneKnown, CopyOnly: s.CopyOnly,
			Checksums: s.Checksums, Damaged: s.Damaged, Size: s.Size, LastLSN: s.LastLSN, CheckpointLSN: s.CheckpointLSN}
		for _, d := range s.Devices {
			out[i].Devices = append(out[i].Devices, engine.BackupDevice{Path: d.Path, Disk: d.Type == sql.DeviceDisk, Type: d.Type.String()})
		}
	}
	return out, nil
}

// VerifyBackup runs RESTORE VERIFYONLY on master.
func (p *SQL) VerifyBackup(ctx context.Context, device string, position int, checksum bool) error {
	m, err := p.masterDB()
	if err != nil {
		return err
	}
	return backupErr(m.VerifyBackup(ctx, device, position, checksum))
}

// Restore runs RESTORE DATABASE on master, after closing cutover's own idle connections to the
// database.
func (p *SQL) Restore(ctx context.Context, database, device string, position int, replace, checksum bool) error {
	m, err := p.masterDB()
	if err != nil {
		return err
	}
	if strings.EqualFold(database, p.Src.Config().Database) {
		p.Src.CloseIdle()
	}
	return backupErr(m.RestoreDatabase(ctx, database, device, position, replace, checksum))
}

// DatabaseState reads a database's state in sys.databases.
func (p *SQL) DatabaseState(ctx context.Context, database string) (engine.DatabaseState, error) {
	m, err := p.masterDB()
	if err != nil {
		return engine.DatabaseState{}, err
	}
	st, err := m.DatabaseState(ctx, database)
	return engine.DatabaseState{Exists: st.Exists, State: st.State, UserAccess: st.UserAccess}, err
}

// Restores lists the newest restores of database in msdb.
func (p *SQL) Restores(ctx context.Context, database string) ([]engine.RestoreRecord, error) {
	m, err := p.masterDB()
	if err != nil {
		return nil, err
	}
	rs, err := m.Restores(ctx, database)
	out := make([]engine.RestoreRecord, len(rs))
	for i, r := range rs {
		out[i] = engine.RestoreRecord{ID: r.ID, At: r.At, BackupSetID: r.BackupSetID, Replace: r.Replace, Devices: r.Devices}
	}
	return out, err
}

// SQLConfig turns a runbook connection into a client configuration, reading its secret.
func SQLConfig(dir string, c *runbook.Connection) (sql.Config, error) {
	pw, err := Secret(dir, c.PasswordEnv, c.PasswordFile)
	if err == nil && c.PasswordPrompt {
		pw, err = PromptPassword(c)
	}
	if err != nil {
		return sql.Config{}, fmt.Errorf("connections.%s: %w", c.Role, err)
	}
	cert := c.Certificate
	if cert != "" && !filepath.IsAbs(cert) {
		cert = filepath.Join(dir, cert)
	}
	return sql.Config{Server: c.Server, Port: c.Port, Instance: c.Instance, Database: c.Database, Auth: sql.Auth(c.Auth),
		User: c.User, Password: pw, ClientID: c.ClientID, TenantID: c.TenantID, Encrypt: sql.Encryption(c.Encrypt),
		TrustServerCertificate: c.TrustServerCertificate, Certificate: cert, HostNameInCertificate: c.HostNameInCertificate,
		ConnectTimeout: c.ConnectTimeout, QueryTimeout: c.QueryTimeout}, nil
}

// OpenSQL opens the runbook's connections (nil when it names none). Warnings go to warn.
func OpenSQL(rb *runbook.Runbook, warn io.Writer) (*SQL, error) {
	conns := rb.Connections
	if conns.Source == nil && conns.Distribution == nil && conns.Target == nil {
		return nil, nil
	}
	p := &SQL{}
	for _, c := range []struct {
		conn *runbook.Connection
		db   **sql.DB
	}{{conns.Source, &p.Src}, {conns.Distribution, &p.Dist}, {conns.Target, &p.Tgt}} {
		if c.conn == nil {
			continue
		}
		cfg, err := SQLConfig(rb.Dir, c.conn)
		if err != nil {
			p.Close()
			return nil, err
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(warn, "WARNING:", w)
		}
		if *c.db, err = sql.Open(cfg); err != nil {
			p.Close()
			return nil, fmt.Errorf("connections.%s: %w", c.conn.Role, err)
		}
	}
	if conns.Source != nil {
		p.axDB = conns.Source.Database
	}
	return p, nil
}

func (p *SQL) Close() {
	p.masterMu.Lock()
	defer p.masterMu.Unlock()
	for _, db := range []*sql.DB{p.Src, p.Dist, p.Tgt, p.master} {
		if db != nil {
			db.Close()
		}
	}
}

// need names a missing connection.
func need(db *sql.DB, role string) error {
	if db == nil {
		return fmt.Errorf("the runbook has no connections.%s", role)
	}
	return nil
}

func (p *SQL) tableRows(db *sql.DB, role string, ctx context.Context) ([]engine.TableRows, error) {
	if err := need(db, role); err != nil {
		return nil, err
	}
	// Each row is made the engine's as it is read: one copy of the counts.
	out, _, err := sql.RowCountsAs(ctx, db, func(c sql.TableCount) engine.TableRows {
		return engine.TableRows{Table: c.Schema + "." + c.Table, Rows: c.Rows, HasPK: c.HasPK}
	})
	return out, err
}

// SourceRows is the source's row counts (one request).
func (p *SQL) SourceRows(ctx context.Context) ([]engine.TableRows, error) {
	return p.tableRows(p.Src, "source", ctx)
}

// TargetRows is the sandbox's row counts (one request).
func (p *SQL) TargetRows(ctx context.Context) ([]engine.TableRows, error) {
	return p.tableRows(p.Tgt, "target", ctx)
}

// Distributor reads the distribution database in one request (sql.Distributor): every agent with
// its newest message and error, and when withBacklog every published article with its pending
// commands (sql.Backlog's rules), the article list kept between polls.
func (p *SQL) Distributor(ctx context.Context, withBacklog bool) (engine.DistributorFigures, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return engine.DistributorFigures{}, err
	}
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	if p.poll == nil {
		p.poll = sql.NewDistributor(p.Dist, nil)
	}
	got, err := p.poll.Poll(ctx, withBacklog)
	if err != nil {
		return engine.DistributorFigures{}, err
	}
	out := engine.DistributorFigures{Agents: agents(got.Agents), BacklogErr: got.BacklogErr}
	if backlog := got.Backlog; backlog != nil {
		// Yielded from the Distributor's own memory, which the monitor folds before the next poll
		// reuses it: no copy of every article in the engine's terms.
		out.Backlog = func(yield func(engine.ArticleBacklog) bool) {
			for a := range backlog {
				if !yield(engine.ArticleBacklog(a)) {
					return
				}
			}
		}
	}
	return out, nil
}

// ArticleReads is how many times the monitor's reader read the article list (tests).
func (p *SQL) ArticleReads() int {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	if p.poll == nil {
		return 0
	}
	return p.poll.ArticleReads()
}

// Backlog is every published article with its pending commands (sql.Backlog decides what the rows
// mean), read on its own (cutover validate).
func (p *SQL) Backlog(ctx context.Context) ([]engine.ArticleBacklog, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return nil, err
	}
	b, err := p.Dist.Backlog(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.ArticleBacklog, len(b))
	for i, a := range b {
		out[i] = engine.ArticleBacklog{Publication: a.Publication, Article: a.Article, Pending: a.Pending}
	}
	return out, nil
}

// agents carries the agents (sql.Agents joined them) across.
func agents(reports []sql.AgentReport) []engine.Agent {
	out := make([]engine.Agent, 0, len(reports))
	for _, r := range reports {
		out = append(out, engine.Agent{Publication: r.Publication, Name: r.Name, Kind: engine.AgentKind(r.Type), Status: agentStatus(r.Status),
			Running: r.Running, Latency: r.CurLatency, LastSync: r.LastSync, CacheAge: r.CacheAge,
			Message: r.Message, MessageAt: r.MessageAt, Error: r.Error})
	}
	return out
}

// Setup lists every publication with its subscriptions' states (MSsubscriptions) and its snapshot
// and distribution agents' newest history rows (sql.PublicationSetups groups them).
func (p *SQL) Setup(ctx context.Context) ([]engine.PublicationSetup, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return nil, err
	}
	setups, err := p.Dist.Setups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.PublicationSetup, 0, len(setups))
	for _, ps := range setups {
		e := engine.PublicationSetup{Name: ps.Name, Snapshot: agentRun(ps.Snapshot), Distribution: agentRun(ps.Distribution)}
		for _, s := range ps.Subscriptions {
			e.Subscriptions = append(e.Subscriptions, engine.SubscriptionArticles{SubscriberDB: s.SubscriberDB,
				State: subscriptionState(s.Status), Status: int(s.Status), Articles: s.Articles})
		}
		out = append(out, e)
	}
	return out, nil
}

// subscriptionState carries a documented MSsubscriptions status across.
func subscriptionState(s sql.SubscriptionStatus) engine.SubscriptionState {
	switch s {
	case sql.SubscriptionInactive:
		return engine.SubscriptionInactive
	case sql.SubscriptionSubscribed:
		return engine.SubscriptionAwaitingSnapshot
	case sql.SubscriptionActive:
		return engine.SubscriptionActive
	}
	return engine.SubscriptionOther
}

// agentRun carries an agent's newest message across (the zero message is no run).
func agentRun(m sql.AgentMessage) engine.AgentRun {
	if m == (sql.AgentMessage{}) {
		return engine.AgentRun{}
	}
	return engine.AgentRun{Status: agentStatus(m.Status), At: m.Time, Message: m.Comments}
}

// Left reads what is left of the replication setup on the source server and in the distribution
// database; a read that fails is an error, never "gone" (sql.ReplicationLeft).
func (p *SQL) Left(ctx context.Context) (engine.SetupLeft, error) {
	l, err := sql.ReplicationLeft(ctx, p.Src, p.Dist)
	if err != nil {
		return engine.SetupLeft{}, err
	}
	return engine.SetupLeft{Distributors: l.Distributors, Publications: l.Names(), Evidence: strings.Join(l.Checked, "; ")}, nil
}

// agentStatus carries a documented run status (1 Started … 6 Failed) across; any other number is
// unknown.
func agentStatus(s sql.RunStatus) engine.AgentStatus {
	if s < sql.RunStarted || s > sql.RunFailed {
		return engine.AgentUnknown
	}
	return engine.AgentStatus(s)
}

func (p *SQL) Activity(ctx context.Context) (engine.AXActivity, error) {
	if err := need(p.Src, "source"); err != nil {
		return engine.AXActivity{}, err
	}
	a, err := p.Src.AXActivity(ctx)
	if err != nil {
		return engine.AXActivity{}, err
	}
	var out engine.AXActivity
	for _, s := range a.Servers {
		if s.Active() {
			out.Servers = append(out.Servers, engine.AXServer{ServerID: s.ServerID, AOSID: s.AOSID, Instance: s.Instance, Since: s.Login,
				Status: s.Status.String(), Alive: s.Status == sql.ServerAlive})
		}
	}
	for _, c := range a.Clients {
		if c.Status.Present() {
			out.Users = append(out.Users, engine.AXUser{User: c.User, Computer: c.Computer, Server: c.ServerID, Since: c.Since,
				Ending: c.Status.Ending(), Status: c.Status.String()})
		}
	}
	for _, j := range a.Jobs {
		out.Jobs = append(out.Jobs, engine.AXBatchJob{Caption: j.Caption, Status: j.Status.String(), Executing: j.Status.Running(),
			Cancelling: j.Status == sql.BatchCancelling, Since: j.Start})
	}
	out.ExecutingTasks, out.CancellingTasks = a.RunningTasks(), a.Tasks[sql.BatchCancelling]
	return out, nil
}

func (p *SQL) LastWrite(ctx context.Context) (time.Time, error) {
	if err := need(p.Src, "source"); err != nil {
		return time.Time{}, err
	}
	return p.Src.LastUserUpdate(ctx)
}

func (p *SQL) NewestReplicated(ctx context.Context) (time.Time, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return time.Time{}, err
	}
	return p.Dist.NewestReplicatedTransaction(ctx)
}

func (p *SQL) TransactionalPublications(ctx context.Context) ([]string, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return nil, err
	}
	pubs, err := p.Dist.Publications(ctx)
	var out []string
	for _, pub := range pubs {
		if pub.Type == sql.Transactional {
			out = append(out, pub.Name)
		}
	}
	return out, err
}

func (p *SQL) Post(ctx context.Context, publication string) (int, error) {
	if err := need(p.Src, "source"); err != nil {
		return 0, err
	}
	return p.Src.PostTracerToken(ctx, publication)
}

// Arrived reports whether a tracer token reached every subscriber and its slowest latency
// (sql.TracerArrival).
func (p *SQL) Arrived(ctx context.Context, publication string, id int) (bool, time.Duration, error) {
	if err := need(p.Src, "source"); err != nil {
		return false, 0, err
	}
	hist, err := p.Src.TracerTokenHistory(ctx, publication, id)
	if err != nil {
		return false, 0, err
	}
	arrived, worst := sql.TracerArrival(hist)
	return arrived, worst, nil
}

func (p *SQL) side(s engine.Side) (*sql.DB, error) {
	if s == engine.SideTarget {
		return p.Tgt, need(p.Tgt, "target")
	}
	return p.Src, need(p.Src, "source")
}

func (p *SQL) Rows(ctx context.Context, s engine.Side) ([]engine.TableRows, error) {
	db, err := p.side(s)
	if err != nil {
		return nil, err
	}
	return p.tableRows(db, s.String(), ctx)
}

func (p *SQL) Exact(ctx context.Context, s engine.Side, tables []string, concurrency int, progress func(done, total int)) ([]engine.ExactRows, error) {
	db, err := p.side(s)
	if err != nil {
		return nil, err
	}
	res, err := db.ExactCounts(ctx, tables, concurrency, progress)
	out := make([]engine.ExactRows, len(res))
	for i, r := range res {
		out[i] = engine.ExactRows{Table: r.Table, Rows: r.Rows, Err: r.Err, Missing: r.Missing}
	}
	return out, err
}

func (p *SQL) Upgrade(ctx context.Context) (engine.UpgradeProgress, error) {
	if err := need(p.Tgt, "target"); err != nil {
		return engine.UpgradeProgress{}, err
	}
	u, err := p.Tgt.Upgrade(ctx)
	if err != nil && !u.Answered() {
		// Nothing could be read at all (the sandbox is unreachable): no picture.
		return engine.UpgradeProgress{}, err
	}
	return upgradeProgress(u), nil
}

// upgradeProgress carries what the sandbox's upgrade tables say (their meaning is sql's) across to
// the engine.
func upgradeProgress(u sql.Upgrade) engine.UpgradeProgress {
	out := engine.UpgradeProgress{Percent: u.Percent(), Started: u.StartedAt(), LastActivity: u.LastActivity()}
	if r, ok := u.Newest(); ok {
		out.Step, out.SubStep = r.Step, r.SubStep
	}
	switch u.State() {
	case sql.UpgradeNotStarted:
		out.Phase = engine.UpgradeNotStarted
	case sql.UpgradeFailed:
		out.Phase = engine.UpgradeFailed
	case sql.UpgradeFinished:
		out.Phase = engine.UpgradeCompleted
	default:
		out.Phase = engine.UpgradeRunning
	}
	if s, ok := u.RunningSync(); ok {
		out.SyncActivity = s.ActivityID
	}
	for _, e := range u.Errors {
		out.Errors = append(out.Errors, e.String())
	}
	for _, name := range slices.Sorted(maps.Keys(u.Unread)) {
		out.Unread = append(out.Unread, fmt.Sprintf("%s: %v", name, u.Unread[name]))
	}
	return out
}

func (p *SQL) Preflight(ctx context.Context) (engine.PreflightFacts, error) {
	if err := need(p.Src, "source"); err != nil {
		return engine.PreflightFacts{}, err
	}
	pf, err := p.Src.Preflight(ctx, p.axDB)
	if err != nil {
		return engine.PreflightFacts{}, err
	}
	out := engine.PreflightFacts{ServerVersion: pf.Server.ProductVersion, MixedMode: !pf.Server.IntegratedOnly,
		ReplicationInstalled: pf.ReplicationInstalled, AgentStatus: pf.AgentStatus,
		AgentRunning: strings.EqualFold(pf.AgentStatus, "Running"), DatabaseOwner: pf.Database.Owner, RCSI: pf.Database.RCSI,
		Login: pf.Rights.Login, Sysadmin: pf.Rights.Sysadmin, DBOwner: pf.Rights.DBOwner, RightsKnown: pf.Rights.Known,
		DatabaseBytes: pf.Database.SizeBytes, MaxTextReplSize: pf.MaxTextReplSize, FreeBytes: map[string]int64{},
		Unavailable: map[string]string{}, Distributor: pf.Distributor}
	for _, d := range pf.Drives {
		out.FreeBytes[strings.ToUpper(d.Letter)] = d.FreeMB << 20
	}
	out.ServerCollation, out.DatabaseCollation = pf.ServerCollation, pf.DatabaseCollation
	if pf.AOTTables != nil {
		out.AOTTables = make(map[string]bool, 2*len(pf.AOTTables))
		for _, t := range pf.AOTTables {
			out.AOTTables[strings.ToUpper(t.Name)], out.AOTTables[strings.ToUpper(t.SQLName)] = true, true
		}
	}
	for k, v := range pf.Unavailable {
		out.Unavailable[k] = v.Error()
	}
	if p.Tgt != nil {
		if err := p.Tgt.Ping(ctx); err != nil {
			out.TargetError = err.Error()
		} else {
			out.TargetReachable = true
		}
	}
	return out, nil
}

// Publications lists the distributor's publications.
func (p *SQL) Publications(ctx context.Context) ([]engine.PublicationInfo, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return nil, err
	}
	pubs, err := p.Dist.Publications(ctx)
	out := make([]engine.PublicationInfo, len(pubs))
	for i, pub := range pubs {
		out[i] = engine.PublicationInfo{Name: pub.Name, Transactional: pub.Type == sql.Transactional}
	}
	return out, err
}

// SnapshotDeliveries lists the distribution agents' snapshot deliveries logged within the last
// within.
func (p *SQL) SnapshotDeliveries(ctx context.Context, within time.Duration) ([]engine.SnapshotDelivery, error) {
	if err := need(p.Dist, "distribution"); err != nil {
		return nil, err
	}
	found, err := p.Dist.SnapshotDeliveries(ctx, within)
	out := make([]engine.SnapshotDelivery, len(found))
	for i, d := range found {
		out[i] = engine.SnapshotDelivery{Publication: d.Publication, Agent: d.Agent, At: d.Time, Message: d.Comments}
	}
	return out, err
}

// Query runs a smoke-test query on a named connection.
func (p *SQL) Query(ctx context.Context, connection, text string) ([]string, [][]string, error) {
	var db *sql.DB
	switch connection {
	case "source":
		db = p.Src
	case "distribution":
		db = p.Dist
	case "target":
		db = p.Tgt
	}
	if err := need(db, connection); err != nil {
		return nil, nil, err
	}
	return db.QueryText(ctx, text)
}
