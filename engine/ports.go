package engine

import (
	"context"
	"time"
)

// Ports are the small interfaces the engine needs from the outside world. main.go plugs the SQL
// Server client (sql/), the LCS client (lcs/) and the service controller into them; tests plug
// fakes. The engine never imports those packages.

// ReplicationSource reads replication facts: row counts on both sides, the per-article backlog on
// the distributor and the replication agents.
type ReplicationSource interface {
	// SourceRows and TargetRows are approximate row counts per table (cheap).
	SourceRows(ctx context.Context) ([]TableRows, error)
	TargetRows(ctx context.Context) ([]TableRows, error)
	// Backlog is the undelivered commands per article (expensive: polled more slowly).
	Backlog(ctx context.Context) ([]ArticleBacklog, error)
	// Agents is every replication agent's state and newest message (cheap).
	Agents(ctx context.Context) ([]Agent, error)
}

// TableRows is one table's approximate row count.
type TableRows struct {
	Table string
	Rows  int64
	HasPK bool
}

// ArticleBacklog is one article's undelivered commands.
type ArticleBacklog struct {
	Publication string
	Article     string
	Pending     int64
}

// AgentKind is a replication agent's kind.
type AgentKind int

// Agent kinds.
const (
	AgentSnapshot AgentKind = iota + 1
	AgentLogReader
	AgentDistribution
)

// String names the kind.
func (k AgentKind) String() string {
	switch k {
	case AgentSnapshot:
		return "snapshot"
	case AgentLogReader:
		return "log reader"
	case AgentDistribution:
		return "distribution"
	}
	return "agent"
}

// AgentStatus is a replication agent's run status.
type AgentStatus int

// Agent statuses, as Replication Monitor names them.
const (
	AgentUnknown AgentStatus = iota
	AgentStarted
	AgentSucceeded
	AgentInProgress
	AgentIdle
	AgentRetrying
	AgentFailed
)

var agentStatusWords = [...]string{"unknown", "started", "succeeded", "in progress", "idle", "retrying", "failed"}

// String names the status.
func (s AgentStatus) String() string {
	if s >= 0 && int(s) < len(agentStatusWords) {
		return agentStatusWords[s]
	}
	return "unknown"
}

// Bad reports an agent failing or retrying.
func (s AgentStatus) Bad() bool { return s == AgentFailed || s == AgentRetrying }

// Agent is one replication agent as the monitor sees it.
type Agent struct {
	Publication string
	Name        string
	Kind        AgentKind
	Status      AgentStatus
	Running     bool
	// Latency is the agent's current latency.
	Latency time.Duration
	// LastSync is the last time it delivered or synchronized.
	LastSync time.Time
	// Message is its newest history comment, at MessageAt.
	Message   string
	MessageAt time.Time
	// Error is the text of its newest error, when it is in error.
	Error string
}
