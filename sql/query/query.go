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

// AXServerSessions lists every AOS instance row of SYSSERVERSESSIONS with its STATUS (AX 2012's
// SysServerStatus enum). What is documented: a running AOS has a row with STATUS 1 (Microsoft's
// "Dynamics Ax 4.0 Session Types" post, archived at learn.microsoft.com/archive/blogs/daxis; the
// design is unchanged in AX 2012), and "Drain users from an AOS" (AX 2012 app-user-itpro) sets an
// AOS rejecting new clients back to accepting them with the value 1; an AOS sets the rows of dead
// AOS instances to 0, which the Online users form does not show (Microsoft Dynamics blog, "AX AOS
// Server acting as Load balancer appears with a status Dead"). SysServerStatus also has Drain, the
// status of an AOS that rejects new clients while its sessions end (SysServersDrain, AX 2012
// application classes reference), but its number is not documented: every value but 0 is an AOS
// still there. Columns: SERVERID, AOSID, INSTANCE_NAME, STATUS, LOGINDATETIME, LASTUPDATEDATETIME.
const AXServerSessions = `SELECT SERVERID, AOSID, INSTANCE_NAME, STATUS, LOGINDATETIME, LASTUPDATEDATETIME
FROM dbo.SYSSERVERSESSIONS WITH (NOLOCK)
ORDER BY SERVERID`

// AXClientSessions lists the client sessions still there: STATUS other than 0 and 3. The numbers
// are the SessionStatus enum's as the Finance and Operations API reference lists them
// (learn.microsoft.com/dotnet/api/dynamics.ax.application.sessionstatus: 0 Inactive, 1 Running,
// 2 MarkedAsKill, 3 Killed); the AX 2012 pages name the states (Online users form: Running,
// Killed, "Ending - Waiting for AOS", "Ending - Blocked") but not their numbers, and the running
// session's 1 is the same in both. A session marked for kill has not ended yet; a value the enum
// does not name is kept too, as a session still there.
// Columns: SESSIONID, SERVERID, USERID, CLIENTTYPE, CLIENTCOMPUTER, LOGINDATETIME, STATUS.
const AXClientSessions = `SELECT SESSIONID, SERVERID, USERID, CLIENTTYPE, CLIENTCOMPUTER, LOGINDATETIME, STATUS
FROM dbo.SYSCLIENTSESSIONS WITH (NOLOCK)
WHERE STATUS NOT IN (0, 3)
ORDER BY LOGINDATETIME`

// AXBatchJobs lists the batch jobs not at rest: BatchStatus (AX 2012 reference, "BatchStatus
// Enumeration"; the same numbers in migration-upgrade/monitor-upgrade.md) other than 0 Hold,
// 3 Error, 4 Finished, 6 NotRun and 8 Canceled: Waiting (1), Executing (2), Ready (5), Cancelling
// (7, still ending) and any value the AX 2012 enum does not name (D365 adds 9 Scheduled).
// CREATEDBY is not read: no document names it for BATCHJOB.
// Columns: RECID, CAPTION, STATUS, STARTDATETIME.
const AXBatchJobs = `SELECT RECID, CAPTION, STATUS, STARTDATETIME
FROM dbo.BATCHJOB WITH (NOLOCK)
WHERE STATUS NOT IN (0, 3, 4, 6, 8)
ORDER BY STATUS DESC, STARTDATETIME`

// AXRunningBatchTasks counts the batch tasks (BATCH rows) still running, by BatchStatus: every
// status but those of a task at rest or not started (0 Hold, 1 Waiting, 3 Error, 4 Finished,
// 5 Ready, 6 NotRun, 8 Canceled), so Executing (2), Cancelling (7, still ending) and any value the
// enum does not name. Columns: STATUS, tasks (int).
const AXRunningBatchTasks = `SELECT STATUS, COUNT(*) AS tasks
FROM dbo.BATCH WITH (NOLOCK)
WHERE STATUS NOT IN (0, 1, 3, 4, 5, 6, 8)
GROUP BY STATUS
ORDER BY STATUS`

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
// publication) and returns its id: sp_posttracertoken in the publication database
// (system-stored-procedures/sp-posttracertoken-transact-sql.md; a snapshot publication is refused
// with error 21485). Column: tracer_id (int).
const PostTracerToken = `DECLARE @tracer_id int;
EXEC sys.sp_posttracertoken @publication = @p1, @tracer_token_id = @tracer_id OUTPUT;
SELECT @tracer_id AS tracer_id`

