package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// sortKey is a column the replication table can be sorted by.
type sortKey int

// Sort keys.
const (
	sortName sortKey = iota
	sortPub
	sortPending
	sortDelta
	sortRate
	sortETA
)

// replicationPane shows every table's replication lag. Only the visible rows are rendered, so
// 10,000 tables cost what 50 do; sorting and filtering work on an index and are redone only when
// a new picture arrives or the operator changes them.
type replicationPane struct {
	*env
	sort    sortKey
	desc    bool
	filter  string
	input   textinput.Model
	editing bool
	cur     list
	selName string

	// Derived rows: indices into the picture's tables, for (version, sort, desc, filter).
	rows     []int
	names    []string
	lower    []string
	rank     []int32
	built    *engine.ReplicationView
	builtKey string
}

func newReplicationPane(e *env) *replicationPane {
	in := newInput(e.s, "/ ", "table or publication")
	return &replicationPane{env: e, sort: sortPending, desc: true, input: in}
}

func (p *replicationPane) capturing() bool { return p.editing }

func (p *replicationPane) bindings() []key.Binding {
	k := p.s.keys
	if p.editing {
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		}
	}
	return []key.Binding{k.Up, k.Down, k.Filter, k.SortPending, k.SortName, k.SortDelta, k.SortRate, k.SortETA, k.SortPub, k.Refresh}
}

// derive recomputes the visible rows when the picture, the sort or the filter changed.
func (p *replicationPane) derive() {
	v := p.d.repl
	if v == nil {
		p.rows, p.built = nil, nil
		return
	}
	k := fmt.Sprintf("%d/%d/%v/%s", len(v.Tables), p.sort, p.desc, p.filter)
	if v == p.built && k == p.builtKey {
		return
	}
	p.index(v.Tables)
	p.built, p.builtKey = v, k
	p.rows = sortFilter(v.Tables, p.lower, p.rank, p.sort, p.desc, strings.ToLower(p.filter), p.rows[:0])
}

// index prepares the lower-case names (for the filter) and each table's rank by name (for
// ties), once per set of tables: a new picture of the same tables reuses them.
func (p *replicationPane) index(tables []engine.TableLag) {
	same := len(p.names) == len(tables)
	for i := 0; same && i < len(tables); i++ {
		same = p.names[i] == tables[i].Table
	}
	if same {
		return
	}
	p.names = make([]string, len(tables))
	p.lower = make([]string, len(tables))
	order := make([]int, len(tables))
	for i, t := range tables {
		p.names[i] = t.Table
		p.lower[i] = strings.ToLower(t.Table) + "\x00" + strings.ToLower(t.Publication)
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(p.lower[a], p.lower[b]) })
	p.rank = make([]int32, len(tables))
	for r, i := range order {
		p.rank[i] = int32(r)
	}
}

