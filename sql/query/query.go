// Package query holds every T-SQL text cutover sends, each in one place with a comment naming it.
// The client (package sql) runs them; the simulator (package sql/sim) answers exactly these texts,
// so a changed query that the simulator does not know fails loudly with error 208.
//
// Conventions: parameters are @p1, @p2… (go-mssqldb's positional names) and are sent through
// sp_executesql; stored procedures are called by name (an RPC) with named parameters; result
// columns are listed in each comment in order.
package query

// ---------------------------------------------------------------------------------------------
// Row counts — run on the AX source database and on the Azure SQL sandbox alike.

// RowCountsPartitionStats counts rows per table from partition statistics (approximate, cheap;
// needs VIEW DATABASE STATE and VIEW DEFINITION). Heaps and clustered indexes only (index_id 0
// and 1), so nonclustered indexes are not counted twice; tables SQL Server and replication create
// (is_ms_shipped) are left out. The schema name comes from SCHEMA_NAME, not sys.schemas: the
// sys.schemas page does not list Azure SQL Database, where the sandbox runs this query.
// Sources (MicrosoftDocs/sql-docs): docs/relational-databases/system-dynamic-management-views/
// sys-dm-db-partition-stats-transact-sql.md, .../system-catalog-views/sys-tables-transact-sql.md,
// sys-indexes-transact-sql.md, docs/t-sql/functions/schema-name-transact-sql.md.
// Columns: schema_name (sysname), table_name (sysname), row_count (bigint), has_pk (bit).
const RowCountsPartitionStats = `SELECT SCHEMA_NAME(t.schema_id) AS schema_name, t.name AS table_name, SUM(ps.row_count) AS row_count,
  CAST(MAX(CASE WHEN i.is_primary_key = 1 THEN 1 ELSE 0 END) AS bit) AS has_pk
FROM sys.dm_db_partition_stats ps
JOIN sys.tables t ON t.object_id = ps.object_id
LEFT JOIN sys.indexes i ON i.object_id = t.object_id AND i.is_primary_key = 1
WHERE ps.index_id IN (0, 1) AND t.is_ms_shipped = 0
GROUP BY t.schema_id, t.name`

// RowCountsPartitions is the fallback when the login lacks VIEW DATABASE STATE: the catalog view
// sys.partitions (also approximate; public role, metadata visibility applies). Source:
// docs/relational-databases/system-catalog-views/sys-partitions-transact-sql.md.
// Columns: schema_name, table_name, row_count (bigint), has_pk (bit).
const RowCountsPartitions = `SELECT SCHEMA_NAME(t.schema_id) AS schema_name, t.name AS table_name, SUM(p.rows) AS row_count,
  CAST(MAX(CASE WHEN i.is_primary_key = 1 THEN 1 ELSE 0 END) AS bit) AS has_pk
FROM sys.partitions p
JOIN sys.tables t ON t.object_id = p.object_id
LEFT JOIN sys.indexes i ON i.object_id = t.object_id AND i.is_primary_key = 1
WHERE p.index_id IN (0, 1) AND t.is_ms_shipped = 0
GROUP BY t.schema_id, t.name`

// ExactCountPrefix starts an exact count; the client appends the quoted two-part table name, e.g.
// SELECT COUNT_BIG(*) FROM [dbo].[CUSTTABLE]. Source: docs/t-sql/functions/count-big-transact-sql.md.
// Column: one unnamed bigint.
const ExactCountPrefix = `SELECT COUNT_BIG(*) FROM `

// ---------------------------------------------------------------------------------------------
// AX 2012 sessions and batch jobs — on the AX source database.

// AXServerSessions lists AOS instances registered in the database. STATUS 1 is a running AOS.
// Columns: SERVERID, AOSID, INSTANCE_NAME, STATUS, LOGINDATETIME, LASTUPDATEDATETIME.
const AXServerSessions = `SELECT SERVERID, AOSID, INSTANCE_NAME, STATUS, LOGINDATETIME, LASTUPDATEDATETIME
FROM dbo.SYSSERVERSESSIONS WITH (NOLOCK)
ORDER BY SERVERID`

