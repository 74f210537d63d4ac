package engine

import (
	"iter"
	"sort"
	"time"
)

// tableState is what the monitor keeps of a table beside its figures (monitor.lags). The previous
// backlog reading a rate is measured from is the figures' Pending and PendingAt (havePrev says
// there is one).
type tableState struct {
	// key is the table's TableKey (the pictures' order).
	key   string
	trend []int64
	// pending is what the backlog fold summed for the table; seen is the fold (monitor.folds) that
	// last found it in the target's row counts or the backlog.
	pending    int64
	seen       int32
	havePrev   bool
	sawBacklog bool
}

// lookup finds a table's index by any spelling of its name (TableKey), without allocating; -1
// when the monitor does not know it.
func (m *monitor) lookup(name string) int {
	m.key = appendTableKey(m.key[:0], name)
	if i, ok := m.tables[string(m.key)]; ok {
		return int(i)
	}
	return -1
}

// table finds a table's index, adding the table when the monitor does not know it. The caller
// owns the figures (own).
func (m *monitor) table(name string) int {
	if i := m.lookup(name); i >= 0 {
		return i
	}
	key := string(m.key)
	i := len(m.lags)
	m.lags = append(m.lags, TableLag{Table: name, Ignored: m.ignore[key]})
	m.states = append(m.states, tableState{key: key})
	m.tables[key] = int32(i)
	m.sorted = false
	return i
}

// own makes the figures the monitor's own before it changes them, with room for extra tables: a
// published picture holds them after buildView.
func (m *monitor) own(extra int) {
	extra = max(extra, 0)
	if m.shared {
		lags := make([]TableLag, len(m.lags), len(m.lags)+extra)
		copy(lags, m.lags)
		m.lags, m.shared = lags, false
	} else if extra > 0 {
		m.lags = growTo(m.lags, extra)
	}
	if extra > 0 {
		m.states = growTo(m.states, extra)
	}
}

// growTo makes room for extra more elements, exactly (append's growth would leave up to a
// quarter of a large table list unused, and the old array behind).
func growTo[T any](s []T, extra int) []T {
	if cap(s)-len(s) >= extra {
		return s
	}
	grown := make([]T, len(s), len(s)+extra)
	copy(grown, s)
	return grown
}

// missing counts the rows whose table the monitor does not know (a table listed twice counts
// twice: it is room to make).
func (m *monitor) missing(rows []TableRows) int {
	n := 0
	for _, r := range rows {
		if m.lookup(r.Table) < 0 {
			n++
		}
	}
	return n
}

func (m *monitor) foldRows(rows []TableRows, now time.Time, source bool) {
	m.folds++
	if len(m.tables) == 0 {
		m.tables = make(map[string]int32, len(rows))
	}
	m.own(0)
	grown := false
	for k, r := range rows {
		i := m.lookup(r.Table)
		if i < 0 {
			if !grown {
				// Room for the tables to come at once, counted when the first is met (a poll that
				// finds only known tables looks each up once).
				m.own(m.missing(rows[k:]))
				grown = true
			}
			i = m.table(r.Table)
		}
		t, lag := &m.states[i], &m.lags[i]
		t.seen = int32(m.folds)
		if source {
			lag.Table, lag.Source, lag.SourceAt, lag.HasPK = r.Table, r.Rows, now, r.HasPK
		} else {
			lag.Target, lag.TargetAt, lag.OnTarget = r.Rows, now, true
		}
	}
	if !source {
		for i := range m.states {
			if m.states[i].seen != int32(m.folds) {
				lag := &m.lags[i]
				lag.Target, lag.TargetAt, lag.OnTarget = 0, now, false
			}
		}
	}
}

func (m *monitor) foldBacklog(backlog iter.Seq[ArticleBacklog], now time.Time) {
	m.folds++
	m.own(0)
	var total int64
	if backlog == nil {
		// A source that answered without a backlog or an error has no articles.
		backlog = func(func(ArticleBacklog) bool) {}
	}
	for b := range backlog {
		i := m.lookup(b.Article)
		if i < 0 {
			if b.Pending == 0 {
				// An article that is no table the row counts know (a view or function of
				// AX_PUB_OtherObjects) with nothing to deliver: not a row of the picture.
				continue
			}
			i = m.table(b.Article)
		}
		t := &m.states[i]
		if t.seen != int32(m.folds) {
			t.seen, t.pending = int32(m.folds), 0
		}
		t.pending += b.Pending
		// Only a table the backlog names is published: its publication is the backlog's.
		m.lags[i].Publication = b.Publication
		total += b.Pending
	}
	for i := range m.states {
		t, lag := &m.states[i], &m.lags[i]
		published := t.seen == int32(m.folds)
		pending := int64(0)
		if published {
			pending = t.pending
		}
		lag.Published = published
		if t.havePrev {
			// The previous reading is the figures' own, until now.
			lag.Rate = m.smooth(lag.Rate, float64(lag.Pending-pending)/now.Sub(lag.PendingAt).Seconds(), now.Sub(lag.PendingAt), t.sawBacklog)
			t.sawBacklog = true
		}
		t.havePrev = true
		lag.Pending, lag.PendingAt = pending, now
		lag.ETA = eta(pending, lag.Rate)
		t.trend = pushTrend(t.trend, pending, m.cfg.TableTrendPoints)
	}
	if !m.prevTotalAt.IsZero() && now.After(m.prevTotalAt) {
		m.rate = m.smooth(m.rate, float64(m.prevTotal-total)/now.Sub(m.prevTotalAt).Seconds(), now.Sub(m.prevTotalAt), m.haveRate)
		m.haveRate = true
	}
	m.prevTotal, m.prevTotalAt = total, now
	m.trend = pushTrend(m.trend, TrendPoint{At: now, Pending: total}, m.cfg.TrendPoints)
}

// share readies the figures for a picture, which will hold them: sorted by key, each with its
// delta and trend. Figures a picture holds already are unchanged since.
func (m *monitor) share() {
	if m.shared {
		return
	}
	if !m.sorted {
		sort.Sort(byKey{m})
		for i := range m.states {
			m.tables[m.states[i].key] = int32(i)
		}
		m.sorted = true
	}
	for i := range m.lags {
		lag, trend := &m.lags[i], m.states[i].trend
		lag.Delta = lag.Source - lag.Target
		lag.Trend = trend[:len(trend):len(trend)]
	}
	m.shared = true
}

// byKey sorts a monitor's tables by key, figures and states together.
type byKey struct{ m *monitor }

func (s byKey) Len() int           { return len(s.m.states) }
func (s byKey) Less(i, j int) bool { return s.m.states[i].key < s.m.states[j].key }
func (s byKey) Swap(i, j int) {
	s.m.states[i], s.m.states[j] = s.m.states[j], s.m.states[i]
	s.m.lags[i], s.m.lags[j] = s.m.lags[j], s.m.lags[i]
}