// sortFilter returns the indices of the tables matching filter (a substring of the lower-case
// name or publication), sorted by key; ties keep name order.
func sortFilter(tables []engine.TableLag, lower []string, rank []int32, by sortKey, desc bool, filter string, rows []int) []int {
	for i := range tables {
		if filter == "" || strings.Contains(lower[i], filter) {
			rows = append(rows, i)
		}
	}
	cmpf := func(a, b int) int {
		x, y := &tables[a], &tables[b]
		var c int
		switch by {
		case sortPub:
			c = cmp.Compare(x.Publication, y.Publication)
		case sortPending:
			c = cmp.Compare(x.Pending, y.Pending)
		case sortDelta:
			c = cmp.Compare(abs64(x.Delta), abs64(y.Delta))
		case sortRate:
			c = cmp.Compare(x.Rate, y.Rate)
		case sortETA:
			c = cmp.Compare(x.ETA, y.ETA)
		case sortName:
			c = cmp.Compare(rank[a], rank[b])
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(rank[a], rank[b])
		}
		return c
	}
	slices.SortFunc(rows, cmpf)
	return rows
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func (p *replicationPane) update(msg tea.Msg) tea.Cmd {
	if cmd, took, edited := editFilter(&p.input, &p.editing, &p.filter, msg); took {
		if edited {
			p.cur.cursor = 0
		}
		return cmd
	}
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := p.s.keys
	p.derive()
	if p.cur.move(k, km, 20) {
		p.cur.clamp(len(p.rows), 0)
		if p.cur.cursor < len(p.rows) {
			p.selName = p.d.repl.Tables[p.rows[p.cur.cursor]].Table
		}
		return nil
	}
	sortBy := func(s sortKey, defaultDesc bool) {
		if p.sort == s {
			p.desc = !p.desc
		} else {
			p.sort, p.desc = s, defaultDesc
		}
	}
	switch {
	case key.Matches(km, k.Filter):
		p.editing = true
		p.input.SetValue(p.filter)
		p.input.CursorEnd()
		return p.input.Focus()
	case key.Matches(km, k.Back):
		p.filter = ""
		p.input.SetValue("")
	case key.Matches(km, k.SortName):
		sortBy(sortName, false)
	case key.Matches(km, k.SortPub):
		sortBy(sortPub, false)
	case key.Matches(km, k.SortPending):
		sortBy(sortPending, true)
	case key.Matches(km, k.SortDelta):
		sortBy(sortDelta, true)
	case key.Matches(km, k.SortRate):
		sortBy(sortRate, true)
	case key.Matches(km, k.SortETA):
		sortBy(sortETA, true)
	}
	return nil
}

func (p *replicationPane) status() string {
	v := p.d.repl
	if v == nil {
		return "no replication monitor"
	}
	if !v.Retired.IsZero() {
		return "replication removed · last picture " + age(p.s.now(), v.At)
	}
	if v.Restored {
		// The previous engine's picture, until this one's first poll answers.
		return "restored · read " + age(p.s.now(), v.At)
	}
	return "read " + age(p.s.now(), v.At)
}

// repCol is one column of the table.
type repCol struct {
	title string
	w     int
	right bool
	key   sortKey
	// cell renders a table's value; stale reports whether its figure is old.
	cell func(t *engine.TableLag) string
	at   func(t *engine.TableLag) time.Time
}

// columns picks the columns that fit w cells, most important first, in display order.
func (p *replicationPane) columns(w int) []repCol {
	all := []repCol{
		{title: "TABLE", w: 20, key: sortName, cell: func(t *engine.TableLag) string { return tableName(t.Table) }},
		{title: "PUBLICATION", w: 20, key: sortPub, cell: pubCell},
		{title: "PENDING", w: 10, right: true, key: sortPending, cell: func(t *engine.TableLag) string {
			// An unpublished table says why here too: the publication column is the first to go.
			if !t.Published {
				return cmp.Or(whyUnpublished(t), "—")
			}
			return num(t.Pending)
		}, at: func(t *engine.TableLag) time.Time { return t.PendingAt }},
		{title: "SOURCE", w: 13, right: true, key: -1, cell: func(t *engine.TableLag) string { return num(t.Source) },
			at: func(t *engine.TableLag) time.Time { return t.SourceAt }},
		{title: "TARGET", w: 13, right: true, key: -1, cell: func(t *engine.TableLag) string {
			if !t.OnTarget {
				return "absent"
			}
			return num(t.Target)
		}, at: func(t *engine.TableLag) time.Time { return t.TargetAt }},
		{title: "DELTA", w: 10, right: true, key: sortDelta, cell: func(t *engine.TableLag) string { return signed(t.Delta) }},
		{title: "RATE", w: 9, right: true, key: sortRate, cell: func(t *engine.TableLag) string {
			if t.Rate == 0 {
				return "—"
			}
			return perSec(t.Rate)
		}},
		{title: "ETA", w: 7, right: true, key: sortETA, cell: func(t *engine.TableLag) string {
			if t.ETA <= 0 {
				return "—"
			}
			return dur(t.ETA)
		}},
		{title: "TREND", w: 8, key: -1, cell: func(t *engine.TableLag) string { return sparkline(t.Trend, 8) }},
	}
	// Drop columns, least important first, until they fit: the publication is on its own lines
	// above the table, the trend and rate sum up what the pending column shows; the source and
	// target rows explain the delta, so they stay longest (all nine fit 118 cells, a 120-column
	// terminal's pane; eight, without the publication, the half of a 200-column one).
	drop := []string{"PUBLICATION", "TREND", "RATE", "SOURCE", "TARGET"}
	fits := func(cols []repCol) bool {
		total := -1
		for _, c := range cols {
			total += c.w + 1
		}
		return total <= w
	}
	cols := all
	for _, d := range drop {
		if fits(cols) {
			break
		}
		cols = slices.DeleteFunc(slices.Clone(cols), func(c repCol) bool { return c.title == d })
	}
	// Give the spare width to the table name.
	total := -1
	for _, c := range cols {
		total += c.w + 1
	}
	if total < w {
		cols[0].w += w - total
	} else if total > w {
		cols[0].w = max(8, cols[0].w-(total-w))
	}
	return cols
}

func pubCell(t *engine.TableLag) string {
	if t.Publication != "" && !t.Ignored {
		return t.Publication
	}
	return "(" + cmp.Or(whyUnpublished(t), "not published") + ")"
}

// whyUnpublished is why no article covers a table, when the picture says ("" otherwise).
func whyUnpublished(t *engine.TableLag) string {
	switch {
	case t.Ignored:
		return "ignored"
	case t.Publication == "" && !t.HasPK:
		return "no PK yet"
	}
	return ""
}

func (p *replicationPane) view(w, h int, focused bool) []string {
	st := p.s.styles
	v := p.d.repl
	out := make([]string, 0, h)
	pad := func() {
		for len(out) < h {
			out = append(out, strings.Repeat(" ", w))
		}
	}
	if v == nil {
		out = append(out, fit(st.Muted.Render("No replication picture: the runbook has no connections, or the first poll has not answered yet."), w))
		pad()
		return out
	}
	now := p.s.now()
	p.derive()
	// Summary.
	sum := fmt.Sprintf("%s tables · %s pending", num(int64(len(v.Tables))), num(v.TotalPending))
	if v.PendingAt.IsZero() {
		sum = fmt.Sprintf("%s tables · pending unknown (the backlog was never read)", num(int64(len(v.Tables))))
	}
	if v.DrainRate != 0 {
		sum += " · draining " + perSec(v.DrainRate)
	}
	if v.ETA > 0 {
		sum += " · ETA " + dur(v.ETA)
	}
	sum += " · backlog read " + age(now, v.PendingAt)
	line := sum
	if !v.Retired.IsZero() {
		line = st.Badge.Render("■ REMOVED ") + sum
	} else if engine.FigureLags(now, v.At, v.PendingAt) {
		line = st.Warn.Render("▲ STALE ") + st.Stale.Render(sum)
	}
	out = append(out, fit(line, w))
	// Publications.
	maxPubs := min(len(v.Publications), max(1, (h-4)/4))
	// Each row's mark is the engine's verdict for the publication, with the thresholds `cutover
	// status` uses: the row and the glance never disagree.
	verdict := v.Judge(engine.DefaultThresholds(), now)
	for i := 0; i < maxPubs; i++ {
		out = append(out, fit(p.pubLine(&v.Publications[i], verdict.Publication(v.Publications[i].Name), now, w), w))
	}
	if len(v.Publications) > maxPubs {
		out = append(out, fit(st.Muted.Render(fmt.Sprintf("  … and %d more publications", len(v.Publications)-maxPubs)), w))
	}
	// Header.
	cols := p.columns(w)
	var hb strings.Builder
	for i, c := range cols {
		title := c.title
		style := st.ColumnHeader
		if c.key == p.sort {
			arrow := "▲"
			if p.desc {
				arrow = "▼"
			}
			title += arrow
			style = st.SortedColumn
		}
		cell := fit(title, c.w)
		if c.right {
			cell = fitRight(title, c.w)
		}
		if i > 0 {
			hb.WriteByte(' ')
		}
		hb.WriteString(style.Render(cell))
	}
	out = append(out, fit(hb.String(), w))
	// Rows.
	footer := 0
	if p.editing || p.filter != "" {
		footer = 1
	}
	rowsH := max(h-len(out)-footer, 0)
	p.follow()
	p.cur.clamp(len(p.rows), rowsH)
	var b strings.Builder
	for i := p.cur.offset; i < len(p.rows) && i < p.cur.offset+rowsH; i++ {
		t := &v.Tables[p.rows[i]]
		b.Reset()
		for j, c := range cols {
			if j > 0 {
				b.WriteByte(' ')
			}
			txt := c.cell(t)
			var cell string
			if c.right {
				cell = fitRight(txt, c.w)
			} else {
				cell = fit(txt, c.w)
			}
			if c.at != nil && v.Retired.IsZero() && engine.FigureLags(now, v.At, c.at(t)) {
				cell = st.Stale.Render(cell)
			} else if c.title == "DELTA" && t.Delta != 0 && t.Pending == 0 && t.Published && t.OnTarget {
				cell = st.Warn.Render(cell)
			}
			b.WriteString(cell)
		}
		row := fit(b.String(), w)
		if i == p.cur.cursor && focused {
			row = st.Selected.Render(ansiStripFit(row, w))
		}
		out = append(out, row)
	}
	if len(p.rows) == 0 {
		msg := "no tables"
		if p.filter != "" {
			msg = fmt.Sprintf("no table matches %q", p.filter)
		}
		out = append(out, fit(st.Muted.Render(msg), w))
	}
	for len(out) < h-footer {
		out = append(out, strings.Repeat(" ", w))
	}
	if footer == 1 {
		count := fmt.Sprintf(" %s of %s", num(int64(len(p.rows))), num(int64(len(v.Tables))))
		if p.editing {
			p.input.SetWidth(max(w-len(count)-4, 5))
			out = append(out, fit(p.input.View()+st.Muted.Render(count), w))
		} else {
			out = append(out, fit(st.Accent.Render("/ "+p.filter)+st.Muted.Render(count+" · esc clears"), w))
		}
	}
	return out[:h]
}

// follow keeps the cursor on the selected table when the rows change order.
func (p *replicationPane) follow() {
	if p.selName == "" || p.d.repl == nil {
		return
	}
	if p.cur.cursor < len(p.rows) && p.d.repl.Tables[p.rows[p.cur.cursor]].Table == p.selName {
		return
	}
	for i, r := range p.rows {
		if p.d.repl.Tables[r].Table == p.selName {
			p.cur.cursor = i
			return
		}
	}
}

// pubLine is a publication's one-line summary.
func (p *replicationPane) pubLine(pub *engine.PublicationLag, pv engine.PublicationVerdict, now time.Time, w int) string {
	st := p.s.styles
	var mark string
	switch pv.Level {
	case engine.LevelOK:
		mark = st.OK.Render("✓ ok")
	case engine.LevelWarning:
		mark = st.Warn.Render("▲ " + pv.Reason)
	case engine.LevelCritical:
		mark = st.Crit.Render("✖ " + pv.Reason)
	default:
		mark = st.Muted.Render("? unknown: " + pv.Reason)
	}
	eta := "—"
	if pub.ETA > 0 {
		eta = dur(pub.ETA)
	}
	line := fmt.Sprintf("%s %s %s %s %s %s ",
		fit(pub.Name, 24), fitRight(num(int64(pub.Tables))+" tbl", 8), fitRight(num(pub.Pending), 10), fitRight(perSec(pub.Rate), 8),
		fitRight("ETA "+eta, 9), fit("lat "+dur(pub.Latency), 9))
	if w >= 110 && !pub.LastDelivery.IsZero() {
		line += fit("delivered "+age(now, pub.LastDelivery), 20) + " "
	}
	return line + mark
}

func (p *replicationPane) restyle(dark bool) { restyleInput(&p.input, dark) }
