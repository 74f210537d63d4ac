package sim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cutover/sql/query"
	"cutover/sql/tdssim"
)

// The SQL logins the simulated servers accept.
const (
	// User is the full-rights login (sysadmin on the source, db_owner on
	// the sandbox).
	User = "cutover"
	// ReaderUser is a read-only login without VIEW DATABASE STATE or VIEW
	// SERVER STATE, like a read-only JIT account: partition statistics and
	// index usage fail with error 297, sys.dm_exec_sessions shows only its
	// own session.
	ReaderUser = "jit-reader"
	// Password is the password of both logins.
	Password = "cutover-sim"
	// PasswordEnv is the environment variable the runbook snippet names.
	PasswordEnv = "CUTOVER_SIM_PASSWORD"
)

// Endpoint is one of the databases the cockpit connects to.
type Endpoint int

const (
	// EndpointSource is the AX 2012 business database on the source server.
	EndpointSource Endpoint = iota + 1
	// EndpointDistribution is the distribution database on the source server.
	EndpointDistribution
	// EndpointTarget is the Azure SQL sandbox database on the target server.
	EndpointTarget
	// EndpointSourceMaster is master on the source server (pre-flight checks).
	EndpointSourceMaster
)

// String names the endpoint as the runbook's connections block does.
func (e Endpoint) String() string {
	switch e {
	case EndpointSource:
		return "source"
	case EndpointDistribution:
		return "distribution"
	case EndpointTarget:
		return "target"
	case EndpointSourceMaster:
		return "master"
	}
	return fmt.Sprintf("Endpoint(%d)", int(e))
}

type serverKind int

const (
	serverSource serverKind = iota + 1
	serverTarget
)

// dbKind is what a session's database is.
type dbKind int

const (
	dbOther        dbKind = iota // unknown
	dbMaster                     // master and the other system databases
	dbAX                         // the AX 2012 business database
	dbDistribution               // the distribution database
	dbTarget                     // the sandbox database
	dbMsdb                       // msdb (backup and restore history)
)

// view is what a handler needs to know about the request's session.
type view struct {
	server serverKind
	db     dbKind
	dbName string
	reader bool
	spid   uint16
	live   []*tdssim.Session
}

// ServerConfig configures Start.
type ServerConfig struct {
	// SourceAddr and TargetAddr are the listen addresses (default
	// "127.0.0.1:0"; `cutover sim` uses 127.0.0.1:11433 and :11434).
	SourceAddr, TargetAddr string
	// TLS makes both servers offer TLS with a self-signed certificate for
	// 127.0.0.1/localhost; DSNs then use encrypt=true and trust it.
	TLS bool
	// CertFile is where the certificate PEM is written with TLS (default:
	// a file in a new temporary directory, removed by Close).
	CertFile string
	// TLSConfig, with TLS, is the servers' certificate instead of a new
	// self-signed one, and CertFile names its PEM (`cutover sim` keeps one
	// in its --dir: tdssim.LoadOrCreateTLS).
	TLSConfig *tls.Config
	// Logger receives the TDS servers' diagnostics (nil: discarded).
	Logger *slog.Logger
}

// Servers are the two running TDS servers of a World.
type Servers struct {
	world          *World
	source, target *tdssim.Server
	certFile       string
	tempDir        string
}

