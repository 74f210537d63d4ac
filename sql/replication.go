package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"cutover/sql/query"
)

// PublicationType is MSpublications.publication_type.
type PublicationType int

// Publication types.
const (
	Transactional PublicationType = iota
	Snapshot
	Merge
)

// String names the type.
func (t PublicationType) String() string {
	switch t {
	case Transactional:
		return "transactional"
	case Snapshot:
		return "snapshot"
	case Merge:
		return "merge"
	}
	return "type " + strconv.Itoa(int(t))
}

// Publication is one publication on the distributor.
type Publication struct {
	ID          int
	PublisherDB string
	Name        string
	Type        PublicationType
}

// Article is one published table.
type Article struct {
	ID          int
	Publication string
	Name        string
	Source      string
	Destination string
}

// ArticlePending is one article's backlog for one distribution agent.
type ArticlePending struct {
	Publication  string
	Article      string
	Agent        string
	SubscriberDB string
	Pending      int64
	Delivered    int64
}

// AgentType is the replication agent kind in MSreplication_monitordata.
type AgentType int

// Agent types.
const (
	SnapshotAgent     AgentType = 1
	LogReaderAgent    AgentType = 2
	DistributionAgent AgentType = 3
	MergeAgent        AgentType = 4
	QueueReaderAgent  AgentType = 9
)

// String names the agent type.
func (t AgentType) String() string {
	switch t {
	case SnapshotAgent:
		return "snapshot"
	case LogReaderAgent:
		return "log reader"
	case DistributionAgent:
		return "distribution"
	case MergeAgent:
		return "merge"
	case QueueReaderAgent:
		return "queue reader"
	}
	return "agent"
}

// RunStatus is a replication agent's run status (runstatus / status).
type RunStatus int

// Run statuses.
const (
	RunStarted    RunStatus = 1
	RunSucceeded  RunStatus = 2
	RunInProgress RunStatus = 3
	RunIdle       RunStatus = 4
	RunRetrying   RunStatus = 5
	RunFailed     RunStatus = 6
)

// String names the status as Replication Monitor does.
func (s RunStatus) String() string {
	switch s {
	case RunStarted:
		return "started"
	case RunSucceeded:
		return "succeeded"
	case RunInProgress:
		return "in progress"
	case RunIdle:
		return "idle"
	case RunRetrying:
		return "retrying"
	case RunFailed:
		return "failed"
	}
	return "unknown"
}

// Bad reports a failing or retrying agent.
func (s RunStatus) Bad() bool { return s == RunFailed || s == RunRetrying }

// AgentState is the replication monitor's cached view of one agent.
type AgentState struct {
	Publication string
	Type        AgentType
	Name        string
	Status      RunStatus
	Running     bool
	Warning     int
	// CurLatency and AvgLatency are in seconds.
	CurLatency time.Duration
	AvgLatency time.Duration
	LastSync   time.Time
	// LastRefresh is when Replication Monitor's cache was rebuilt; CacheAge how old the cache was
	// when it was read, on the server's own clock (zero when unknown, never negative).
	LastRefresh time.Time
	CacheAge    time.Duration
}

// AgentMessage is an agent's newest history row.
type AgentMessage struct {
	Publication string
	Agent       string
	Type        AgentType
	PublisherDB string
	Status      RunStatus
	Time        time.Time
	Comments    string
	Delivered   int64
	Latency     time.Duration
	Rate        float64
	ErrorID     int
}

// ReplError is a row of MSrepl_errors.
type ReplError struct {
	ID   int
	Time time.Time
	Code string
	Text string
}

// SubscriptionType is MSdistribution_agents.subscription_type.
type SubscriptionType int

// Subscription types.
const (
	PushSubscription      SubscriptionType = 0
	PullSubscription      SubscriptionType = 1
	AnonymousSubscription SubscriptionType = 2
)

// Subscription is a subscription with what sp_replmonitorsubscriptionpendingcmds needs.
type Subscription struct {
	Publisher    string
	PublisherDB  string
	Publication  string
	Subscriber   string
	SubscriberDB string
	Agent        string
	Type         SubscriptionType
}

// SubscriptionPending is SQL Server's own pending count and estimate for a subscription.
type SubscriptionPending struct {
	Pending  int64
	Estimate time.Duration
}