// AXClientSessions lists active client sessions (STATUS 1).
// Columns: SESSIONID, SERVERID, USERID, CLIENTTYPE, CLIENTCOMPUTER, LOGINDATETIME.
const AXClientSessions = `SELECT SESSIONID, SERVERID, USERID, CLIENTTYPE, CLIENTCOMPUTER, LOGINDATETIME
FROM dbo.SYSCLIENTSESSIONS WITH (NOLOCK)
WHERE STATUS = 1
ORDER BY LOGINDATETIME`

// AXBatchJobs lists batch jobs that are waiting (1), executing (2) or ready (5).
// Columns: RECID, CAPTION, STATUS, STARTDATETIME, CREATEDBY.
const AXBatchJobs = `SELECT RECID, CAPTION, STATUS, STARTDATETIME, CREATEDBY
FROM dbo.BATCHJOB WITH (NOLOCK)
WHERE STATUS IN (1, 2, 5)
ORDER BY STATUS DESC, STARTDATETIME`

// AXExecutingBatchTasks counts batch tasks executing now (BATCH.STATUS 2). Column: one int.
const AXExecutingBatchTasks = `SELECT COUNT(*) FROM dbo.BATCH WITH (NOLOCK) WHERE STATUS = 2`

// UserSessions lists SQL sessions on the current database other than cutover's own (who is still
// connected: AOS service accounts, people in SSMS, replication agents, integrations).
// program_name is nullable (a client may send none): such a session is listed, not dropped by
// the comparison with 'cutover'. Without VIEW SERVER STATE (SQL Server) or VIEW DATABASE STATE
// (Azure SQL Database) the view silently shows only the caller's own session: run
// SessionsVisible first. database_id needs SQL Server 2012 or later.
// Source: docs/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql.md.
// Columns: session_id (smallint), login_name, host_name, program_name (nvarchar(128)),
// last_request_end_time (datetime, server-local).
const UserSessions = `SELECT session_id, login_name, host_name, program_name, last_request_end_time
FROM sys.dm_exec_sessions
WHERE database_id = DB_ID() AND is_user_process = 1 AND session_id <> @@SPID
  AND (program_name IS NULL OR program_name <> N'cutover')
ORDER BY session_id`

// SessionsVisible says whether the login sees every session in sys.dm_exec_sessions: VIEW
// SERVER STATE on SQL Server, VIEW DATABASE STATE on Azure SQL Database (EngineEdition 5).
// Sources: sys-dm-exec-sessions-transact-sql.md (Permissions), docs/t-sql/functions/
// has-perms-by-name-transact-sql.md, serverproperty-transact-sql.md.
// Column: sees_all (int: 1 yes, 0 no, NULL when the check is not valid).
const SessionsVisible = `SELECT CASE WHEN CAST(SERVERPROPERTY('EngineEdition') AS int) = 5
    THEN HAS_PERMS_BY_NAME(DB_NAME(), N'DATABASE', N'VIEW DATABASE STATE')
    ELSE HAS_PERMS_BY_NAME(NULL, NULL, N'VIEW SERVER STATE') END AS sees_all`

// LastUserUpdate is the newest write to any index of the current database. The counters are
// emptied when SQL Server starts and a database's rows go when it is closed (AUTO_CLOSE) or
// detached. Needs VIEW SERVER STATE on SQL Server (VIEW DATABASE STATE on Azure SQL Database
// Premium; the server admin on Standard and Basic).
// Source: docs/relational-databases/system-dynamic-management-views/sys-dm-db-index-usage-stats-transact-sql.md.
// Column: one datetime (server-local), NULL when nothing was written since.
const LastUserUpdate = `SELECT MAX(last_user_update) FROM sys.dm_db_index_usage_stats WHERE database_id = DB_ID()`

// ---------------------------------------------------------------------------------------------
// Replication — publisher side (in the published AX database).