// Start starts the source server (master, the AX database, distribution)
// and the target server (the sandbox database) for w. Close stops them.
func Start(w *World, cfg ServerConfig) (*Servers, error) {
	if cfg.SourceAddr == "" {
		cfg.SourceAddr = "127.0.0.1:0"
	}
	if cfg.TargetAddr == "" {
		cfg.TargetAddr = "127.0.0.1:0"
	}
	s := &Servers{world: w}
	tcfg := func(kind serverKind) tdssim.Config {
		c := tdssim.Config{Logger: cfg.Logger, Auth: s.auth(kind), Handler: s.router(kind), Use: s.use(kind),
			Catalog: simCatalog{s: s, srv: kind}}
		if kind == serverSource {
			c.ServerName = strings.ToUpper(w.cfg.SourceServerName)
			c.Version = [4]byte{13, 0, 0x13, 0xA2} // 13.0.5026
			c.DefaultDatabase = "master"
		} else {
			c.ServerName = strings.SplitN(w.cfg.TargetServerName, ".", 2)[0]
			c.Version = [4]byte{12, 0, 0x07, 0xD0} // 12.0.2000
			c.DefaultDatabase = w.cfg.TargetDatabase
		}
		return c
	}
	sc, tc := tcfg(serverSource), tcfg(serverTarget)
	if cfg.TLS {
		s.certFile = cfg.CertFile
		if s.certFile == "" {
			dir, err := os.MkdirTemp("", "cutover-sim-")
			if err != nil {
				return nil, fmt.Errorf("sim: certificate directory: %w", err)
			}
			s.tempDir = dir
			s.certFile = filepath.Join(dir, "cutover-sim.pem")
		}
		tlsCfg := cfg.TLSConfig
		if tlsCfg == nil {
			var err error
			if tlsCfg, err = tdssim.SelfSignedTLS(s.certFile); err != nil {
				s.cleanup()
				return nil, fmt.Errorf("sim: %w", err)
			}
		}
		sc.TLS, tc.TLS = tlsCfg, tlsCfg
		// Azure SQL Database takes TDS 8.0 (encrypt=strict); SQL Server
		// 2016 does not (sql-docs relational-databases/security/networking/
		// tds-8.md: SQL Server 2022, Azure SQL Database and Managed Instance).
		tc.Strict = true
	}
	s.source, s.target = tdssim.New(sc), tdssim.New(tc)
	if err := s.source.Listen(cfg.SourceAddr); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("sim: source server: %w", err)
	}
	if err := s.target.Listen(cfg.TargetAddr); err != nil {
		_ = s.source.Close()
		s.cleanup()
		return nil, fmt.Errorf("sim: target server: %w", err)
	}
	return s, nil
}

func (s *Servers) cleanup() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}

// Close stops both servers.
func (s *Servers) Close() error {
	err := errors.Join(s.source.Close(), s.target.Close())
	s.cleanup()
	if err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}

// World is the simulated world the servers answer from.
func (s *Servers) World() *World { return s.world }

// Source is the source SQL Server (for fault rules, stats, killing connections).
func (s *Servers) Source() *tdssim.Server { return s.source }

// Target is the Azure SQL sandbox server.
func (s *Servers) Target() *tdssim.Server { return s.target }

// CertFile is the PEM of the self-signed certificate ("" without TLS).
func (s *Servers) CertFile() string { return s.certFile }

func (s *Servers) server(e Endpoint) *tdssim.Server {
	if e == EndpointTarget {
		return s.target
	}
	return s.source
}

// Database is the database name of an endpoint.
func (s *Servers) Database(e Endpoint) string {
	switch e {
	case EndpointSource:
		return s.world.cfg.SourceDatabase
	case EndpointDistribution:
		return s.world.cfg.DistributionDatabase
	case EndpointTarget:
		return s.world.cfg.TargetDatabase
	}
	return "master"
}

// Addr is the host:port an endpoint's server listens on.
func (s *Servers) Addr(e Endpoint) string {
	if a, ok := s.server(e).Addr().(*net.TCPAddr); ok {
		ip := a.IP
		if ip == nil || ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
	}
	return ""
}

