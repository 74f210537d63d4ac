package sql

import (
	"slices"
	"testing"
	"time"
)

func TestBacklogCountsCaughtUpArticlesAsZero(t *testing.T) {
	articles := []Article{
		{Publication: "AX_pub", Name: "CUSTTABLE"},
		{Publication: "AX_pub", Name: "VENDTABLE"},
		{Publication: "AX_pub2", Name: "CUSTTABLE"},
	}
	pending := []ArticlePending{
		// Two distribution agents wait for the same article; names compare case-insensitively.
		{Publication: "AX_pub", Article: "custtable", Agent: "a1", Pending: 30},
		{Publication: "AX_PUB", Article: "CUSTTABLE", Agent: "a2", Pending: 12},
		// An article the article list does not name is kept, not dropped.
		{Publication: "AX_pub", Article: "LEDGERTRANS", Agent: "a1", Pending: 5},
	}
	got := Backlog(articles, pending)
	want := []ArticleBacklog{
		{Publication: "AX_pub", Article: "CUSTTABLE", Pending: 42},
		{Publication: "AX_pub", Article: "VENDTABLE", Pending: 0},
		{Publication: "AX_pub2", Article: "CUSTTABLE", Pending: 0},
		{Publication: "AX_pub", Article: "LEDGERTRANS", Pending: 5},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Backlog =\n%+v\nwant\n%+v", got, want)
	}
}

func TestAgentsJoinTheirNewestMessageAndItsError(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	states := []AgentState{
		{Publication: "AX_pub", Name: "dist-1", Type: DistributionAgent, Status: RunFailed},
		{Publication: "AX_pub", Name: "snap-1", Type: SnapshotAgent, Status: RunSucceeded},
		{Publication: "AX_pub", Name: "logreader", Type: LogReaderAgent, Status: RunIdle},
	}
	msgs := []AgentMessage{
		{Agent: "dist-1", Comments: "The process could not connect to Subscriber.", Time: at, ErrorID: 7},
		{Agent: "snap-1", Comments: "A snapshot of 3 article(s) was generated.", Time: at, ErrorID: 99},
	}
	errs := []ReplError{{ID: 7, Text: "Login timeout expired"}}
	got := Agents(states, msgs, errs)
	if len(got) != 3 {
		t.Fatalf("Agents returned %d reports, want 3", len(got))
	}
	if got[0].Message != msgs[0].Comments || !got[0].MessageAt.Equal(at) || got[0].Error != "Login timeout expired" {
		t.Errorf("dist-1 = %+v, want its message and error text", got[0])
	}
	if got[1].Message != msgs[1].Comments || got[1].Error != "" {
		t.Errorf("snap-1 = %+v: an error id MSrepl_errors no longer holds has no text", got[1])
	}
	if got[2].Message != "" || !got[2].MessageAt.IsZero() || got[2].Status != RunIdle {
		t.Errorf("logreader = %+v: no history row, no message", got[2])
	}
}

func TestPublicationSetupsGroupByPublication(t *testing.T) {
	states := []SubscriptionArticles{
		{Publication: "AX_pub", SubscriberDB: "AxDB", Status: SubscriptionActive, Known: true, Articles: 10},
		{Publication: "AX_idle", Known: false},
		{Publication: "AX_pub", SubscriberDB: "AxDB", Status: SubscriptionSubscribed, Known: true, Articles: 2},
	}
	msgs := []AgentMessage{
		{Publication: "AX_pub", Type: SnapshotAgent, Comments: "snapshot ready"},
		{Publication: "AX_pub", Type: DistributionAgent, Comments: "delivered"},
		{Publication: "AX_pub", Type: LogReaderAgent, Comments: "log reader is not a setup agent"},
		{Publication: "gone", Type: SnapshotAgent, Comments: "a publication without subscription rows"},
	}
	got := PublicationSetups(states, msgs)
	if len(got) != 2 || got[0].Name != "AX_pub" || got[1].Name != "AX_idle" {
		t.Fatalf("PublicationSetups = %+v, want AX_pub then AX_idle", got)
	}
	if len(got[0].Subscriptions) != 2 || got[0].Subscriptions[1].Status != SubscriptionSubscribed {
		t.Errorf("AX_pub subscriptions = %+v", got[0].Subscriptions)
	}
	if got[0].Snapshot.Comments != "snapshot ready" || got[0].Distribution.Comments != "delivered" {
		t.Errorf("AX_pub agents = %+v / %+v", got[0].Snapshot, got[0].Distribution)
	}
	if len(got[1].Subscriptions) != 0 || got[1].Snapshot.Comments != "" {
		t.Errorf("AX_idle = %+v: a publication without a subscription has none", got[1])
	}
}

func TestTracerArrivesOnlyAtEverySubscriber(t *testing.T) {
	d := func(s int) *time.Duration { v := time.Duration(s) * time.Second; return &v }
	for _, c := range []struct {
		name    string
		hist    []TracerLatency
		arrived bool
		worst   time.Duration
	}{
		{"no rows yet", nil, false, 0},
		{"one subscriber still waiting", []TracerLatency{{Overall: d(3)}, {Overall: nil}}, false, 0},
		{"every subscriber, slowest wins", []TracerLatency{{Overall: d(3)}, {Overall: d(11)}, {Overall: d(4)}}, true, 11 * time.Second},
	} {
		arrived, worst := TracerArrival(c.hist)
		if arrived != c.arrived || worst != c.worst {
			t.Errorf("%s: TracerArrival = %v, %v; want %v, %v", c.name, arrived, worst, c.arrived, c.worst)
		}
	}
}

func TestSetupLeftNamesEachPublicationOnce(t *testing.T) {
	l := SetupLeft{Published: []string{"AX_pub", "AX_other"}, Publications: []string{"ax_pub", "AX_dist_only"}}
	if got, want := l.Names(), []string{"AX_pub", "AX_other", "AX_dist_only"}; !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
}

func TestUpgradeState(t *testing.T) {
	start := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	done := ServicingStep{Path: PathFinalFlag, Status: 2, Modified: start.Add(time.Hour)}
	for _, c := range []struct {
		name string
		u    Upgrade
		want UpgradeState
	}{
		{"nothing yet", Upgrade{}, UpgradeNotStarted},
		{"a step running", Upgrade{Status: []UpgradeStep{{Start: start, Step: "PreSync", Status: "InProgress"}}}, UpgradeRunning},
		{"a step failed", Upgrade{Status: []UpgradeStep{{Start: start, Step: "DbSync", Status: "Failed"}}}, UpgradeFailed},
		{"the final flag with every step completed", Upgrade{Status: []UpgradeStep{{Start: start, End: start.Add(time.Hour), Step: "FinalDbSync", Status: "Completed"}},
			Servicing: []ServicingStep{done}}, UpgradeFinished},
		{"a failure outranks the final flag", Upgrade{Status: []UpgradeStep{{Start: start, Step: "FinalDbSync", Status: "Failed"}},
			Servicing: []ServicingStep{done}}, UpgradeFailed},
	} {
		if got := c.u.State(); got != c.want {
			t.Errorf("%s: State = %v, want %v", c.name, got, c.want)
		}
	}
}