// PostTracerToken posts a tracer token on a transactional publication (sp_executesql with @p1 =
// publication) and returns its id. Column: tracer_id (int).
const PostTracerToken = `DECLARE @tracer_id int;
EXEC sys.sp_posttracertoken @publication = @p1, @tracer_token_id = @tracer_id OUTPUT;
SELECT @tracer_id AS tracer_id`

// TracerTokenHistoryProc is called by name with @publication and @tracer_id. Columns:
// distributor_latency, subscriber, subscriber_db, subscriber_latency, overall_latency (seconds;
// NULL until the token arrived).
const TracerTokenHistoryProc = `sys.sp_helptracertokenhistory`

// ---------------------------------------------------------------------------------------------
// Replication — the distribution database.

// Publications lists publications. publication_type 0 is transactional, 1 snapshot, 2 merge.
// Source: docs/relational-databases/system-tables/mspublications-transact-sql.md.
// Columns: publication_id (int), publisher_db, publication (sysname), publication_type (int).
const Publications = `SELECT publication_id, publisher_db, publication, publication_type
FROM dbo.MSpublications WITH (NOLOCK)
ORDER BY publication`

// Articles lists published tables with their publication.
// Sources: docs/relational-databases/system-tables/msarticles-transact-sql.md, mspublications-transact-sql.md.
// Columns: article_id (int), publication, article, source_object, destination_object (sysname).
const Articles = `SELECT a.article_id, p.publication, a.article, a.source_object, a.destination_object
FROM dbo.MSarticles a WITH (NOLOCK)
JOIN dbo.MSpublications p WITH (NOLOCK) ON p.publication_id = a.publication_id AND p.publisher_db = a.publisher_db
ORDER BY p.publication, a.article`

// PendingCommands is the per-article backlog: undelivered and delivered commands still in the
// distribution database, per distribution agent. It aggregates MSrepl_commands, so it is
// expensive on a big backlog: poll it slowly. Not documented, and tolerated either way: that a
// negative subscriber_id marks a virtual subscription (the filter only drops rows), and that the
// view lists only articles with commands (the caller counts an absent article as 0 pending).
// Sources: docs/relational-databases/system-views/msdistribution-status-transact-sql.md,
// .../system-tables/msdistribution-agents-transact-sql.md, msarticles-transact-sql.md,
// mspublications-transact-sql.md.
// Columns: publication, article (sysname), agent_name (nvarchar(100)), subscriber_db (sysname),
// pending_cmds, delivered_cmds (int).
const PendingCommands = `SELECT p.publication, a.article, da.name AS agent_name, da.subscriber_db,
  st.UndelivCmdsInDistDB AS pending_cmds, st.DelivCmdsInDistDB AS delivered_cmds
FROM dbo.MSdistribution_status st WITH (NOLOCK)
JOIN dbo.MSdistribution_agents da WITH (NOLOCK) ON da.id = st.agent_id
JOIN dbo.MSarticles a WITH (NOLOCK) ON a.article_id = st.article_id AND a.publisher_id = da.publisher_id AND a.publisher_db = da.publisher_db
JOIN dbo.MSpublications p WITH (NOLOCK) ON p.publication_id = a.publication_id
WHERE da.subscriber_id >= 0
ORDER BY st.UndelivCmdsInDistDB DESC`

// AgentStates is the replication monitor's cached state per agent (cheap). agent_type: 1 snapshot,
// 2 log reader, 3 distribution. status: 1 started, 2 succeeded, 3 in progress, 4 idle, 5 retrying,
// 6 failed. Latencies in seconds.
// Columns: publication, agent_type, agent_name, status, isagentrunningnow, warning, cur_latency,
// avg_latency, last_distsync, lastrefresh.
const AgentStates = `SELECT publication, agent_type, agent_name, status, isagentrunningnow, warning,
  cur_latency, avg_latency, last_distsync, lastrefresh
FROM dbo.MSreplication_monitordata WITH (NOLOCK)
ORDER BY publication, agent_type`