// TracerTokenHistoryProc is called by name with @publication and @tracer_id (neither has a default)
// in the publication database: system-stored-procedures/sp-helptracertokenhistory-transact-sql.md,
// one row per Subscriber. Columns: distributor_latency, subscriber, subscriber_db,
// subscriber_latency, overall_latency (bigint seconds; NULL until the token got there).
const TracerTokenHistoryProc = `sys.sp_helptracertokenhistory`

// PublisherPublications lists the publications defined in the published database: syspublications
// (sql-docs system-tables/syspublications-transact-sql.md: "one row for each publication defined in
// the database", stored in the publication database). «Cutover: Remove replication setup» "deletes all
// the publications that were created in the source database" (migration-upgrade/
// data-upgrade-self-service.md); the pages do not say whether the table itself goes with the last
// publication, so an empty table and a missing one (error 208) both mean none is left.
// Columns: name (sysname).
const PublisherPublications = `SELECT name FROM dbo.syspublications WITH (NOLOCK) ORDER BY name`

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

// ArticlesMarker is a cheap change marker of the article list: how many rows MSarticles holds and
// the highest article_id. The article list is near-static (it changes only when a publication is
// created, dropped or gets articles), so the monitor reads Articles once and again only when this
// marker moves or on a slow cadence. The page documents article_id as "The unique identifier of an
// article" without saying that ids grow: the count catches a dropped article, the maximum a new one
// whose id is higher, and the slow cadence what neither catches.
// Source: docs/relational-databases/system-tables/msarticles-transact-sql.md,
// docs/t-sql/functions/count-big-transact-sql.md, docs/t-sql/functions/max-transact-sql.md.
// Columns: articles (bigint), newest_article_id (int, NULL when there is no article).
const ArticlesMarker = `SELECT COUNT_BIG(*) AS articles, MAX(article_id) AS newest_article_id
FROM dbo.MSarticles WITH (NOLOCK)`

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

// AgentStates is Replication Monitor's cached state per agent (cheap), from
// MSreplication_monitordata (sql-docs system-tables/msreplication-monitordata-transact-sql.md):
// agent_type 1 Snapshot, 2 Log Reader, 3 Distribution, 4 Merge, 9 Queue Reader; status 1 Started,
// 2 Succeeded, 3 In progress, 4 Idle, 5 Retrying, 6 Failed; warning a bitmask (1 expiration,
// 2 latency…); cur_latency and avg_latency in seconds. It is a cache: the SQL Server Agent job
// "Replication monitoring refresher for distribution" rebuilds it (every 4 to 30 seconds while it
// runs, replication/monitor/caching-refresh-and-replication-monitor-performance.md), so its rows
// are as old as lastrefresh says. refresh_age is that age in seconds on the server's own clock
// (the docs do not say which clock lastrefresh is in; like the history tables' times it is taken
// as the server's local time, GETDATE()). NULL lastrefresh gives a NULL age.
// Columns: publication, agent_type, agent_name, status, isagentrunningnow, warning, cur_latency,
// avg_latency, last_distsync, lastrefresh, refresh_age (int).
const AgentStates = `SELECT publication, agent_type, agent_name, status, isagentrunningnow, warning,
  cur_latency, avg_latency, last_distsync, lastrefresh, DATEDIFF(SECOND, lastrefresh, GETDATE()) AS refresh_age
FROM dbo.MSreplication_monitordata WITH (NOLOCK)
ORDER BY publication, agent_type`

// DistributionAgentHistory is the newest history row of every distribution agent:
// MSdistribution_history (system-tables/msdistribution-history-transact-sql.md: runstatus 1 Start,
// 2 Succeed, 3 In progress, 4 Idle, 5 Retry, 6 Fail; delivered_commands is the session's total;
// current_delivery_latency in milliseconds; error_id points into MSrepl_errors) joined to
// MSdistribution_agents (msdistribution-agents-transact-sql.md). The newest row soon moves on from a
// snapshot's delivery: SnapshotDeliveries looks further back.
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

