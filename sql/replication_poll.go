package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"

	"cutover/sql/query"
)

// ArticleRefresh is how long a Distributor trusts its article list while the change marker
// (query.ArticlesMarker) stays put: the marker catches a publication created or dropped and articles
// added or removed; this slow cadence catches what it cannot (an article replaced by one with a
// lower id, which the MSarticles page does not rule out).
const ArticleRefresh = 10 * time.Minute

// Distributor reads a distribution database for a monitor, one request per poll: the agents'
// cached states, their newest history rows and the replication errors, and, when the caller says
// the backlog is due, the article list's change marker and the pending commands per article — all
// in one batch (query.Batch), decoded result set by result set. The article list is near-static:
// it is read in the first backlog poll's batch and then only when the marker moves (a second
// request in that poll, as rarely as publications change), when a pending row names an article it
// does not know (in the next backlog poll's batch), or every ArticleRefresh. The server's UTC
// offset (query.ServerClock) rides in the batch when the pool's cached offset is stale.
//
// Polls are serialised. What a poll returns is the Distributor's own memory, reused by the next
// poll: the caller uses it before polling again.
type Distributor struct {
	db  *DB
	now func() time.Time

	mu sync.Mutex
	// The article list as read, deduplicated as Backlog does (names compare case-insensitively),
	// only the names the backlog needs (publication names shared), with the articles' places
	// sorted by name (find) and the list's change marker.
	base       []ArticleBacklog
	sorted     []int32
	pubs       map[string]string
	marker     articleMarker
	articlesAt time.Time
	stale      bool
	// articleReads counts the article list's reads (tests).
	articleReads int

	// Reused between polls.
	states  []AgentState
	msgs    []AgentMessage
	errs    []ReplError
	pending []ArticlePending
	// merge's answer: the pending commands of each article of the kept list (base, index for
	// index), then the articles the list lacks with theirs (extra finds them by name).
	sums      []int64
	extraRows []ArticleBacklog
	extra     map[[2]string]int
}

// articleMarker is query.ArticlesMarker's row.
type articleMarker struct {
	articles int64
	newest   stdsql.NullInt64
}

// NewDistributor polls d, the distribution database. now is the wall clock for the article list's
// cadence (time.Now when nil).
func NewDistributor(d *DB, now func() time.Time) *Distributor {
	if now == nil {
		now = time.Now
	}
	return &Distributor{db: d, now: now}
}

// DB is the distribution database the Distributor reads.
func (p *Distributor) DB() *DB { return p.db }

// ArticleReads is how many times the article list was read.
func (p *Distributor) ArticleReads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.articleReads
}

// DistributorPoll is one poll's answer. Its slices belong to the Distributor and hold until the
// next poll.
type DistributorPoll struct {
	// Agents are the agents as Replication Monitor shows them (Agents joins them).
	Agents []AgentReport
	// Backlog yields every published article with its pending commands (as Backlog merges them),
	// when the backlog was asked for and read (nil otherwise), from the Distributor's own memory:
	// the kept article list beside this poll's sums, never a copy of the list. BacklogErr is why
	// it was asked for and not read (the agents were: the batch went wrong after them).
	Backlog    iter.Seq[ArticleBacklog]
	BacklogErr error
}

// poll statement kinds, in the order they stand in the batch.
const (
	stClock = iota
	stStates
	stDistHistory
	stLogReaderHistory
	stSnapshotHistory
	stErrors
	stMarker
	stArticles
	stPending
	// stMark is query.BatchMark, put before every statement but the first (see Poll).
	stMark
)

var pollTexts = [...]string{
	stClock: query.ServerClock, stStates: query.AgentStates, stDistHistory: query.DistributionAgentHistory,
	stLogReaderHistory: query.LogReaderHistory, stSnapshotHistory: query.SnapshotHistory, stErrors: query.ReplicationErrors,
	stMarker: query.ArticlesMarker, stArticles: query.Articles, stPending: query.PendingCommands, stMark: query.BatchMark,
}

var pollNames = [...]string{
	stClock: "server clock", stStates: "agent states", stDistHistory: "distribution agent history",
	stLogReaderHistory: "log reader history", stSnapshotHistory: "snapshot agent history", stErrors: "replication errors",
	stMarker: "article marker", stArticles: "articles", stPending: "pending commands per article", stMark: "batch mark",
}

