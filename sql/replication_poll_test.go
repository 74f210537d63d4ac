package sql_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
	"cutover/sql/tdssim"

	mssql "github.com/microsoft/go-mssqldb"
)

// requestsTo is how many requests the server of e has answered on e's database.
func (w *world) requestsTo(e sim.Endpoint) int64 {
	srv := w.srv.Source()
	if e == sim.EndpointTarget {
		srv = w.srv.Target()
	}
	return srv.Stats().RequestsByDatabase[w.srv.Database(e)]
}

// TestDistributorPollIsOneRequest: a poll of the distributor is one request through the real
// driver, whether the backlog is due or not, and answers exactly what the separate documented
// reads answer (agentReports, Backlog); the article list is read once across ten polls.
func TestDistributorPollIsOneRequest(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 600}, sim.ServerConfig{})
	ctx := t.Context()
	d := sql.NewDistributor(w.dist, nil)
	if _, err := d.Poll(ctx, true); err != nil { // connect the pool, read the server's clock
		t.Fatal(err)
	}
	for i := range 10 {
		backlog := i%2 == 0
		before := w.requestsTo(sim.EndpointDistribution)
		got, err := d.Poll(ctx, backlog)
		if err != nil || got.BacklogErr != nil {
			t.Fatal(err, got.BacklogErr)
		}
		if n := w.requestsTo(sim.EndpointDistribution) - before; n != 1 {
			t.Fatalf("poll %d (backlog %v) sent %d requests to the distribution database, want 1", i, backlog, n)
		}
		agents, err := agentReports(ctx, w.dist)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Agents, agents) {
			t.Fatalf("poll %d: the batch's agents differ from the separate reads':\n%+v\n%+v", i, got.Agents, agents)
		}
		if !backlog {
			if got.Backlog != nil {
				t.Fatalf("poll %d: a backlog that was not asked for: %d rows", i, len(slices.Collect(got.Backlog)))
			}
			continue
		}
		want, err := w.dist.Backlog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b := slices.Collect(got.Backlog); len(want) < 600/2 || !slices.Equal(b, want) {
			t.Fatalf("poll %d: the batch's backlog (%d rows) differs from the separate reads' (%d rows)", i, len(b), len(want))
		}
		w.clk.Advance(15 * time.Second)
	}
	if n := d.ArticleReads(); n != 1 {
		t.Fatalf("the article list was read %d times in eleven polls, want once", n)
	}
}

// TestDistributorPollRereadsChangedArticles: when the publications change (the marker moves), the
// article list is read again in that poll; a poll whose backlog statement fails still reports the
// agents, with the backlog's error.
func TestDistributorPollRereadsChangedArticles(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	d := sql.NewDistributor(w.dist, nil)
	first, err := d.Poll(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	n := len(slices.Collect(first.Backlog))
	if err := w.w.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	got, err := d.Poll(ctx, true)
	if err != nil || got.BacklogErr != nil {
		t.Fatal(err, got.BacklogErr)
	}
	want, err := w.dist.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := slices.Collect(got.Backlog); len(b) <= n || !slices.Equal(b, want) || d.ArticleReads() != 2 {
		t.Fatalf("after a new publication: %d rows (before %d, separate reads %d), %d article reads", len(b), n, len(want), d.ArticleReads())
	}

	// The connection drops in the middle of the pending commands, on the retry too: the agents,
	// which came before them in the batch, are still reported, with the backlog's error.
	states, err := w.dist.AgentStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := w.dist.AgentMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := w.dist.ReplicationErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := len(states) + len(msgs) + len(errs) + 1 // and the article marker's row
	id := w.srv.Source().Faults().MustAdd(tdssim.Rule{SQL: regexp.MustCompile(`MSdistribution_status`), Action: tdssim.FaultDropAfterRows, Rows: rows + 5})
	got, err = d.Poll(ctx, true)
	w.srv.Source().Faults().Remove(id)
	if err != nil || len(got.Agents) != len(states) {
		t.Fatalf("a backlog cut off lost the agents: %v, %d agents", err, len(got.Agents))
	}
	if !sql.IsConnectionLost(got.BacklogErr) || got.Backlog != nil {
		t.Fatalf("the backlog's failure: %v, %d rows", got.BacklogErr, len(slices.Collect(got.Backlog)))
	}
	if w.dist.Retries() == 0 {
		t.Fatal("a dropped connection must be retried once")
	}
}

// TestDistributorPollTellsWhichStatementFailed: an error a statement of the batch raises before
// its columns (a login without SELECT on one table) is that statement's failure, never the one's
// before it, although go-mssqldb reports it while the previous result set is read. Without the
// replication errors the agents are still read (without error texts); without the article list
// the backlog fails with the agents kept whole.
func TestDistributorPollTellsWhichStatementFailed(t *testing.T) {
	for _, c := range []struct {
		denied, what string
	}{{"dbo.MSrepl_errors", ""}, {"dbo.MSarticles", "article marker"}} {
		t.Run(c.denied, func(t *testing.T) {
			w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
			ctx := t.Context()
			if err := w.w.FailDistributionAgent("AX_PUB_PkTable_1", ""); err != nil {
				t.Fatal(err)
			}
			d := sql.NewDistributor(w.dist, nil)
			whole, err := d.Poll(ctx, true)
			if err != nil || whole.BacklogErr != nil {
				t.Fatal(err, whole.BacklogErr)
			}
			// Collected now: the next poll reuses the memory the backlog is yielded from.
			wholeBacklog := slices.Collect(whole.Backlog)
			if !slices.ContainsFunc(whole.Agents, func(a sql.AgentReport) bool { return a.Error != "" }) {
				t.Fatalf("the failed agent has no error text: %+v", whole.Agents)
			}
			w.w.DenySelect(c.denied)
			got, err := d.Poll(ctx, true)
			if err != nil {
				t.Fatalf("the agents were not read: %v", err)
			}
			if c.what == "" {
				if b := slices.Collect(got.Backlog); got.BacklogErr != nil || !slices.Equal(b, wholeBacklog) {
					t.Fatalf("the backlog after the replication errors: %v, %d rows", got.BacklogErr, len(b))
				}
				for i, a := range got.Agents {
					whole.Agents[i].Error = ""
					if !reflect.DeepEqual(a, whole.Agents[i]) {
						t.Fatalf("agent %d read without the replication errors:\n%+v\nwant\n%+v", i, a, whole.Agents[i])
					}
				}
				return
			}
			if !reflect.DeepEqual(got.Agents, whole.Agents) {
				t.Fatalf("the agents lost something when a later statement failed:\n%+v\nwant\n%+v", got.Agents, whole.Agents)
			}
			var e mssql.Error
			if !errors.As(got.BacklogErr, &e) || e.Number != 229 || !strings.Contains(got.BacklogErr.Error(), c.what) {
				t.Fatalf("the backlog's error: %v, want 229 named %q", got.BacklogErr, c.what)
			}
		})
	}
}

// agentReports is the agents as separate reads give them: their states, their newest messages and
// the replication errors, joined (sql.Agents), the errors a courtesy as in a poll.
func agentReports(ctx context.Context, d *sql.DB) ([]sql.AgentReport, error) {
	states, err := d.AgentStates(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := d.AgentMessages(ctx)
	if err != nil {
		return nil, err
	}
	errs, _ := d.ReplicationErrors(ctx)
	return sql.Agents(states, msgs, errs), nil
}