// SnapshotDeliveries lists the distribution agents' "Delivered snapshot" messages logged within the
// last @p1 seconds (an int), by the server's own clock: MSdistribution_history
// (sql-docs system-tables/msdistribution-history-transact-sql.md: time is when the message was
// logged, comments its text) joined to MSdistribution_agents for the publication. The message is
// documented in migration-upgrade/monitor-replication.md ("Delivered snapshot from the
// \\unc\server\folder"), and so is what follows it: "No replicated transactions are available",
// so the newest row alone soon stops showing the delivery. Only the documented start is matched:
// SQL Server's text goes on (sub-folder, milliseconds taken) in a form the docs do not fix.
// Columns: publication, agent_name, runstatus, time, comments.
const SnapshotDeliveries = `SELECT da.publication, da.name AS agent_name, h.runstatus, h.[time], h.comments
FROM dbo.MSdistribution_history h WITH (NOLOCK)
JOIN dbo.MSdistribution_agents da WITH (NOLOCK) ON da.id = h.agent_id
WHERE h.[time] >= DATEADD(SECOND, -@p1, GETDATE()) AND h.comments LIKE N'Delivered snapshot%'
ORDER BY h.[time] DESC`

// LogReaderHistory is the newest history row of every log reader agent: MSlogreader_history
// (system-tables/mslogreader-history-transact-sql.md: the same runstatus values, comments
// nvarchar(255), delivery_latency in milliseconds) joined to MSlogreader_agents.
// Columns: agent_name, publisher_db, runstatus, time, comments, delivery_latency (ms), error_id.
const LogReaderHistory = `WITH h AS (
  SELECT agent_id, runstatus, [time], comments, delivery_latency, error_id,
    ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY [time] DESC, [timestamp] DESC) AS rn
  FROM dbo.MSlogreader_history WITH (NOLOCK))
SELECT la.name AS agent_name, la.publisher_db, h.runstatus, h.[time], h.comments, h.delivery_latency, h.error_id
FROM h JOIN dbo.MSlogreader_agents la WITH (NOLOCK) ON la.id = h.agent_id
WHERE h.rn = 1`

// SnapshotHistory is the newest history row of every snapshot agent: MSsnapshot_history
// (system-tables/mssnapshot-history-transact-sql.md) joined to MSsnapshot_agents; "A snapshot of N
// article(s) was generated" when done (migration-upgrade/monitor-replication.md).
// Columns: publication, agent_name, runstatus, time, comments, error_id.
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

// SubscriptionStates counts every publication's subscribed articles by subscriber database and
// status: MSsubscriptions (sql-docs system-tables/mssubscriptions-transact-sql.md: one row for each
// published article in a subscription; status 0 Inactive, 1 Subscribed, 2 Active; sync_type 1
// Automatic, 2 No synchronization) joined to MSpublications (mspublications-transact-sql.md). What
// the statuses mean for initialization is said by sp_addsubscription's @status
// (system-stored-procedures/sp-addsubscription-transact-sql.md): "active: Subscription is
// initialized and ready to accept changes", "subscribed: Subscription needs to be initialized. This
// option is set when the value of @sync_type is automatic". A publication without a subscription
// has one row with a NULL status and 0 articles. As in Subscriptions, a negative subscriber_id (a
// virtual subscription) is left out; the page does not document it, and the filter only drops rows.
// Columns: publication, subscriber_db (sysname), status (tinyint), articles (int).
const SubscriptionStates = `SELECT p.publication, s.subscriber_db, s.status, COUNT(s.article_id) AS articles
FROM dbo.MSpublications p WITH (NOLOCK)
LEFT JOIN dbo.MSsubscriptions s WITH (NOLOCK) ON s.publication_id = p.publication_id AND s.publisher_id = p.publisher_id
  AND s.publisher_db = p.publisher_db AND s.subscriber_id >= 0
GROUP BY p.publication, s.subscriber_db, s.status
ORDER BY p.publication, s.subscriber_db, s.status`