// Poll reads the distributor once: the agents always, the backlog when withBacklog. An error means
// the agents could not be read; a backlog that could not be read is DistributorPoll.BacklogErr.
// The replication errors are a courtesy: without them the agents are reported
// without error texts.
func (p *Distributor) Poll(ctx context.Context, withBacklog bool) (DistributorPoll, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	clock := p.db.offsetStale()
	wantArticles := withBacklog && (p.base == nil || p.stale || !p.now().Before(p.articlesAt.Add(ArticleRefresh)))
	kinds := pollKinds(clock, withBacklog, wantArticles)
	texts := textsOf(kinds)
	var (
		now      time.Time
		marker   articleMarker
		articles []ArticleBacklog
	)
	scans := make([]func(*stdsql.Rows) error, len(kinds))
	for i, k := range kinds {
		switch k {
		case stClock:
			scans[i] = func(r *stdsql.Rows) error { return r.Scan(&now) }
		case stStates:
			scans[i] = appendScan(&p.states, scanAgentState)
		case stDistHistory:
			scans[i] = appendScan(&p.msgs, scanDistributionHistory)
		case stLogReaderHistory:
			scans[i] = appendScan(&p.msgs, scanLogReaderHistory)
		case stSnapshotHistory:
			scans[i] = appendScan(&p.msgs, scanSnapshotHistory)
		case stErrors:
			scans[i] = appendScan(&p.errs, scanReplError)
		case stMarker:
			scans[i] = func(r *stdsql.Rows) error { return r.Scan(&marker.articles, &marker.newest) }
		case stArticles:
			scans[i] = p.scanArticles(&articles)
		case stMark:
			scans[i] = func(*stdsql.Rows) error { return nil }
		case stPending:
			dest, row := bindPending()
			scans[i] = func(r *stdsql.Rows) error {
				if err := r.Scan(dest...); err != nil {
					return err
				}
				p.pending = append(p.pending, row())
				return nil
			}
		}
	}
	text := query.Batch(texts...)
	var done int
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		p.states, p.msgs, p.errs, p.pending, articles = p.states[:0], p.msgs[:0], p.errs[:0], p.pending[:0], articles[:0]
		done, err = p.db.readBatch(ctx, p.db.cfg.QueryTimeout, text, scans)
		if err == nil || ctx.Err() != nil || !IsConnectionLost(err) {
			break
		}
		p.db.retries.Add(1)
	}
	// done is how many statements answered in full; the first that did not is kinds[done], or the
	// statement after it when that is a mark (its error surfaced in the mark's place).
	if err != nil && done+1 < len(kinds) && kinds[done] == stMark {
		done++
	}
	errsFailed := false
	if err != nil && ctx.Err() == nil && !IsConnectionLost(err) && kinds[done] == stErrors && done+1 < len(kinds) {
		// The replication errors are a courtesy (a login granted table by table may lack SELECT on
		// MSrepl_errors), and database/sql reads nothing of a batch after an error: what follows
		// them goes in a request of its own rather than the backlog being lost on every poll.
		errsFailed = true
		rest := done + 1
		var n int
		n, err = p.db.readBatch(ctx, p.db.cfg.QueryTimeout, query.Batch(texts[rest:]...), scans[rest:])
		done = rest + n
		if err != nil && done+1 < len(kinds) && kinds[done] == stMark {
			done++
		}
	}
	failed := func(k int) bool { return err != nil && done <= indexOf(kinds, k) }
	what := "distributor poll"
	if err != nil && done < len(kinds) {
		what = pollNames[kinds[done]]
	}
	if failed(stSnapshotHistory) {
		return DistributorPoll{}, p.db.wrap(what, err)
	}
	if clock && !failed(stClock) {
		p.db.setOffset(now)
	}
	off := p.db.serverOffset(ctx)
	for i := range p.states {
		p.states[i].LastSync, p.states[i].LastRefresh = toInstant(p.states[i].LastSync, off), toInstant(p.states[i].LastRefresh, off)
	}
	for i := range p.msgs {
		p.msgs[i].Time = toInstant(p.msgs[i].Time, off)
	}
	if errsFailed || failed(stErrors) {
		p.errs = p.errs[:0]
	}
	for i := range p.errs {
		p.errs[i].Time = toInstant(p.errs[i].Time, off)
	}
	out := DistributorPoll{Agents: Agents(p.states, p.msgs, p.errs)}
	if !withBacklog {
		return out, nil
	}
	if wantArticles && !failed(stArticles) {
		p.setArticles(articles, marker)
	}
	if err != nil {
		out.BacklogErr = p.db.wrap(what, err)
		return out, nil
	}
	if !wantArticles && marker != p.marker {
		// The publications changed: read the article list now (as rarely as that happens).
		list, err := p.db.Articles(ctx)
		if err != nil {
			out.BacklogErr = err
			return out, nil
		}
		names := make([]ArticleBacklog, len(list))
		for i, a := range list {
			names[i] = ArticleBacklog{Publication: p.pub(a.Publication), Article: a.Name}
		}
		p.setArticles(names, marker)
	}
	out.Backlog = p.merge()
	return out, nil
}