// DistributionAgentHistory is the newest history row of every distribution agent.
// Columns: publication, agent_name, runstatus, time, comments, delivered_commands,
// current_delivery_latency (ms), delivery_rate, error_id.
const DistributionAgentHistory = `WITH h AS (
  SELECT agent_id, runstatus, [time], comments, delivered_commands, current_delivery_latency, delivery_rate, error_id,
    ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY [time] DESC, [timestamp] DESC) AS rn
  FROM dbo.MSdistribution_history WITH (NOLOCK))
SELECT da.publication, da.name AS agent_name, h.runstatus, h.[time], h.comments, h.delivered_commands,
  h.current_delivery_latency, h.delivery_rate, h.error_id
FROM h JOIN dbo.MSdistribution_agents da WITH (NOLOCK) ON da.id = h.agent_id
WHERE h.rn = 1
ORDER BY da.publication`

// LogReaderHistory is the newest history row of every log reader agent.
// Columns: agent_name, publisher_db, runstatus, time, comments, delivery_latency (ms), error_id.
const LogReaderHistory = `WITH h AS (
  SELECT agent_id, runstatus, [time], comments, delivery_latency, error_id,
    ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY [time] DESC, [timestamp] DESC) AS rn
  FROM dbo.MSlogreader_history WITH (NOLOCK))
SELECT la.name AS agent_name, la.publisher_db, h.runstatus, h.[time], h.comments, h.delivery_latency, h.error_id
FROM h JOIN dbo.MSlogreader_agents la WITH (NOLOCK) ON la.id = h.agent_id
WHERE h.rn = 1`

// SnapshotHistory is the newest history row of every snapshot agent ("A snapshot of N article(s)
// was generated." when done). Columns: publication, agent_name, runstatus, time, comments, error_id.
const SnapshotHistory = `WITH h AS (
  SELECT agent_id, runstatus, [time], comments, error_id,
    ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY [time] DESC, [timestamp] DESC) AS rn
  FROM dbo.MSsnapshot_history WITH (NOLOCK))
SELECT sa.publication, sa.name AS agent_name, h.runstatus, h.[time], h.comments, h.error_id
FROM h JOIN dbo.MSsnapshot_agents sa WITH (NOLOCK) ON sa.id = h.agent_id
WHERE h.rn = 1
ORDER BY sa.publication`

// ReplicationErrors is the newest replication error messages. The page does not say whether id
// is unique (one failure can log several rows).
// Source: docs/relational-databases/system-tables/msrepl-errors-transact-sql.md.
// Columns: id (int), time (datetime, server-local), error_code (sysname), error_text (ntext).
const ReplicationErrors = `SELECT TOP (20) id, [time], error_code, error_text
FROM dbo.MSrepl_errors WITH (NOLOCK)
ORDER BY [time] DESC, id DESC`

// NewestReplicatedTransaction is when the newest replicated transaction entered the distribution
// database: it stops moving when nothing writes to the published database.
// Source: docs/relational-databases/system-tables/msrepl-transactions-transact-sql.md.
// Column: one datetime (server-local; NULL when none).
const NewestReplicatedTransaction = `SELECT MAX(entry_time) FROM dbo.MSrepl_transactions WITH (NOLOCK)`

// SubscriptionPendingProc is called by name with @publisher, @publisher_db, @publication,
// @subscriber, @subscriber_db and @subscription_type = 0 (push).
// Columns: pendingcmdcount, estimatedprocesstime (seconds).
const SubscriptionPendingProc = `sp_replmonitorsubscriptionpendingcmds`

// Subscriptions lists push subscriptions by distribution agent, with what
// SubscriptionPendingProc needs. Columns: publisher, publisher_db, publication, subscriber,
// subscriber_db, agent_name.
const Subscriptions = `SELECT ps.name AS publisher, da.publisher_db, da.publication, ss.name AS subscriber, da.subscriber_db, da.name AS agent_name
FROM dbo.MSdistribution_agents da WITH (NOLOCK)
JOIN sys.servers ps ON ps.server_id = da.publisher_id
JOIN sys.servers ss ON ss.server_id = da.subscriber_id
WHERE da.subscriber_id >= 0
ORDER BY da.publication`

// ---------------------------------------------------------------------------------------------
// The data upgrade — on the Azure SQL sandbox.