// SubscriptionPendingProc is called by name with @publisher, @publisher_db, @publication,
// @subscriber, @subscriber_db and @subscription_type (0 push, 1 pull), as
// sql-docs system-stored-procedures/sp-replmonitorsubscriptionpendingcmds-transact-sql.md
// documents it; it is for transactional publications. It runs in the distribution database.
// Columns: pendingcmdcount (int), estimatedprocesstime (int, seconds).
const SubscriptionPendingProc = `sp_replmonitorsubscriptionpendingcmds`

// Subscriptions lists the subscriptions by distribution agent, with what SubscriptionPendingProc
// needs: MSdistribution_agents (system-tables/msdistribution-agents-transact-sql.md) gives the
// publisher database, publication, subscriber database and subscription_type (0 push, 1 pull,
// 2 anonymous); virtual subscriptions have a negative subscriber_id. The documents do not say which
// table names the servers behind publisher_id and subscriber_id (the MSreplservers page describes
// another table): sys.servers' server_id is taken, as the replication procedures have long used it.
// Columns: publisher, publisher_db, publication, subscriber, subscriber_db, agent_name,
// subscription_type.
const Subscriptions = `SELECT ps.name AS publisher, da.publisher_db, da.publication, ss.name AS subscriber, da.subscriber_db, da.name AS agent_name,
  da.subscription_type
FROM dbo.MSdistribution_agents da WITH (NOLOCK)
JOIN sys.servers ps ON ps.server_id = da.publisher_id
JOIN sys.servers ss ON ss.server_id = da.subscriber_id
WHERE da.subscriber_id >= 0
ORDER BY da.publication`

// ---------------------------------------------------------------------------------------------
// The data upgrade — on the Azure SQL sandbox.

// DataUpgradeStatus is what the toolkit's `ds` report reads: the query of
// migration-upgrade/monitor-upgrade.md ("Data upgrade step status"), verbatim. STATUS is
// documented as Completed or Failed for a step ("ds" in data-upgrade-self-service.md); what a step
// in progress shows is not documented, so any other value is a step not finished. The table does
// not exist before the upgrade creates it (error 208).
// Columns: StartTime, EndTime, Steps, SubSteps, STATUS.
const DataUpgradeStatus = `SELECT StartTime, EndTime, Steps, SubSteps, STATUS
FROM [DBUPGRADE].[DATAUPGRADESTATUS]
ORDER BY EndTime DESC`

// ServicingSteps lists the servicing steps with the columns monitor-upgrade.md's "Synchronize
// Steps" query uses: Path (/DataUpgrade/PreSync, /DataUpgrade/PostSync,
// /DataUpgrade/FinalDbSync/DisableDataUpgradeFlag…), Status (2 is done: the document takes
// ModifiedDateTime less 2 seconds as the completion time; no other value is documented) and
// ModifiedDateTime. The document checks INFORMATION_SCHEMA first: the table does not exist before
// the upgrade (error 208). Columns: Path, Status, ModifiedDateTime.
const ServicingSteps = `SELECT Path, Status, ModifiedDateTime
FROM DBUPGRADE.SERVICINGSTEP
ORDER BY ModifiedDateTime`

// DBSyncSteps lists the database synchronizations as monitor-upgrade.md's "Synchronize Steps"
// query reads them: DBSyncExecStats without its 'PartialList, PostTableViewSyncActions' rows,
// newest first by RecID. SyncStep is the raw step ('LegacyIds, AdditiveTableSync', 'PartialList,
// LegacyIds', 'FullAll'); the document names them PreReqs-AdditiveSync, PreReqs-PartialSync,
// DbSync-SyncSchema and FinalDBSync-SyncSchema from the servicing steps' times (sql.SyncStep.Phase).
// FinishTime 1900-01-01 means running. Columns: RecID, SyncStep, DBSyncActivityId, StartDateTime,
// FinishTime, Success.
const DBSyncSteps = `SELECT TOP (50) RecID, SyncStep, CAST(DBSyncActivityId AS nvarchar(36)) AS DBSyncActivityId, StartDateTime, FinishTime, Success
FROM DBSyncExecStats
WHERE SyncStep <> 'PartialList, PostTableViewSyncActions'
ORDER BY RecID DESC`

