package sim

import (
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"

	"cutover/sql/query"
)

// TestEveryQueryAnswers sends every query of sql/query to the database it
// belongs to and checks that it answers with the documented columns.
func TestEveryQueryAnswers(t *testing.T) {
	// An upgrade of a minute, triggered now, has created every table it reads from by then.
	f := newFixture(t, Config{Tables: 600, Seed: 7, UpgradeDuration: time.Minute})
	if err := f.w.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	src, dist, tgt := f.src(), f.dist(), f.tgt()
	master := f.db(EndpointSourceMaster, false)
	pub := "AX_PUB_PkTable_1"
	var tracer int64
	if err := src.QueryRowContext(f.ctx, query.PostTracerToken, pub).Scan(&tracer); err != nil {
		t.Fatalf("PostTracerToken: %v", err)
	}
	cases := []struct {
		name string
		rows [][]any
		min  int
		cols int
	}{
		{"RowCountsPartitionStats/source", f.rows(src, query.RowCountsPartitionStats), 600, 4},
		{"RowCountsPartitionStats/target", f.rows(tgt, query.RowCountsPartitionStats), 500, 4},
		{"RowCountsPartitions/source", f.rows(src, query.RowCountsPartitions), 600, 4},
		{"ExactCount", f.rows(src, query.ExactCountPrefix+"[dbo].[CUSTTABLE]"), 1, 1},
		{"AXServerSessions", f.rows(src, query.AXServerSessions), 3, 6},
		{"AXClientSessions", f.rows(src, query.AXClientSessions), 10, 7},
		{"AXBatchJobs", f.rows(src, query.AXBatchJobs), 5, 4},
		{"AXRunningBatchTasks", f.rows(src, query.AXRunningBatchTasks), 0, 2},
		{"UserSessions", f.rows(src, query.UserSessions), 10, 5},
		{"LastUserUpdate", f.rows(src, query.LastUserUpdate), 1, 1},
		{"TracerTokenHistory", f.rows(src, query.TracerTokenHistoryProc, namedArg("publication", pub), namedArg("tracer_id", tracer)), 1, 5},
		{"Publications", f.rows(dist, query.Publications), 5, 4},
		{"Articles", f.rows(dist, query.Articles), 500, 5},
		{"PendingCommands", f.rows(dist, query.PendingCommands), 10, 6},
		{"AgentStates", f.rows(dist, query.AgentStates), 14, 11},
		{"DistributionAgentHistory", f.rows(dist, query.DistributionAgentHistory), 5, 9},
		{"LogReaderHistory", f.rows(dist, query.LogReaderHistory), 1, 7},
		{"SnapshotHistory", f.rows(dist, query.SnapshotHistory), 5, 6},
		{"ReplicationErrors", f.rows(dist, query.ReplicationErrors), 3, 4},
		{"NewestReplicatedTransaction", f.rows(dist, query.NewestReplicatedTransaction), 1, 1},
		{"Subscriptions", f.rows(dist, query.Subscriptions), 5, 7},
		{"SubscriptionPending", f.rows(dist, query.SubscriptionPendingProc, namedArg("publisher", "AXSQL01"),
			namedArg("publisher_db", "MicrosoftDynamicsAX"), namedArg("publication", pub), namedArg("subscriber", "x"),
			namedArg("subscriber_db", "AxDB"), namedArg("subscription_type", 0)), 1, 2},
		{"DataUpgradeStatus", f.rows(tgt, query.DataUpgradeStatus), 20, 5},
		{"ServicingSteps", f.rows(tgt, query.ServicingSteps), 6, 3},
		{"DBSyncSteps", f.rows(tgt, query.DBSyncSteps), 4, 6},
		{"UpgradeBatchTasks", f.rows(tgt, query.UpgradeBatchTasks), 0, 2},
		{"UpgradeScriptErrors", f.rows(tgt, query.UpgradeScriptErrors), 0, 7},
		{"ServicingActivity", f.rows(tgt, query.ServicingActivity), 1, 1},
		{"ServerInfo", f.rows(master, query.ServerInfo), 1, 4},
		{"LoginRights", f.rows(src, query.LoginRights), 1, 3},
		{"ReplicationInstalled", f.rows(master, query.ReplicationInstalled), 1, 1},
		{"AgentService", f.rows(master, query.AgentService), 1, 1},
		{"DatabaseSettings", f.rows(master, query.DatabaseSettings, "MicrosoftDynamicsAX"), 1, 4},
		{"MaxTextReplSize", f.rows(master, query.MaxTextReplSize), 1, 1},
		{"FixedDrives", f.rows(master, query.FixedDrives), 2, 2},
		{"Distributor", f.rows(master, query.Distributor), 1, 1},
	}
	// sp_replmonitorsubscriptionpendingcmds documents every parameter without a default.
	if _, err := queryRows(f.ctx, dist, query.SubscriptionPendingProc, namedArg("publisher", "AXSQL01"),
		namedArg("publisher_db", "MicrosoftDynamicsAX"), namedArg("publication", pub), namedArg("subscriber", "x"),
		namedArg("subscriber_db", "AxDB")); sqlErrNumber(err) != 201 {
		t.Errorf("SubscriptionPending without @subscription_type: %v", err)
	}
	for _, c := range cases {
		if len(c.rows) < c.min {
			t.Errorf("%s: %d rows, want at least %d", c.name, len(c.rows), c.min)
		}
		for _, r := range c.rows {
			if len(r) != c.cols {
				t.Errorf("%s: %d columns, want %d", c.name, len(r), c.cols)
				break
			}
		}
		if testing.Verbose() && len(c.rows) > 0 {
			t.Logf("%s: %d rows, first %v", c.name, len(c.rows), c.rows[0])
		}
	}
}

// TestLoginRights: User is sysadmin on the source and db_owner of the sandbox; ReaderUser is
// neither, anywhere.
func TestLoginRights(t *testing.T) {
	f := newFixture(t, Config{Tables: 600, Seed: 7})
	cases := []struct {
		e                 Endpoint
		reader            bool
		login             string
		sysadmin, dbOwner int64
	}{
		{EndpointSource, false, User, 1, 1},
		{EndpointSourceMaster, false, User, 1, 1},
		{EndpointTarget, false, User, 0, 1},
		{EndpointSource, true, ReaderUser, 0, 0},
		{EndpointTarget, true, ReaderUser, 0, 0},
	}
	for _, c := range cases {
		rows := f.rows(f.db(c.e, c.reader), query.LoginRights)
		if len(rows) != 1 || rows[0][0] != c.login || rows[0][1] != c.sysadmin || rows[0][2] != c.dbOwner {
			t.Errorf("%s (reader %v): %v, want %s %d %d", c.e, c.reader, rows, c.login, c.sysadmin, c.dbOwner)
		}
	}
}