// TracerLatency is one subscriber's latencies for a tracer token (distributor, subscriber and
// overall); a nil Overall means the token has not arrived.
type TracerLatency struct {
	Subscriber   string
	SubscriberDB string
	Distributor  *time.Duration
	SubscriberL  *time.Duration
	Overall      *time.Duration
}

// Arrived reports whether the token reached the subscriber.
func (t TracerLatency) Arrived() bool { return t.Overall != nil }

func seconds(n stdsql.NullInt64) time.Duration { return time.Duration(n.Int64) * time.Second }

func secondsPtr(n stdsql.NullInt64) *time.Duration {
	if !n.Valid {
		return nil
	}
	d := time.Duration(n.Int64) * time.Second
	return &d
}

// Publications lists the distributor's publications.
func (d *DB) Publications(ctx context.Context) ([]Publication, error) {
	return readRows(ctx, d, "publications", query.Publications, 16, func(r *stdsql.Rows) (Publication, error) {
		var p Publication
		err := r.Scan(&p.ID, &p.PublisherDB, &p.Name, &p.Type)
		return p, err
	})
}

// Articles lists published tables.
func (d *DB) Articles(ctx context.Context) ([]Article, error) {
	return readRows(ctx, d, "articles", query.Articles, 1024, scanArticle)
}

func scanArticle(r *stdsql.Rows) (Article, error) {
	var a Article
	var src, dst stdsql.NullString
	err := r.Scan(&a.ID, &a.Publication, &a.Name, &src, &dst)
	a.Source, a.Destination = src.String, dst.String
	return a, err
}

// PendingCommands is the backlog per article (MSdistribution_status): expensive, poll it slowly.
func (d *DB) PendingCommands(ctx context.Context) ([]ArticlePending, error) {
	return readBound(ctx, d, "pending commands per article", query.PendingCommands, 1024, bindPending)
}

// bindPending binds a pending-commands row's destinations once for many rows.
func bindPending() ([]any, func() ArticlePending) {
	var p ArticlePending
	return []any{&p.Publication, &p.Article, &p.Agent, &p.SubscriberDB, &p.Pending, &p.Delivered}, func() ArticlePending { return p }
}

// AgentStates is the replication monitor's cached view of every agent (cheap), with the cache's age.
func (d *DB) AgentStates(ctx context.Context) ([]AgentState, error) {
	out, err := readRows(ctx, d, "agent states", query.AgentStates, 16, scanAgentState)
	for i := range out {
		out[i].LastSync, out[i].LastRefresh = d.instant(ctx, out[i].LastSync), d.instant(ctx, out[i].LastRefresh)
	}
	return out, err
}

func scanAgentState(r *stdsql.Rows) (AgentState, error) {
	var a AgentState
	var pub stdsql.NullString
	var warn, cur, avg, age stdsql.NullInt64
	var sync, refresh stdsql.NullTime
	if err := r.Scan(&pub, &a.Type, &a.Name, &a.Status, &a.Running, &warn, &cur, &avg, &sync, &refresh, &age); err != nil {
		return a, err
	}
	a.Publication, a.Warning = pub.String, int(warn.Int64)
	a.CurLatency, a.AvgLatency, a.LastSync, a.LastRefresh = seconds(cur), seconds(avg), sync.Time, refresh.Time
	a.CacheAge = max(seconds(age), 0)
	return a, nil
}

// AgentMessages is the newest history row of every distribution, log reader and snapshot agent.
// When one of its three queries fails, the rows of those before it are returned with the error.
func (d *DB) AgentMessages(ctx context.Context) ([]AgentMessage, error) {
	dist, err := readRows(ctx, d, "distribution agent history", query.DistributionAgentHistory, 16, scanDistributionHistory)
	out := d.instants(ctx, dist)
	if err != nil {
		return out, err
	}
	logReader, err := readRows(ctx, d, "log reader history", query.LogReaderHistory, 4, scanLogReaderHistory)
	out = append(out, d.instants(ctx, logReader)...)
	if err != nil {
		return out, err
	}
	snapshot, err := readRows(ctx, d, "snapshot agent history", query.SnapshotHistory, 16, scanSnapshotHistory)
	return append(out, d.instants(ctx, snapshot)...), err
}

