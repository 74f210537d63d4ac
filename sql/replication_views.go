package sql

import (
	"context"
	"slices"
	"strings"
	"time"
)

// The functions here put the distribution database's separate answers together as Replication
// Monitor shows them. They are plain functions over what the reads returned, so the meaning of
// SQL Server's rows is decided here, once, and tested without a server.

// ArticleBacklog is one published article with the commands still waiting for it, summed over its
// distribution agents.
type ArticleBacklog struct {
	Publication string
	Article     string
	Pending     int64
}

// Backlog puts every published article beside its pending commands. MSdistribution_status lists
// only articles that still have commands in the distribution database: every other published
// article is caught up (0 pending), not unpublished. Article names compare as SQL Server's default
// collation does (case-insensitively); a pending row for an article the article list lacks is kept.
func Backlog(articles []Article, pending []ArticlePending) []ArticleBacklog {
	// The merge a Distributor makes on every poll, on a list read for this call.
	p := &Distributor{now: time.Now}
	names := make([]ArticleBacklog, len(articles))
	for i, a := range articles {
		names[i] = ArticleBacklog{Publication: p.pub(a.Publication), Article: a.Name}
	}
	p.setArticles(names, articleMarker{})
	p.pending = pending
	return slices.Collect(p.merge())
}

// Backlog reads the published articles and their pending commands (query.Articles,
// query.PendingCommands) and puts them together (Backlog).
func (d *DB) Backlog(ctx context.Context) ([]ArticleBacklog, error) {
	articles, err := d.Articles(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := d.PendingCommands(ctx)
	if err != nil {
		return nil, err
	}
	return Backlog(articles, pending), nil
}

// AgentReport is one agent as Replication Monitor shows it: its cached state, its newest history
// message and, when that message carries an error id, the error's text from MSrepl_errors.
type AgentReport struct {
	AgentState
	// Message and MessageAt are the newest history row's comments and time (empty when the agent
	// has no history row).
	Message   string
	MessageAt time.Time
	// Error is the text of the error the newest message names ("" when it names none, or when
	// MSrepl_errors no longer holds it).
	Error string
}

// Agents joins each agent's cached state with its newest history message (matched by agent name)
// and that message's error text (matched by error id).
func Agents(states []AgentState, msgs []AgentMessage, errs []ReplError) []AgentReport {
	errText := make(map[int]string, len(errs))
	for _, e := range errs {
		errText[e.ID] = e.Text
	}
	byName := make(map[string]AgentMessage, len(msgs))
	for _, m := range msgs {
		byName[m.Agent] = m
	}
	out := make([]AgentReport, 0, len(states))
	for _, s := range states {
		r := AgentReport{AgentState: s}
		if m, ok := byName[s.Name]; ok {
			r.Message, r.MessageAt = m.Comments, m.Time
			if m.ErrorID != 0 {
				r.Error = errText[m.ErrorID]
			}
		}
		out = append(out, r)
	}
	return out
}

// PublicationSetup is one publication's setup as the distribution database shows it: its
// subscriptions' article counts by status and its snapshot and distribution agents' newest
// history rows.
type PublicationSetup struct {
	Name          string
	Subscriptions []SubscriptionArticles
	// Snapshot and Distribution are the agents' newest messages (zero when the agent has none).
	Snapshot     AgentMessage
	Distribution AgentMessage
}

// PublicationSetups groups the subscription states by publication, in the order the rows came,
// and attaches each publication's snapshot and distribution agents' newest messages. A publication
// without a subscription is listed with none.
func PublicationSetups(states []SubscriptionArticles, msgs []AgentMessage) []PublicationSetup {
	var out []PublicationSetup
	index := map[string]int{}
	for _, s := range states {
		i, ok := index[s.Publication]
		if !ok {
			i = len(out)
			index[s.Publication] = i
			out = append(out, PublicationSetup{Name: s.Publication})
		}
		if s.Known {
			out[i].Subscriptions = append(out[i].Subscriptions, s)
		}
	}
	for _, m := range msgs {
		i, ok := index[m.Publication]
		if !ok {
			continue
		}
		switch m.Type {
		case SnapshotAgent:
			out[i].Snapshot = m
		case DistributionAgent:
			out[i].Distribution = m
		}
	}
	return out
}

// Setups reads the subscription states and the agents' newest messages and groups them by
// publication (PublicationSetups).
func (d *DB) Setups(ctx context.Context) ([]PublicationSetup, error) {
	states, err := d.SubscriptionStates(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := d.AgentMessages(ctx)
	if err != nil {
		return nil, err
	}
	return PublicationSetups(states, msgs), nil
}

// TracerArrival reads a tracer token's history (sp_helptracertokenhistory, one row per
// subscriber): the token has arrived only when it reached every subscriber, and its latency is
// then the slowest subscriber's overall latency. No rows means not arrived.
func TracerArrival(hist []TracerLatency) (arrived bool, worst time.Duration) {
	if len(hist) == 0 {
		return false, 0
	}
	for _, h := range hist {
		if !h.Arrived() {
			return false, 0
		}
		worst = max(worst, *h.Overall)
	}
	return true, worst
}

// Names lists every publication still defined, in the published database or in the distribution
// database, once each (names compare case-insensitively).
func (l SetupLeft) Names() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{l.Published, l.Publications} {
		for _, n := range list {
			if k := strings.ToUpper(n); !seen[k] {
				seen[k] = true
				out = append(out, n)
			}
		}
	}
	return out
}
