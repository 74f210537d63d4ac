package sql_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
	"cutover/sql/tdssim"
)

// TestReplicationLeftOnlyAnAnswerCounts: what is left of the replication setup is read from the
// server's answers. While the setup is there, every part is listed; a read that fails — a hang
// past the query timeout, a refused login, a stuck catalog query — is an error, never "gone"; once
// «Remove replication setup» has run, the documented errors of the dropped database (4060 for a new
// login, 208 under a connection still open) are the answer "none left".
func TestReplicationLeftOnlyAnAnswerCounts(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	left, err := sql.ReplicationLeft(ctx, w.src, w.dist)
	if err != nil {
		t.Fatal(err)
	}
	if gone(left) || !slices.Equal(left.Distributors, []string{"distribution"}) || len(left.Published) != 5 || len(left.Publications) != 5 ||
		left.DistributionGone != "" {
		t.Fatalf("with the setup in place: %+v", left)
	}

	// Faults: none of them may read as "gone".
	quick := func(e sim.Endpoint) *sql.DB {
		cfg := w.config(e)
		cfg.QueryTimeout = 300 * time.Millisecond
		return w.open(t, cfg)
	}
	faults := []struct {
		name string
		rule tdssim.Rule
		pub  *sql.DB
		dist *sql.DB
	}{
		{"the distribution database hangs", tdssim.Rule{Database: "distribution", Action: tdssim.FaultHang}, w.src, quick(sim.EndpointDistribution)},
		{"the login to the distribution database fails", tdssim.Rule{Phase: tdssim.PhaseLogin, Database: "distribution", Action: tdssim.FaultError,
			Err: tdssim.LoginFailedError(sim.User)}, w.src, quick(sim.EndpointDistribution)},
		{"the connection to the distribution database drops", tdssim.Rule{Database: "distribution", Action: tdssim.FaultDropBeforeResponse}, w.src, quick(sim.EndpointDistribution)},
		{"sys.databases hangs", tdssim.Rule{SQL: regexp.MustCompile(`is_distributor`), Action: tdssim.FaultHang}, quick(sim.EndpointSource), w.dist},
		{"syspublications hangs", tdssim.Rule{SQL: regexp.MustCompile(`syspublications`), Action: tdssim.FaultHang}, quick(sim.EndpointSource), w.dist},
	}
	for _, f := range faults {
		id := w.srv.Source().Faults().MustAdd(f.rule)
		left, err := sql.ReplicationLeft(ctx, f.pub, f.dist)
		w.srv.Source().Faults().Remove(id)
		if err == nil {
			t.Fatalf("%s: read as an answer: %+v", f.name, left)
		}
		if sql.IsCannotOpenDatabase(err) || sql.IsMissingObject(err) {
			t.Fatalf("%s: the error %v reads as the database gone", f.name, err)
		}
	}

	// After removal: a connection still open gets 208, a new login 4060; both are the answer.
	if err := w.w.RemoveReplication(); err != nil {
		t.Fatal(err)
	}
	for _, dist := range []*sql.DB{w.dist, w.open(t, w.config(sim.EndpointDistribution))} {
		left, err := sql.ReplicationLeft(ctx, w.src, dist)
		if err != nil {
			t.Fatal(err)
		}
		if !gone(left) || left.DistributionGone == "" {
			t.Fatalf("after removal: %+v", left)
		}
		if !strings.Contains(left.DistributionGone, "(4060)") && !strings.Contains(left.DistributionGone, "(208)") {
			t.Fatalf("the evidence must name the documented error: %q", left.DistributionGone)
		}
	}
	// A hang is still no answer after the removal.
	w.srv.Source().Faults().MustAdd(tdssim.Rule{SQL: regexp.MustCompile(`is_distributor`), Action: tdssim.FaultHang})
	if left, err := sql.ReplicationLeft(ctx, quick(sim.EndpointSource), w.dist); err == nil {
		t.Fatalf("a hanging sys.databases read as an answer: %+v", left)
	}
}