func scanDistributionHistory(r *stdsql.Rows) (AgentMessage, error) {
	m := AgentMessage{Type: DistributionAgent}
	var t stdsql.NullTime
	var comments stdsql.NullString
	var delivered, latency, errID stdsql.NullInt64
	var rate stdsql.NullFloat64
	if err := r.Scan(&m.Publication, &m.Agent, &m.Status, &t, &comments, &delivered, &latency, &rate, &errID); err != nil {
		return m, err
	}
	m.Time, m.Comments, m.Delivered = t.Time, comments.String, delivered.Int64
	m.Latency, m.Rate, m.ErrorID = time.Duration(latency.Int64)*time.Millisecond, rate.Float64, int(errID.Int64)
	return m, nil
}

func scanLogReaderHistory(r *stdsql.Rows) (AgentMessage, error) {
	m := AgentMessage{Type: LogReaderAgent}
	var t stdsql.NullTime
	var comments stdsql.NullString
	var latency, errID stdsql.NullInt64
	if err := r.Scan(&m.Agent, &m.PublisherDB, &m.Status, &t, &comments, &latency, &errID); err != nil {
		return m, err
	}
	m.Time, m.Comments = t.Time, comments.String
	m.Latency, m.ErrorID = time.Duration(latency.Int64)*time.Millisecond, int(errID.Int64)
	return m, nil
}

func scanSnapshotHistory(r *stdsql.Rows) (AgentMessage, error) {
	m := AgentMessage{Type: SnapshotAgent}
	var t stdsql.NullTime
	var comments stdsql.NullString
	var errID stdsql.NullInt64
	if err := r.Scan(&m.Publication, &m.Agent, &m.Status, &t, &comments, &errID); err != nil {
		return m, err
	}
	m.Time, m.Comments, m.ErrorID = t.Time, comments.String, int(errID.Int64)
	return m, nil
}

// SnapshotDelivery is a distribution agent's "Delivered snapshot" message.
type SnapshotDelivery struct {
	Publication string
	Agent       string
	Status      RunStatus
	Time        time.Time
	Comments    string
}

// SnapshotDeliveries lists the snapshot deliveries the distribution agents logged within the last
// within (by the server's clock, so the two clocks need not agree), newest first.
func (d *DB) SnapshotDeliveries(ctx context.Context, within time.Duration) ([]SnapshotDelivery, error) {
	secs := int64(math.Ceil(within.Seconds()))
	if secs < 0 || secs > math.MaxInt32 {
		return nil, fmt.Errorf("snapshot deliveries within %v: out of range (0 to %d seconds)", within, math.MaxInt32)
	}
	out, err := readRows(ctx, d, "snapshot deliveries", query.SnapshotDeliveries, 4, func(r *stdsql.Rows) (SnapshotDelivery, error) {
		var s SnapshotDelivery
		var t stdsql.NullTime
		var comments stdsql.NullString
		err := r.Scan(&s.Publication, &s.Agent, &s.Status, &t, &comments)
		s.Time, s.Comments = t.Time, comments.String
		return s, err
	}, int32(secs))
	for i := range out {
		out[i].Time = d.instant(ctx, out[i].Time)
	}
	return out, err
}

// instants turns the server-local times of agent messages into instants, in place.
func (d *DB) instants(ctx context.Context, msgs []AgentMessage) []AgentMessage {
	for i := range msgs {
		msgs[i].Time = d.instant(ctx, msgs[i].Time)
	}
	return msgs
}

// ReplicationErrors returns the newest replication errors.
func (d *DB) ReplicationErrors(ctx context.Context) ([]ReplError, error) {
	out, err := readRows(ctx, d, "replication errors", query.ReplicationErrors, 20, scanReplError)
	for i := range out {
		out[i].Time = d.instant(ctx, out[i].Time)
	}
	return out, err
}

func scanReplError(r *stdsql.Rows) (ReplError, error) {
	var e ReplError
	var t stdsql.NullTime
	var code, text stdsql.NullString
	err := r.Scan(&e.ID, &t, &code, &text)
	e.Time, e.Code, e.Text = t.Time, code.String, text.String
	return e, err
}