// Port is the TCP port an endpoint's server listens on.
func (s *Servers) Port(e Endpoint) int {
	if a, ok := s.server(e).Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// DSN is a go-mssqldb URL for an endpoint as the full-rights login
// (app name "cutover", encrypt=disable, or encrypt=true trusting the
// self-signed certificate when the servers run with TLS). opts are applied
// last, e.g. tdssim.WithUser(ReaderUser, Password).
func (s *Servers) DSN(e Endpoint, opts ...tdssim.DSNOption) string {
	all := []tdssim.DSNOption{tdssim.WithUser(User, Password), tdssim.WithAppName("cutover")}
	if s.certFile != "" {
		all = append(all, tdssim.WithCertificate(s.certFile))
	}
	return s.server(e).DSN(s.Database(e), append(all, opts...)...)
}

// ReaderDSN is DSN for the login without VIEW DATABASE STATE.
func (s *Servers) ReaderDSN(e Endpoint, opts ...tdssim.DSNOption) string {
	return s.DSN(e, append([]tdssim.DSNOption{tdssim.WithUser(ReaderUser, Password)}, opts...)...)
}

// Describe returns the connection details in human-readable form, for
// `cutover sim` to print.
func (s *Servers) Describe() string {
	w := s.world
	cfg := w.Config()
	var b strings.Builder
	fmt.Fprintf(&b, "Simulated AX 2012 source and Azure SQL sandbox (%d tables, %d PK publications, seed %d, scenarios: %v)\n",
		cfg.Tables, cfg.Publications, cfg.Seed, cfg.Scenarios)
	fmt.Fprintf(&b, "  source  %s (SQL Server 2016 SP2, publisher and distributor) on %s\n", cfg.SourceServerName, s.Addr(EndpointSource))
	for _, e := range []Endpoint{EndpointSource, EndpointDistribution, EndpointSourceMaster} {
		fmt.Fprintf(&b, "    %-22s %s\n", s.Database(e), s.DSN(e))
	}
	fmt.Fprintf(&b, "  target  %s (Azure SQL Database) on %s\n", cfg.TargetServerName, s.Addr(EndpointTarget))
	fmt.Fprintf(&b, "    %-22s %s\n", s.Database(EndpointTarget), s.DSN(EndpointTarget))
	fmt.Fprintf(&b, "  logins: %s / %s (full rights), %s / %s (read-only, no VIEW DATABASE STATE)\n", User, Password, ReaderUser, Password)
	if s.certFile != "" {
		fmt.Fprintf(&b, "  TLS: self-signed certificate %s\n", s.certFile)
	}
	fmt.Fprintf(&b, "  export %s=%s\n", PasswordEnv, Password)
	return b.String()
}

// RunbookSnippet returns a runbook `connections:` block for the servers
// (the password comes from CUTOVER_SIM_PASSWORD).
func (s *Servers) RunbookSnippet() string {
	var b strings.Builder
	b.WriteString("connections:\n")
	for _, e := range []Endpoint{EndpointSource, EndpointDistribution, EndpointTarget} {
		fmt.Fprintf(&b, "  %s:\n    server: 127.0.0.1\n    port: %d\n    database: %s\n    auth: sql\n    user: %s\n    password_env: %s\n",
			e, s.Port(e), s.Database(e), User, PasswordEnv)
		if s.certFile != "" {
			fmt.Fprintf(&b, "    encrypt: true\n    certificate: %s\n", s.certFile)
		} else {
			b.WriteString("    encrypt: disable\n")
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------------------------
// Login and routing.

func (s *Servers) dbKind(srv serverKind, name string) dbKind {
	w := s.world
	switch {
	case strings.EqualFold(name, "master"):
		return dbMaster
	case srv == serverTarget:
		if strings.EqualFold(name, w.cfg.TargetDatabase) {
			return dbTarget
		}
	case strings.EqualFold(name, w.cfg.SourceDatabase):
		return dbAX
	case strings.EqualFold(name, w.cfg.DistributionDatabase):
		return dbDistribution
	case strings.EqualFold(name, "msdb"):
		return dbMsdb
	case slices.ContainsFunc([]string{"tempdb", "model"}, func(s string) bool { return strings.EqualFold(s, name) }):
		return dbMaster
	}
	return dbOther
}

func (s *Servers) auth(srv serverKind) func(user, password, database, app string) error {
	return func(user, password, database, _ string) error {
		if (!strings.EqualFold(user, User) && !strings.EqualFold(user, ReaderUser)) || password != Password {
			return tdssim.LoginFailedError(user)
		}
		k := s.dbKind(srv, database)
		if k == dbOther || (k == dbDistribution && s.world.ReplicationRemoved()) {
			return tdssim.CannotOpenDatabaseError(database)
		}
		return nil
	}
}

func (s *Servers) view(srv serverKind, r *tdssim.Request) view {
	v := view{server: srv, reader: strings.EqualFold(r.Session.User, ReaderUser), spid: r.Session.SPID, dbName: r.Session.CurrentDatabase()}
	v.db = s.dbKind(srv, v.dbName)
	return v
}

// permissionDenied is what SQL Server's driver-visible error is when a
// login lacks VIEW DATABASE STATE / VIEW SERVER STATE: SQL Server sends
// 300 ("... permission was denied ...") then 297, and go-mssqldb reports
// the last one.
func permissionDenied() *tdssim.Error {
	return &tdssim.Error{Number: 297, State: 1, Class: 16, Message: "The user does not have permission to perform this action."}
}

func procNotFound(name string) *tdssim.Error {
	return &tdssim.Error{Number: 2812, State: 62, Class: 16, Message: fmt.Sprintf("Could not find stored procedure '%s'.", name)}
}

// answer describes where a query works and how it is answered.
type answer struct {
	dbs       []dbKind // databases it works in (nil: all)
	server    serverKind
	missing   func() error // the error elsewhere
	needState bool         // needs VIEW DATABASE STATE / VIEW SERVER STATE
	object    string       // the object it reads ("dbo.MSrepl_errors"), for World.DenySelect
	fn        func(v view, r *tdssim.Request) (*tdssim.Result, error)
}

func (s *Servers) handle(srv serverKind, a answer) tdssim.HandlerFunc {
	return func(r *tdssim.Request) (*tdssim.Result, error) {
		v := s.view(srv, r)
		if (a.server != 0 && a.server != srv) || (a.dbs != nil && !slices.Contains(a.dbs, v.db)) ||
			(v.db == dbDistribution && a.dbs != nil && s.world.ReplicationRemoved()) {
			return nil, s.refuse(v, r, a.missing)
		}
		if a.needState && v.reader {
			return nil, permissionDenied()
		}
		if a.object != "" && s.world.selectDenied(a.object) {
			schema, name, _ := strings.Cut(a.object, ".")
			return nil, tdssim.PermissionDeniedError("SELECT", name, v.dbName, schema)
		}

		if a.fn == nil {
			return nil, a.missing()
		}
		return a.fn(v, r)
	}
}

// refuse is the error for a routed request sent where it does not apply: SQL Server's refusal as
// the contract and the world decide it (unrouted.go), else the route's own missing error.
func (s *Servers) refuse(v view, r *tdssim.Request, missing func() error) error {
	if err := s.contractRefusal(v, r); err != nil {
		return err
	}
	if missing != nil {
		return missing()
	}
	return tdssim.NoAnswerError(r.Normalized())
}

func missingObject(name string) func() error {
	return func() error { return tdssim.InvalidObjectError(name) }
}

func missingProc(name string) func() error {
	return func() error { return procNotFound(name) }
}

func paramString(r *tdssim.Request, name string) string {
	v, _ := r.Param(name)
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func paramInt(r *tdssim.Request, name string) (int64, bool) {
	v, ok := r.Param(name)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// countRe matches ad hoc and ExactCountPrefix counts in normalised SQL.
func countRe() *regexp.Regexp {
	return regexp.MustCompile(`^select count(_big)?\(\*\) from (?:(?:\[dbo\]|dbo)\.)?(?:\[([^\]]+)\]|([a-z0-9_#$@]+))$`)
}

func (s *Servers) router(srv serverKind) *tdssim.Router {
	w := s.world
	rt := tdssim.NewRouter()
	rt.Fallback(s.unrouted(srv))
	add := func(sql string, a answer) { rt.Exact(sql, s.handle(srv, a)) }
	proc := func(name string, a answer) {
		h := s.handle(srv, a)
		rt.Proc(name, h)
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			rt.Proc(name[i+1:], h)
		}
	}
	ax := []dbKind{dbAX}
	dist := []dbKind{dbDistribution}
	tgt := []dbKind{dbTarget}
	source := func(v view) bool { return v.server == serverSource }

	// Row counts.
	rowCounts := func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
		if v.db != dbAX && v.db != dbTarget {
			return tdssim.Rows([]tdssim.Column{colNV("schema_name", sysname), colNV("table_name", sysname), colBig("row_count"), colBit("has_pk")}), nil
		}
		return w.rowCounts(v.db == dbTarget), nil
	}
	add(query.RowCountsPartitionStats, answer{needState: true, fn: rowCounts})
	add(query.RowCountsPartitions, answer{fn: rowCounts})
	re := countRe()
	rt.Regexp(re, s.handle(srv, answer{fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
		m := re.FindStringSubmatch(r.Normalized())
		name := m[2] + m[3]
		if v.db != dbAX && v.db != dbTarget {
			return nil, tdssim.InvalidObjectError("dbo." + name)
		}
		return w.exactCount(v.db == dbTarget, name, m[1] != "")
	}}))

	// AX sessions and batch.
	add(query.AXServerSessions, answer{dbs: ax, missing: missingObject("dbo.SYSSERVERSESSIONS"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return w.axServerSessions(), nil }})
	add(query.AXClientSessions, answer{dbs: ax, missing: missingObject("dbo.SYSCLIENTSESSIONS"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return w.axClientSessions(), nil }})
	add(query.AXBatchJobs, answer{dbs: ax, missing: missingObject("dbo.BATCHJOB"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return w.axBatchJobs(), nil }})
	add(query.AXRunningBatchTasks, answer{dbs: ax, missing: missingObject("dbo.BATCH"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return w.axRunningTasks(), nil }})
	add(query.UserSessions, answer{fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
		v.live = s.server(endpointOf(v.server)).Conns()
		return w.userSessions(v, r.SQL)
	}})
	add(query.SessionsVisible, answer{fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
		sees := 1
		if v.reader { // neither VIEW SERVER STATE nor VIEW DATABASE STATE
			sees = 0
		}
		return tdssim.Rows([]tdssim.Column{colInt("sees_all")}, tdssim.Row{sees}), nil
	}})
	add(query.LastUserUpdate, answer{needState: true, fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
		return w.lastUserUpdate(v), nil
	}})

	// Publisher side (in the published database).
	add(query.PostTracerToken, answer{fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
		if v.db != dbAX {
			return nil, replNotEnabled()
		}
		return w.postTracerTokenResult(paramString(r, "p1"))
	}})
	proc(query.TracerTokenHistoryProc, answer{fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
		// @publication and @tracer_id have no default (sp-helptracertokenhistory-transact-sql.md).
		for _, name := range []string{"publication", "tracer_id"} {
			if _, ok := r.Param(name); !ok {
				return nil, &tdssim.Error{Number: 201, State: 4, Class: 16, Proc: "sp_helptracertokenhistory",
					Message: fmt.Sprintf("Procedure or function 'sp_helptracertokenhistory' expects parameter '@%s', which was not supplied.", name)}
			}
		}
		if v.db != dbAX {
			return nil, replNotEnabled()
		}
		id, _ := paramInt(r, "tracer_id")
		return w.tracerHistoryResult(paramString(r, "publication"), id)
	}})

	// Distribution database.
	distQ := func(sql, obj string, fn func() *tdssim.Result) {
		add(sql, answer{dbs: dist, missing: missingObject(obj), object: obj, fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return fn(), nil }})
	}
	distQ(query.Publications, "dbo.MSpublications", w.publicationsResult)
	distQ(query.Articles, "dbo.MSarticles", w.articlesResult)
	distQ(query.ArticlesMarker, "dbo.MSarticles", w.articlesMarker)
	distQ(query.PendingCommands, "dbo.MSdistribution_status", w.pendingCommands)
	distQ(query.AgentStates, "dbo.MSreplication_monitordata", w.agentStates)
	distQ(query.DistributionAgentHistory, "dbo.MSdistribution_history", w.distributionHistory)
	add(query.SnapshotDeliveries, answer{dbs: dist, missing: missingObject("dbo.MSdistribution_history"),
		fn: func(_ view, r *tdssim.Request) (*tdssim.Result, error) {
			within, ok := paramInt(r, "p1")
			switch {
			case r.Kind == tdssim.RequestBatch:
				// Sent as a batch, @p1 is nobody's variable.
				return nil, tdssim.UndeclaredVariableError("@p1")
			case !ok:
				return nil, &tdssim.Error{Number: 8178, State: 1, Class: 16,
					Message: "The parameterized query '(" + r.ParamDecl + ")SELECT da.publication, da.name AS agent_name, h.runstatus, h.[' expects the parameter '@p1', which was not supplied."}
			}
			return w.snapshotDeliveries(within), nil
		}})
	distQ(query.LogReaderHistory, "dbo.MSlogreader_history", w.logReaderHistory)
	distQ(query.SnapshotHistory, "dbo.MSsnapshot_history", w.snapshotHistory)
	distQ(query.ReplicationErrors, "dbo.MSrepl_errors", w.replErrorsResult)
	distQ(query.NewestReplicatedTransaction, "dbo.MSrepl_transactions", w.newestTransaction)
	distQ(query.Subscriptions, "dbo.MSdistribution_agents", w.subscriptionsResult)
	distQ(query.SubscriptionStates, "dbo.MSsubscriptions", w.subscriptionStates)
	add(query.PublisherPublications, answer{dbs: ax, missing: missingObject("dbo.syspublications"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return w.publisherPublications() }})
	proc(query.SubscriptionPendingProc, answer{dbs: dist, missing: missingProc(query.SubscriptionPendingProc),
		fn: func(_ view, r *tdssim.Request) (*tdssim.Result, error) {
			// Every parameter is documented with no default: SQL Server refuses a call without one.
			for _, name := range []string{"publisher", "publisher_db", "publication", "subscriber", "subscriber_db", "subscription_type"} {
				if _, ok := r.Param(name); !ok {
					return nil, &tdssim.Error{Number: 201, State: 4, Class: 16, Proc: "sp_replmonitorsubscriptionpendingcmds",
						Message: fmt.Sprintf("Procedure or function 'sp_replmonitorsubscriptionpendingcmds' expects parameter '@%s', which was not supplied.", name)}
				}
			}
			return w.subscriptionPending(paramString(r, "publication"))
		}})

	// The data upgrade (sandbox).
	upQ := func(sql, obj string, fn func() (*tdssim.Result, error)) {
		add(sql, answer{dbs: tgt, missing: missingObject(obj), fn: func(view, *tdssim.Request) (*tdssim.Result, error) { return fn() }})
	}
	upQ(query.DataUpgradeStatus, "DBUPGRADE.DATAUPGRADESTATUS", w.dataUpgradeStatus)
	upQ(query.ServicingSteps, "DBUPGRADE.SERVICINGSTEP", w.servicingSteps)
	upQ(query.DBSyncSteps, "dbo.DBSyncExecStats", w.dbSyncSteps)
	add(query.UpgradeBatchTasks, answer{dbs: []dbKind{dbTarget, dbAX}, missing: missingObject("dbo.BATCH"),
		fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
			if v.db == dbAX { // AX 2012 has BATCH and BATCHJOB, but no "Data upgrade" job
				return tdssim.Rows([]tdssim.Column{colInt("STATUS"), colInt("tasks")}), nil
			}
			return w.upgradeBatchTasks(), nil
		}})
	upQ(query.UpgradeScriptErrors, "dbo.RELEASEUPDATESCRIPTSERRORLOG", w.upgradeScriptErrors)
	add(query.ServicingActivity, answer{fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) { return w.servicingActivity(v), nil }})

	// Pre-flight.
	add(query.ServerInfo, answer{fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) { return w.serverInfo(v.server), nil }})
	// The simulated servers keep their datetime columns in UTC.
	add(query.ServerClock, answer{fn: func(view, *tdssim.Request) (*tdssim.Result, error) {
		return tdssim.Rows([]tdssim.Column{{Type: tdssim.TypeDateTimeOffset}}, tdssim.Row{w.Now().UTC()}), nil
	}})
	add(query.LoginRights, answer{fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) { return w.loginRights(v), nil }})
	add(query.ReplicationInstalled, answer{server: serverSource, missing: missingProc("master.sys.sp_MS_replication_installed"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) {
			if !w.Preflight().ReplicationInstalled {
				// The procedure raises 21028 (and returns 0); the driver
				// reports the error.
				return nil, &tdssim.Error{Number: 21028, State: 1, Class: 16, Proc: "sp_MS_replication_installed", Line: 1,
					Message: "Replication components are not installed on this server. Run SQL Server Setup again and select the option to install replication."}
			}
			return tdssim.Rows([]tdssim.Column{colInt("installed")}, tdssim.Row{1}), nil
		}})
	add(query.AgentService, answer{server: serverSource, needState: true, missing: missingObject("sys.dm_server_services"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) {
			// status_desc is nvarchar(256) (sys-dm-server-services-transact-sql.md).
			cols := []tdssim.Column{colNV("status_desc", 256)}
			if st := w.Preflight().AgentStatus; st != "" {
				return tdssim.Rows(cols, tdssim.Row{st}), nil
			}
			return tdssim.Rows(cols), nil
		}})
	add(query.DatabaseSettings, answer{server: serverSource, missing: missingObject("sys.master_files"),
		fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
			return w.databaseSettings(paramString(r, "p1"), v.reader), nil
		}})
	// sys.configurations is SQL Server only (sys-configurations-transact-sql.md).
	add(query.MaxTextReplSize, answer{server: serverSource, fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
		cols := []tdssim.Column{colBig("value_in_use")}
		if !source(v) {
			return tdssim.Rows(cols), nil
		}
		return tdssim.Rows(cols, tdssim.Row{w.Preflight().MaxTextReplSize}), nil
	}})
	proc(query.FixedDrives, answer{server: serverSource, missing: missingProc("xp_fixeddrives"),
		fn: func(view, *tdssim.Request) (*tdssim.Result, error) {
			cols := []tdssim.Column{{Name: "drive", Type: tdssim.TypeNVarChar, Size: 1}, colInt("MB free")}
			var rows []tdssim.Row
			for _, d := range w.Preflight().Drives {
				rows = append(rows, tdssim.Row{d.Letter, d.FreeMB})
			}
			return tdssim.Rows(cols, rows...), nil
		}})
	add(query.Collations, answer{server: serverSource, fn: func(_ view, r *tdssim.Request) (*tdssim.Result, error) {
		return w.collations(paramString(r, "p1")), nil
	}})
	add(query.AOTTables, answer{dbs: ax, missing: missingObject("dbo.SQLDICTIONARY"), fn: func(view, *tdssim.Request) (*tdssim.Result, error) {
		return w.aotTables()
	}})
	add(query.Distributor, answer{fn: func(v view, _ *tdssim.Request) (*tdssim.Result, error) {
		cols := []tdssim.Column{colNV("name", sysname)}
		if !source(v) || w.ReplicationRemoved() {
			return tdssim.Rows(cols), nil
		}
		return tdssim.Rows(cols, tdssim.Row{w.cfg.DistributionDatabase}), nil
	}})

	// Backup history and RESTORE (msdb, master): backup.go.
	declared := func(r *tdssim.Request, names ...string) error {
		if r.Kind == tdssim.RequestBatch {
			return tdssim.UndeclaredVariableError("@p1")
		}
		for _, n := range names {
			if _, ok := r.Param(n); !ok {
				return tdssim.UndeclaredVariableError("@" + n)
			}
		}
		return nil
	}
	add(query.FullBackups, answer{server: serverSource, fn: func(_ view, r *tdssim.Request) (*tdssim.Result, error) {
		if err := declared(r, "p1"); err != nil {
			return nil, err
		}
		return w.fullBackups(paramString(r, "p1")), nil
	}})
	add(query.Restores, answer{server: serverSource, fn: func(_ view, r *tdssim.Request) (*tdssim.Result, error) {
		if err := declared(r, "p1"); err != nil {
			return nil, err
		}
		return w.restoreHistory(paramString(r, "p1")), nil
	}})
	add(query.DatabaseState, answer{fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
		if err := declared(r, "p1"); err != nil {
			return nil, err
		}
		return w.databaseState(v.server, paramString(r, "p1")), nil
	}})
	for text, checksum := range map[string]bool{query.VerifyBackup: true, query.VerifyBackupNoChecksum: false} {
		add(text, answer{server: serverSource, fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
			if err := declared(r, "p1", "p2"); err != nil {
				return nil, err
			}
			pos, _ := paramInt(r, "p2")
			return w.verifyOnly(v, paramString(r, "p1"), pos, checksum)
		}})
	}
	for text, opt := range map[string][2]bool{query.RestoreDatabase: {true, true}, query.RestoreDatabaseNoReplace: {false, true},
		query.RestoreDatabaseNoChecksum: {true, false}, query.RestoreDatabaseNoReplaceNoChecksum: {false, false}} {
		add(text, answer{server: serverSource, fn: func(v view, r *tdssim.Request) (*tdssim.Result, error) {
			if err := declared(r, "p1", "p2", "p3"); err != nil {
				return nil, err
			}
			v.live = s.source.Conns()
			pos, _ := paramInt(r, "p3")
			return w.restoreDatabase(v, paramString(r, "p1"), paramString(r, "p2"), pos, opt[0], opt[1])
		}})
	}

	// The tracer-token procedures apply to SQL Server only (sp-posttracertoken-transact-sql.md,
	// sp-helptracertokenhistory-transact-sql.md): the Azure SQL sandbox does not have them.
	if srv == serverTarget {
		gone := func(r *tdssim.Request) (*tdssim.Result, error) { return nil, s.refuse(s.view(srv, r), r, nil) }
		rt.Exact(query.PostTracerToken, gone)
		rt.Proc(query.TracerTokenHistoryProc, gone)
		if i := strings.LastIndexByte(query.TracerTokenHistoryProc, '.'); i >= 0 {
			rt.Proc(query.TracerTokenHistoryProc[i+1:], gone)
		}
	}

	// Ad hoc queries (SELECT @@VERSION, SELECT name FROM sys.databases, SELECT DB_NAME() …) are
	// the evaluator's: tdssim over the world's Catalog (catalog.go).
	return rt
}

func endpointOf(srv serverKind) Endpoint {
	if srv == serverTarget {
		return EndpointTarget
	}
	return EndpointSource
}