// UpgradeBatchTasks is the status histogram (BatchStatus values) of the tasks of the batch job
// running the upgrade scripts: monitor-upgrade.md's "Upgrade batch task summary", which looks only
// at the job executing now (caption 'Data upgrade', status 2). Columns: STATUS, tasks.
const UpgradeBatchTasks = `SELECT t1.STATUS, COUNT(*) AS tasks
FROM dbo.BATCH t1 WITH (NOLOCK)
WHERE t1.BATCHJOBID IN (SELECT t2.RECID FROM dbo.BATCHJOB t2 WITH (NOLOCK) WHERE t2.CAPTION = N'Data upgrade' AND t2.STATUS = 2)
GROUP BY t1.STATUS`

// UpgradeScriptErrors reads the upgrade script errors. monitor-upgrade.md ("Upgrade job errors")
// reads the whole table and documents none of its columns; pre-post-upgrade-scripts.md shows its
// rows as ClassName, MethodName, Company, DataParition, ErrorCount and ErrorMessage. So the rows
// are read whole and their columns picked by name (sql.ScriptError), whatever the shape; TOP keeps
// the read bounded (the table holds failures only). No order is documented either.
// Columns: any.
const UpgradeScriptErrors = `SELECT TOP (200) * FROM dbo.RELEASEUPDATESCRIPTSERRORLOG WITH (NOLOCK)`

// ServicingActivity is when the servicing host (SERVICING1) last finished a request: the
// database synchronization's activity comes from that host, and none for up to 30 minutes may mean
// the sync stalled (monitor-upgrade.md, the note under "Synchronize Steps").
// Column: one datetime (NULL: never seen).
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

// ---------------------------------------------------------------------------------------------
// The rollback backup — msdb on the source server (three-part names: SQL Server only).

// FullBackups lists the newest full database backups of a database (@p1) with their media: backupset
// (sql-docs system-tables/backupset-transact-sql.md: "a row for each backup set … from a single,
// successful backup operation"; type 'D' is Database; backup_start_date and backup_finish_date are
// the server's local time, time_zone its offset from UTC in 15-minute intervals when the backup
// started, 127 unknown; has_backup_checksums 1 "Backup contains backup checksums"; is_damaged 1
// "Damage to the database was detected when this backup was created"; is_copy_only 1 a copy-only
// backup; backup_size in bytes; position locates the set in its media for RESTORE … FILE) joined
// to backupmediafamily as the page's example "Query backup history" does
// (backupmediafamily-transact-sql.md: one row per media family, and per mirror of a mirrored media
// set; device_type 2 Disk, 5 Tape, 7 Virtual device, 105 a permanent backup device, and 9 Azure
// Storage in backupset's example). The page does not say whether the bit columns can be NULL: NULL
// is read as 0 except for has_backup_checksums, where it is no checksum. The 50 newest rows are
// read (several per set when it is striped or mirrored).
// Columns: backup_set_id (int), position (int), backup_start_date, backup_finish_date (datetime),
// time_zone (smallint), is_copy_only, has_backup_checksums, is_damaged (bit), backup_size (bigint),
// first_lsn, last_lsn, checkpoint_lsn (numeric(25,0)), server_name (nvarchar(128)),
// family_sequence_number (tinyint), mirror (tinyint), physical_device_name (nvarchar(260)),
// device_type (tinyint).
const FullBackups = `SELECT TOP (50) bs.backup_set_id, bs.position, bs.backup_start_date, bs.backup_finish_date, bs.time_zone,
  bs.is_copy_only, bs.has_backup_checksums, bs.is_damaged, CAST(bs.backup_size AS bigint) AS backup_size,
  bs.first_lsn, bs.last_lsn, bs.checkpoint_lsn, bs.server_name,
  bf.family_sequence_number, bf.mirror, bf.physical_device_name, bf.device_type
FROM msdb.dbo.backupset bs
LEFT JOIN msdb.dbo.backupmediafamily bf ON bf.media_set_id = bs.media_set_id
WHERE bs.database_name = @p1 AND bs.type = 'D'
ORDER BY bs.backup_start_date DESC, bs.backup_set_id DESC, bf.family_sequence_number, bf.mirror`