// DataUpgradeStatus is what the toolkit's `ds` report reads.
// Columns: StartTime, EndTime, Steps, SubSteps, STATUS.
const DataUpgradeStatus = `SELECT StartTime, EndTime, Steps, SubSteps, STATUS
FROM [DBUPGRADE].[DATAUPGRADESTATUS]
ORDER BY EndTime DESC`

// ServicingSteps lists the servicing steps (/DataUpgrade/PreSync, /DataUpgrade/PostSync,
// /DataUpgrade/FinalDbSync/DisableDataUpgradeFlag…); STATUS 2 is done.
// Columns: PATH, STATUS, STARTTIME, ENDTIME.
const ServicingSteps = `SELECT PATH, STATUS, STARTTIME, ENDTIME
FROM [DBUPGRADE].[SERVICINGSTEP]
ORDER BY STARTTIME`

// DBSyncSteps lists database synchronization phases; FinishTime 1900-01-01 means running.
// Columns: SyncStep, StartDateTime, FinishTime, Success, DBSyncActivityId.
const DBSyncSteps = `SELECT SyncStep, StartDateTime, FinishTime, Success, CAST(DBSyncActivityId AS nvarchar(36)) AS DBSyncActivityId
FROM dbo.DBSyncExecStats
ORDER BY StartDateTime`

// UpgradeBatchTasks is the status histogram of the "Data upgrade" batch job's tasks (BatchStatus
// values). Columns: STATUS, tasks.
const UpgradeBatchTasks = `SELECT b.STATUS, COUNT(*) AS tasks
FROM dbo.BATCH b WITH (NOLOCK)
JOIN dbo.BATCHJOB j WITH (NOLOCK) ON j.RECID = b.BATCHJOBID
WHERE j.CAPTION = N'Data upgrade'
GROUP BY b.STATUS
ORDER BY b.STATUS`

// UpgradeScriptErrors lists the newest release-update script errors.
// Columns: CREATEDDATETIME, CLASSNAME, METHODNAME, ERRORMESSAGE.
const UpgradeScriptErrors = `SELECT TOP (20) CREATEDDATETIME, CLASSNAME, METHODNAME, ERRORMESSAGE
FROM dbo.RELEASEUPDATESCRIPTSERRORLOG WITH (NOLOCK)
ORDER BY CREATEDDATETIME DESC`

// ServicingActivity is when the servicing host (SERVICING1) last finished a request: no activity
// for 30 minutes may mean the database sync stalled. Column: one datetime (NULL: never seen).
const ServicingActivity = `SELECT MAX(last_request_end_time) FROM sys.dm_exec_sessions WHERE host_name = N'SERVICING1'`

// ServerClock is the server's current time with its UTC offset. The pages of the datetime
// columns read here (history, entry_time, last_user_update) do not say which clock they use; the
// client takes them as server-local and this offset turns them into instants.
// Source: docs/t-sql/functions/sysdatetimeoffset-transact-sql.md. Column: one unnamed
// datetimeoffset(7).
const ServerClock = `SELECT SYSDATETIMEOFFSET()`

// ---------------------------------------------------------------------------------------------
// Pre-flight checks — on the source server.

// ServerInfo identifies the server (all users may query the properties). IsIntegratedSecurityOnly
// is 1 for Windows authentication only, 0 for mixed mode, NULL on error.
// Sources: docs/t-sql/functions/serverproperty-transact-sql.md, version-transact-sql-configuration-functions.md.
// Columns: product_version, edition (nvarchar(128)), version (nvarchar), integrated_only (int).
const ServerInfo = `SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
  CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition, @@VERSION AS version,
  CAST(SERVERPROPERTY('IsIntegratedSecurityOnly') AS int) AS integrated_only`