// NewestReplicatedTransaction is when the log reader last queued a transaction (zero: none).
func (d *DB) NewestReplicatedTransaction(ctx context.Context) (time.Time, error) {
	return d.scalarTime(ctx, "newest replicated transaction", query.NewestReplicatedTransaction)
}

// Subscriptions lists the subscriptions of the distribution agents.
func (d *DB) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return readRows(ctx, d, "subscriptions", query.Subscriptions, 16, func(r *stdsql.Rows) (Subscription, error) {
		var s Subscription
		err := r.Scan(&s.Publisher, &s.PublisherDB, &s.Publication, &s.Subscriber, &s.SubscriberDB, &s.Agent, &s.Type)
		return s, err
	})
}

// SubscriptionPending asks SQL Server for a subscription's pending commands and its estimate. The
// procedure takes push (0) and pull (1) subscriptions only.
func (d *DB) SubscriptionPending(ctx context.Context, s Subscription) (SubscriptionPending, error) {
	if s.Type != PushSubscription && s.Type != PullSubscription {
		return SubscriptionPending{}, fmt.Errorf("pending commands of %s: subscription type %d: the procedure takes push (0) and pull (1) subscriptions", s.Publication, s.Type)
	}
	return readValue(ctx, d, d.cfg.QueryTimeout, "pending commands of "+s.Publication, query.SubscriptionPendingProc, nil,
		func(r *stdsql.Rows, p *SubscriptionPending) error {
			var est stdsql.NullInt64
			err := r.Scan(&p.Pending, &est)
			p.Estimate = seconds(est)
			return err
		}, stdsql.Named("publisher", s.Publisher), stdsql.Named("publisher_db", s.PublisherDB),
		stdsql.Named("publication", s.Publication), stdsql.Named("subscriber", s.Subscriber),
		stdsql.Named("subscriber_db", s.SubscriberDB), stdsql.Named("subscription_type", int(s.Type)))
}

// PostTracerToken posts a tracer token on a transactional publication (run on the published
// database) and returns its id. It writes to the publication, so it is not retried.
func (d *DB) PostTracerToken(ctx context.Context, publication string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.QueryTimeout)
	defer cancel()
	var id int
	if err := d.db.QueryRowContext(ctx, query.PostTracerToken, publication).Scan(&id); err != nil {
		return 0, d.wrap("post tracer token on "+publication, err)
	}
	return id, nil
}

// TracerTokenHistory returns a tracer token's latencies per subscriber (run on the published
// database).
func (d *DB) TracerTokenHistory(ctx context.Context, publication string, id int) ([]TracerLatency, error) {
	return readRows(ctx, d, "tracer token history", query.TracerTokenHistoryProc, 1, func(r *stdsql.Rows) (TracerLatency, error) {
		var t TracerLatency
		var dist, sub, all stdsql.NullInt64
		var subscriber, subDB stdsql.NullString
		err := r.Scan(&dist, &subscriber, &subDB, &sub, &all)
		t.Subscriber, t.SubscriberDB = subscriber.String, subDB.String
		t.Distributor, t.SubscriberL, t.Overall = secondsPtr(dist), secondsPtr(sub), secondsPtr(all)
		return t, err
	}, stdsql.Named("publication", publication), stdsql.Named("tracer_id", id))
}

// SubscriptionStatus is MSsubscriptions.status (mssubscriptions-transact-sql.md).
type SubscriptionStatus int

// Subscription statuses. sp_addsubscription's page says what they mean: a subscribed subscription
// "needs to be initialized" (its snapshot has not been applied), an active one "is initialized and
// ready to accept changes".
const (
	SubscriptionInactive   SubscriptionStatus = 0
	SubscriptionSubscribed SubscriptionStatus = 1
	SubscriptionActive     SubscriptionStatus = 2
)

// String names the status as the page does.
func (s SubscriptionStatus) String() string {
	switch s {
	case SubscriptionInactive:
		return "inactive"
	case SubscriptionSubscribed:
		return "subscribed (needs to be initialized)"
	case SubscriptionActive:
		return "active"
	}
	return "status " + strconv.Itoa(int(s))
}