// VerifyBackup checks a backup set without restoring it: RESTORE VERIFYONLY
// (t-sql/statements/restore-statements-verifyonly-transact-sql.md: "checks to see that the backup
// set is complete and the entire backup is readable", the checksum "if present on the media", "some
// header fields of database pages"; it "does not attempt to verify the structure of the data"; "If
// the backup is valid, the Database Engine returns a success message"; it "requires CREATE DATABASE
// permission"). @p1 is the backup file, @p2 the backup set's position in it (FILE), and CHECKSUM
// makes a set without checksums an error (3187, "RESTORE WITH CHECKSUM cannot be specified because
// the backup set does not contain checksum information"). It reads the whole backup: it is not
// bounded by the query timeout. No result set.
const VerifyBackup = `RESTORE VERIFYONLY FROM DISK = @p1 WITH FILE = @p2, CHECKSUM`

// VerifyBackupNoChecksum is VerifyBackup without CHECKSUM (for a set taken without checksums).
const VerifyBackupNoChecksum = `RESTORE VERIFYONLY FROM DISK = @p1 WITH FILE = @p2`

// RestoreDatabase restores a database (@p1) from the backup set at position @p3 of a backup file
// (@p2) with REPLACE and CHECKSUM (t-sql/statements/restore-statements-transact-sql.md: "RESTORE
// DATABASE { database_name | @database_name_var } … FROM DISK = { 'physical_backup_device_name' |
// @physical_backup_device_name_var }"; REPLACE overrides the safety checks against overwriting a
// database, among them the tail-log backup; "RESTORE is not allowed in an explicit or implicit
// transaction"; it needs the sysadmin or dbcreator role or to be the database's owner; run it on
// master, not on the database restored: error 3102 "… in use by this session. It is recommended
// that the master database be used"). The documents disagree on other connections: the RESTORE page
// says RESTORE "forces the users off after a short delay", the SSMS restore page that one may get
// "Exclusive access could not be obtained because the database is in use" (3101) unless existing
// connections are closed: both are handled. It runs until the restore ends: not bounded by the
// query timeout. No result set.
const RestoreDatabase = `RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3, REPLACE, CHECKSUM`

// RestoreDatabaseNoReplace is RestoreDatabase without REPLACE: SQL Server then refuses, among
// others, a database in the full recovery model whose tail of the log was not backed up (3159).
const RestoreDatabaseNoReplace = `RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3, CHECKSUM`

// RestoreDatabaseNoChecksum is RestoreDatabase without CHECKSUM (for a set taken without
// checksums).
const RestoreDatabaseNoChecksum = `RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3, REPLACE`

// RestoreDatabaseNoReplaceNoChecksum is RestoreDatabase with neither REPLACE nor CHECKSUM.
const RestoreDatabaseNoReplaceNoChecksum = `RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3`

// DatabaseState is one database's state (@p1 = name): sys.databases
// (system-catalog-views/sys-databases-transact-sql.md: state_desc ONLINE, RESTORING, RECOVERING,
// RECOVERY_PENDING, SUSPECT, EMERGENCY, OFFLINE…; user_access_desc MULTI_USER, SINGLE_USER,
// RESTRICTED_USER). No row: no such database (or one the login may not see).
// Columns: state_desc, user_access_desc (nvarchar(60)).
const DatabaseState = `SELECT state_desc, user_access_desc FROM sys.databases WHERE name = @p1`