// LoginRights is what the connected login may do: the 1.0.12 toolkit needs a sysadmin login (older
// builds db_owner on the AX database plus access to master). IS_SRVROLEMEMBER and IS_ROLEMEMBER
// return 1 or 0, and NULL for a role that is not valid or a membership the login may not view
// (they need VIEW DEFINITION on the role). Run on the AX database (SQL Server: IS_SRVROLEMEMBER is
// always 0 on Azure SQL Database).
// Sources: docs/t-sql/functions/suser-sname-transact-sql.md, is-srvrolemember-transact-sql.md,
// is-rolemember-transact-sql.md. Columns: login_name (nvarchar(128)), is_sysadmin (int), is_db_owner (int).
const LoginRights = `SELECT SUSER_SNAME() AS login_name, IS_SRVROLEMEMBER(N'sysadmin') AS is_sysadmin,
  IS_ROLEMEMBER(N'db_owner') AS is_db_owner`

// ReplicationInstalled runs sys.sp_MS_replication_installed in master, as the toolkit's
// prerequisites say (there with USE master; a three-part name here, SQL Server only). Column:
// installed (int, 0 means not installed). When replication is missing SQL Server raises error
// 21028 ("Replication components are not installed on this server…", in the errors list); the
// procedure's documents do not say it does.
// Sources (dynamics-365-unified-operations-public): articles/fin-ops-core/dev-itpro/migration-upgrade/data-upgrade-self-service.md;
// (sql-docs) docs/database-engine/availability-groups/windows/configure-replication-for-always-on-availability-groups-sql-server.md.
const ReplicationInstalled = `DECLARE @installed int;
EXEC @installed = master.sys.sp_MS_replication_installed;
SELECT @installed AS installed`

// AgentService is the state of the SQL Server Agent service (SQL Server only; needs VIEW SERVER
// STATE). The page does not give servicename's form; no row means no Agent service was found.
// Source: docs/relational-databases/system-dynamic-management-views/sys-dm-server-services-transact-sql.md.
// Column: status_desc (nvarchar(256): Running, Stopped, Paused, Other (…pending)).
const AgentService = `SELECT status_desc FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'`

// DatabaseSettings describes one database (@p1 = name). SUSER_SNAME of an owner SID no login has
// is NULL. sys.master_files (SQL Server only) shows a file only to a login with CREATE DATABASE,
// ALTER ANY DATABASE or VIEW ANY DEFINITION: without them size_bytes is NULL. size is in 8-KB pages.
// Sources: docs/relational-databases/system-catalog-views/sys-databases-transact-sql.md,
// sys-master-files-transact-sql.md, docs/t-sql/functions/suser-sname-transact-sql.md.
// Columns: owner (nvarchar(128)), is_read_committed_snapshot_on (bit), recovery_model_desc
// (nvarchar(60)), size_bytes (bigint).
const DatabaseSettings = `SELECT SUSER_SNAME(d.owner_sid) AS owner, d.is_read_committed_snapshot_on, d.recovery_model_desc,
  (SELECT SUM(CAST(f.size AS bigint)) * 8192 FROM sys.master_files f WHERE f.database_id = d.database_id) AS size_bytes
FROM sys.databases d WHERE d.name = @p1`

// MaxTextReplSize is the 'max text repl size (B)' setting (the option the configuration page
// calls max text repl size: bytes, default 65536, -1 no limit), which the toolkit needs at -1
// for large LOB columns. sys.configurations is SQL Server only; value_in_use is sql_variant.
// Sources: docs/relational-databases/system-catalog-views/sys-configurations-transact-sql.md,
// docs/database-engine/configure-windows/configure-the-max-text-repl-size-server-configuration-option.md.
// Column: value_in_use (bigint).
const MaxTextReplSize = `SELECT CAST(value_in_use AS bigint) AS value_in_use FROM sys.configurations WHERE name = N'max text repl size (B)'`

// FixedDrives is called by name: free megabytes per drive letter. xp_fixeddrives is NOT
// documented (no sql-docs page): the client reads its two columns by position (drive, MB free)
// and records any error as the check being unavailable.
const FixedDrives = `master.sys.xp_fixeddrives`

// Distributor names the distribution database, if any (a login sees other databases through
// VIEW ANY DATABASE, which public has by default).
// Source: docs/relational-databases/system-catalog-views/sys-databases-transact-sql.md. Column: name (sysname).
const Distributor = `SELECT name FROM sys.databases WHERE is_distributor = 1`
