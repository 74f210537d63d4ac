// Package sim is the simulated world of an AX 2012 → Dynamics 365 cutover:
// the AX 2012 source SQL Server (the business database, replication
// publisher and distributor) and the Azure SQL sandbox the data is
// replicated to and upgraded in. It is served over real TCP by two
// sql/tdssim servers, so the real go-mssqldb driver and the exact T-SQL of
// sql/query run against it in tests and in the offline demo.
//
// # The world
//
// New generates a deterministic world from a Config: thousands of AX
// tables with heavy-tailed row counts (a few of 10^8 rows, most small,
// some empty), a few percent without a primary key, some on the toolkit's
// ignore list; AOS services with their SYSSERVERSESSIONS, client sessions
// and batch jobs; publications AX_PUB_PkTable_1..N and AX_PUB_OtherObjects
// with their agents, an initial replication backlog, and the data upgrade
// plan of the sandbox.
//
// The world never runs in the background. Every request and every method
// reads the Clock and integrates the state from the last update to now:
// between events (an AOS finishing a stop, a queue running empty, a
// history tick every 30 s) all rates are constant, so each piece is exact
// and a fake clock can jump hours at once. While AOS run, the application
// writes Config.WriteRate commands per second (scaled by the share of AOS
// running) into a set of hot tables; the log reader queues them per
// publication; the distribution agents deliver Config.DrainRate commands
// per second in total, first in first out per publication, shared
// max-min fairly (an agent that keeps up takes only what arrives, the rest
// is split among agents with a backlog), so the total backlog falls at
// exactly the drain rate once writes stop. Target row counts are source
// counts minus the undelivered inserts.
//
// Actions mirror the cutover: StopAOS/StartAOS, CreateNoPKPublication
// (snapshots generated and bulk-copied over time), RemoveReplication,
// TriggerUpgrade/ResumeUpgrade/PauseUpgrade, Redeliver, SetDrainRate,
// FailDistributionAgent, PostTracerToken; SetPreflight flips the
// pre-flight facts. Scenario flags add a locked table, a count mismatch or
// an upgrade failure.
//
// # The servers
//
// Start serves a World on two addresses: the source server (databases
// master, the AX database, distribution) and the target server (the
// sandbox database), with the logins User and ReaderUser (password
// Password). Requests are answered by the session's database: a query
// sent to the wrong database fails as on SQL Server (208 invalid object,
// 2812 unknown procedure, 14013 not enabled for publication). SQL without a
// route is judged by what Microsoft documents (package sql/contract) and
// what the world holds: 208, 2812, 207 invalid column, 209, 4104, and on the
// Azure SQL sandbox 40515 (three-part names) and 40508 (USE); SQL with
// nothing wrong in it gets tdssim.NoAnswerError. Servers.DSN gives
// go-mssqldb URLs, Describe and RunbookSnippet the text `cutover sim`
// prints.
package sim