// Restores lists the newest full restores of a database (@p1): msdb's restorehistory
// (system-tables/restorehistory-transact-sql.md: "one row for each restore operation";
// restore_date "Date and time of the completion of the restore operation", server-local;
// restore_type 'D' Database; replace 1 when REPLACE was specified; backup_set_id references
// backupset) with the restored set's start and its files. SQL Server may fail to write it and still
// restore (error 3009, "Could not insert a backup or restore history/detail record in the msdb
// database … The backup/restore operation was still successful.").
// Columns: restore_history_id (int), restore_date (datetime), backup_set_id (int), replace (bit),
// backup_start_date (datetime), time_zone (smallint), physical_device_name (nvarchar(260)).
const Restores = `SELECT TOP (20) rh.restore_history_id, rh.restore_date, rh.backup_set_id, rh.[replace],
  bs.backup_start_date, bs.time_zone, bf.physical_device_name
FROM msdb.dbo.restorehistory rh
LEFT JOIN msdb.dbo.backupset bs ON bs.backup_set_id = rh.backup_set_id
LEFT JOIN msdb.dbo.backupmediafamily bf ON bf.media_set_id = bs.media_set_id
WHERE rh.destination_database_name = @p1 AND rh.restore_type = 'D'
ORDER BY rh.restore_date DESC, rh.restore_history_id DESC`

// ---------------------------------------------------------------------------------------------
// More pre-flight checks — on the source server.

// Collations is the server's default collation and the AX database's (@p1): SERVERPROPERTY
// ('Collation', "Name of the default collation for the server", nvarchar(128);
// t-sql/functions/serverproperty-transact-sql.md) and sys.databases.collation_name (NULL when the
// database is not online or there is no such database; system-catalog-views/
// sys-databases-transact-sql.md). The cloud's only supported collation is SQL_Latin1_General_CP1_CI_AS
// (d365 database/dbmovement-scenario-goldenconfig.md, "Supported SQL Server collation"); a
// development environment's upgrade needs the AX 2012 database in it
// (migration-upgrade/data-upgrade-2012.md); the self-service toolkit's page says nothing of it.
// Columns: server_collation (nvarchar(128)), database_collation (sysname).
const Collations = `SELECT CAST(SERVERPROPERTY('Collation') AS nvarchar(128)) AS server_collation,
  (SELECT d.collation_name FROM sys.databases d WHERE d.name = @p1) AS database_collation`

// AOTTables lists the tables of the AX 2012 model: SQLDICTIONARY, which "describes the current
// state of the database with respect to the table and field metadata" and which "the database
// synchronization engine uses … to synchronize the AOT with the database" (AX 2012 reference,
// SqlDictionary Table; its fields, named by the Dynamics.AX.Application.SqlDictionary proxy, include
// fieldId, name and sqlName). That a table's own row is the one with field id 0 is not documented:
// only those rows are read, and an empty answer is taken as unknown, never as "no AOT table". The
// ignore list (IgnoreTables.xml) "should only be tables that do not exist in the Microsoft Dynamics
// AX 2012 Application Object Tree (AOT)" (migration-upgrade/data-upgrade-self-service.md).
// Columns: NAME, SQLNAME.
const AOTTables = `SELECT NAME, SQLNAME FROM dbo.SQLDICTIONARY WITH (NOLOCK) WHERE FIELDID = 0`

// BatchMark is a constant statement the monitor's batch puts between its statements: go-mssqldb
// reports an error that a statement raises before its column list while it reads the previous
// result set, and the mark takes that place, so an error is always told of the statement that
// raised it (sql.Distributor.Poll). It reads nothing.
const BatchMark = `SELECT 1 AS mark`

// Batch joins statements into one SQL batch, each ended by a semicolon, so that one request carries
// them all. "SQL Server applications can send multiple Transact-SQL statements to an instance of
// SQL Server for execution as a batch" (docs/t-sql/language-elements/
// sql-server-utilities-statements-go.md); the server answers each statement with its own result
// set, a DONE with DONE_MORE between them (MS-TDS 2.2.7.6). The semicolon also ends the statement
// before a WITH, which a common table expression needs (docs/t-sql/queries/
// with-common-table-expression-transact-sql.md). Each statement keeps the document its constant
// names.
func Batch(statements ...string) string {
	n := 0
	for _, s := range statements {
		n += len(s) + 2
	}
	b := make([]byte, 0, n)
	for i, s := range statements {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, s...)
		b = append(b, ';')
	}
	return string(b)
}