// pollKinds are the statements of a distributor poll, in order: the server's clock when its cache
// is stale, the agents, and, when the backlog is due, the article marker, the article list when it
// must be read, and the pending commands.
//
// A statement that fails before its column list (229 on one table) is reported by go-mssqldb while
// the previous result set is read, as if that one had failed. A constant statement (stMark) before
// each one takes that place, so that the first statement that did not answer in full is known
// exactly: the one after the mark where the error surfaced.
func pollKinds(clock, withBacklog, withArticles bool) []int {
	kinds := make([]int, 0, 10)
	if clock {
		kinds = append(kinds, stClock)
	}
	kinds = append(kinds, stStates, stDistHistory, stLogReaderHistory, stSnapshotHistory, stErrors)
	if withBacklog {
		kinds = append(kinds, stMarker)
		if withArticles {
			kinds = append(kinds, stArticles)
		}
		kinds = append(kinds, stPending)
	}
	marked := make([]int, 0, 2*len(kinds))
	for i, k := range kinds {
		if i > 0 {
			marked = append(marked, stMark)
		}
		marked = append(marked, k)
	}
	return marked
}

// PollBatch is the text of the one request a distributor poll sends (Distributor.Poll): clock
// with the server's clock, backlog with the backlog, articles with the article list. The floor
// benchmarks send it too.
func PollBatch(clock, backlog, articles bool) string {
	return query.Batch(textsOf(pollKinds(clock, backlog, articles))...)
}

// textsOf are the statements' texts.
func textsOf(kinds []int) []string {
	texts := make([]string, len(kinds))
	for i, k := range kinds {
		texts[i] = pollTexts[k]
	}
	return texts
}

func indexOf(kinds []int, k int) int {
	for i, x := range kinds {
		if x == k {
			return i
		}
	}
	return -1
}

// appendScan decodes a row with scan and appends it to *dst.
func appendScan[T any](dst *[]T, scan func(*stdsql.Rows) (T, error)) func(*stdsql.Rows) error {
	return func(r *stdsql.Rows) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		*dst = append(*dst, v)
		return nil
	}
}

// merge puts the kept article list beside this poll's pending rows, as Backlog does: names compare
// case-insensitively (find); a pending row for an article the list lacks is kept, and the list is
// read again in the next backlog poll. It sums into the Distributor's memory and yields the list
// with the sums, then the articles the list lacks.
func (p *Distributor) merge() iter.Seq[ArticleBacklog] {
	p.sums = append(p.sums[:0], make([]int64, len(p.base))...)
	p.extraRows = p.extraRows[:0]
	clear(p.extra)
	for _, a := range p.pending {
		if i := p.find(a.Publication, a.Article); i >= 0 {
			p.sums[i] += a.Pending
			continue
		}
		k := [2]string{strings.ToUpper(a.Publication), strings.ToUpper(a.Article)}
		if p.extra == nil {
			p.extra = map[[2]string]int{}
		}
		i, ok := p.extra[k]
		if !ok {
			i = len(p.extraRows)
			p.extra[k] = i
			p.extraRows = append(p.extraRows, ArticleBacklog{Publication: a.Publication, Article: a.Article})
		}
		p.extraRows[i].Pending += a.Pending
		p.stale = true
	}
	base, sums, extra := p.base, p.sums, p.extraRows
	return func(yield func(ArticleBacklog) bool) {
		for i, a := range base {
			a.Pending = sums[i]
			if !yield(a) {
				return
			}
		}
		for _, a := range extra {
			if !yield(a) {
				return
			}
		}
	}
}

// errMoreResultSets is a batch's answer with more result sets than it has statements.
var errMoreResultSets = errors.New("the batch answered more result sets than it has statements")

// readBatch runs a batch once under timeout and reads its result sets in order, one scan per
// statement. It returns how many statements answered in full; it neither retries nor wraps.
// database/sql closes the rows at the first error, so what follows a failed statement is not read.
func (d *DB) readBatch(ctx context.Context, timeout time.Duration, text string, scans []func(*stdsql.Rows) error, args ...any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := d.db.QueryContext(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for i, scan := range scans {
		if i > 0 && !rows.NextResultSet() {
			if err := rows.Err(); err != nil {
				return i, err
			}
			return i, fmt.Errorf("the batch answered %d result sets for %d statements", i, len(scans))
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				return i, err
			}
		}
		if err := rows.Err(); err != nil {
			return i, err
		}
	}
	if rows.NextResultSet() {
		return len(scans), errMoreResultSets
	}
	return len(scans), rows.Close()
}