// TestSubscriptionStatesShowAnUnstartedSnapshot: a publication whose snapshot was never started
// has its subscription "subscribed" (it needs to be initialized) and no snapshot agent history;
// once its snapshot agent is started, generated and delivered, the subscription is active.
func TestSubscriptionStatesShowAnUnstartedSnapshot(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300, Scenarios: sim.ScenarioSnapshotNotStarted}, sim.ServerConfig{})
	ctx := t.Context()
	unstarted := w.w.UnstartedSnapshots()
	if len(unstarted) != 1 {
		t.Fatalf("unstarted: %v", unstarted)
	}
	pub := unstarted[0]
	status := func() map[string]sql.SubscriptionStatus {
		t.Helper()
		states, err := w.dist.SubscriptionStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]sql.SubscriptionStatus{}
		for _, s := range states {
			if !s.Known || s.SubscriberDB != "AxDB" || s.Articles == 0 {
				t.Fatalf("every publication has its push subscription to the sandbox: %+v", s)
			}
			out[s.Publication] = s.Status
		}
		return out
	}
	got := status()
	if len(got) != 5 {
		t.Fatalf("states: %v", got)
	}
	for p, s := range got {
		if want := map[bool]sql.SubscriptionStatus{true: sql.SubscriptionSubscribed, false: sql.SubscriptionActive}[p == pub]; s != want {
			t.Fatalf("%s: %s, want %s", p, s, want)
		}
	}
	snapshotOf := func() (sql.AgentMessage, bool) {
		msgs, err := w.dist.AgentMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Type == sql.SnapshotAgent && m.Publication == pub {
				return m, true
			}
		}
		return sql.AgentMessage{}, false
	}
	if m, ok := snapshotOf(); ok {
		t.Fatalf("a snapshot agent that never ran has history: %+v", m)
	}
	if err := w.w.StartSnapshot(pub); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(5 * time.Second)
	if status()[pub] != sql.SubscriptionSubscribed {
		t.Fatal("active before its snapshot was applied")
	}
	if m, ok := snapshotOf(); !ok || m.Status != sql.RunInProgress {
		t.Fatalf("the snapshot agent runs: %+v", m)
	}
	w.clk.Advance(6 * time.Hour)
	if status()[pub] != sql.SubscriptionActive {
		t.Fatal("not active after its snapshot was delivered")
	}
	found, err := w.dist.SnapshotDeliveries(ctx, 7*time.Hour)
	if err != nil || !slices.ContainsFunc(found, func(d sql.SnapshotDelivery) bool { return d.Publication == pub }) {
		t.Fatalf("deliveries: %+v %v", found, err)
	}
	if len(w.w.UnstartedSnapshots()) != 0 || w.w.Count(sim.ActStartSnapshot, pub) != 1 {
		t.Fatal("the start was not recorded")
	}
}

// TestPreflightCollationAndAOTTables: the pre-flight reads the server's and the AX database's
// collations, and the AX model's tables from SQLDICTIONARY (the ignore list's non-AOT tables are
// not among them); a database without SQLDICTIONARY makes that fact unknown, not empty.
func TestPreflightCollationAndAOTTables(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	db := w.srv.Database(sim.EndpointSource)
	p, err := w.src.Preflight(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if p.ServerCollation != "SQL_Latin1_General_CP1_CI_AS" || p.DatabaseCollation != "SQL_Latin1_General_CP1_CI_AS" {
		t.Fatalf("collations %q %q", p.ServerCollation, p.DatabaseCollation)
	}
	aot := map[string]bool{}
	for _, tb := range p.AOTTables {
		aot[tb.SQLName] = true
	}
	var ignored, model int
	for _, ti := range w.w.Tables() {
		switch {
		case ti.Ignored || ti.System:
			ignored++
			if aot[ti.Name] {
				t.Fatalf("%s is not an AOT table", ti.Name)
			}
		default:
			model++
			if !aot[ti.Name] {
				t.Fatalf("%s is missing from the AOT tables", ti.Name)
			}
		}
	}
	if ignored == 0 || len(p.AOTTables) != model {
		t.Fatalf("%d AOT tables, %d in the model, %d others", len(p.AOTTables), model, ignored)
	}
	w.w.SetPreflight(func(p *sim.Preflight) { p.DatabaseCollation, p.NoSQLDictionary = "Latin1_General_CI_AS", true })
	p, err = w.src.Preflight(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if p.DatabaseCollation != "Latin1_General_CI_AS" || p.AOTTables != nil || p.Unavailable["AOT tables"] == nil || !sql.IsMissingObject(p.Unavailable["AOT tables"]) {
		t.Fatalf("collation %q, AOT tables %d, unavailable %v", p.DatabaseCollation, len(p.AOTTables), p.Unavailable)
	}
	p, err = w.src.Preflight(ctx, "NoSuchDatabase")
	if err != nil || p.Unavailable["collation"] == nil {
		t.Fatalf("the collation of a database the server does not have: %v %v", p.Unavailable, err)
	}
}

// gone is an answer that shows every part of the setup gone (whether that is enough is the
// engine's rule; the test reads the answer).
func gone(l sql.SetupLeft) bool {
	return len(l.Distributors) == 0 && len(l.Published) == 0 && len(l.Publications) == 0
}