// SubscriptionArticles is how many articles of a publication one subscriber database has in one
// status. A publication without any subscription has one with Articles 0 and Known false.
type SubscriptionArticles struct {
	Publication  string
	SubscriberDB string
	Status       SubscriptionStatus
	// Known is false for the row of a publication that has no subscription (a NULL status).
	Known    bool
	Articles int
}

// SubscriptionStates counts every publication's subscribed articles by subscriber database and
// status (query.SubscriptionStates).
func (d *DB) SubscriptionStates(ctx context.Context) ([]SubscriptionArticles, error) {
	return readRows(ctx, d, "subscription states", query.SubscriptionStates, 16, func(r *stdsql.Rows) (SubscriptionArticles, error) {
		var s SubscriptionArticles
		var sub stdsql.NullString
		var status stdsql.NullInt64
		err := r.Scan(&s.Publication, &sub, &status, &s.Articles)
		s.SubscriberDB, s.Status, s.Known = sub.String, SubscriptionStatus(status.Int64), status.Valid
		return s, err
	})
}

// SetupLeft is what is left of a replication setup: «Cutover: Remove replication setup» "deletes all
// the publications that were created in the source database, the distribution database, and the
// replication snapshot" (migration-upgrade/data-upgrade-self-service.md).
type SetupLeft struct {
	// Distributors are the distribution databases the publisher's server still lists
	// (sys.databases.is_distributor = 1).
	Distributors []string
	// Published are the publications the published database still defines (syspublications).
	Published []string
	// Publications are the publications the distribution database still lists (MSpublications);
	// DistributionGone says why that database counts as gone ("" while it answers, or when there is
	// no distribution connection).
	Publications     []string
	DistributionGone string
	// Checked lists what was read, for the message: the reads that answered.
	Checked []string
}

// ReplicationLeft reads what is left of the replication setup: the distribution databases the
// publisher's server lists, the publications the published database defines, and the publications
// the distribution database lists (distribution may be nil when the runbook names no such
// connection). Only answers count: a database or table reported missing by its documented error —
// 4060 for a login to the dropped distribution database, 208 for a table dropped under a
// connection — is an answer ("none left"); any other failure (a timeout, a refused or dropped
// connection, a failed login) is returned as the error, never taken for "gone".
func ReplicationLeft(ctx context.Context, publisher, distribution *DB) (SetupLeft, error) {
	var l SetupLeft
	if publisher == nil {
		return l, errors.New("replication left: no connection to the published database")
	}
	dists, err := readRows(ctx, publisher, "distribution databases", query.Distributor, 1, func(r *stdsql.Rows) (string, error) {
		var n string
		err := r.Scan(&n)
		return n, err
	})
	if err != nil {
		return l, err
	}
	l.Distributors = dists
	l.Checked = append(l.Checked, "sys.databases lists "+listOrNone(dists)+" as distribution database")
	pubs, err := readRows(ctx, publisher, "publications of the published database", query.PublisherPublications, 4, func(r *stdsql.Rows) (string, error) {
		var n string
		err := r.Scan(&n)
		return n, err
	})
	switch {
	case Number(err) == errInvalidObject:
		l.Checked = append(l.Checked, publisher.cfg.Database+" has no syspublications table (208)")
	case err != nil:
		return l, err
	default:
		l.Published = pubs
		l.Checked = append(l.Checked, fmt.Sprintf("%s defines %s", publisher.cfg.Database, listOrNone(pubs)))
	}
	if distribution == nil {
		return l, nil
	}
	list, err := distribution.Publications(ctx)
	switch {
	case IsCannotOpenDatabase(err):
		l.DistributionGone = distribution.cfg.Database + " cannot be opened (4060)"
	case Number(err) == errInvalidObject:
		l.DistributionGone = distribution.cfg.Database + " has no MSpublications (208)"
	case err != nil:
		return l, err
	default:
		for _, p := range list {
			l.Publications = append(l.Publications, p.Name)
		}
		l.Checked = append(l.Checked, fmt.Sprintf("%s lists %s", distribution.cfg.Database, listOrNone(l.Publications)))
	}
	if l.DistributionGone != "" {
		l.Checked = append(l.Checked, l.DistributionGone)
	}
	return l, nil
}

// errInvalidObject is 208, "Invalid object name '%.*ls'." (mssqlserver-208-database-engine-error.md).
const errInvalidObject = 208

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
