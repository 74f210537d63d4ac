package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// validationPane shows the newest record-count validation: the counts per class, the tables that
// do not match first, the selected table's detail, and an exact recount of it on demand.
type validationPane struct {
	*env
	cur       list
	filter    string
	input     textinput.Model
	editing   bool
	recounts  map[string]bool
	rows      []int
	built     *engine.Validation
	builtWith string
}

// recountDoneMsg ends a recount.
type recountDoneMsg struct {
	table string
	check engine.TableCheck
	err   error
}

// recountOutcome is what the footer says about a finished recount, and whether it is bad news:
// the engine's refusal or failure as the engine gave it, a count error, or a table that still
// keeps the validation from passing. Only a table that now passes reads as good news.
func recountOutcome(m recountDoneMsg) (text string, bad bool) {
	if m.err != nil {
		text = m.err.Error()
		if !strings.HasPrefix(text, "recount ") {
			text = "recount " + m.table + ": " + text
		}
		return printable(text), true
	}
	c := m.check
	src, tgt := "source "+num(c.Source), "target "+num(c.Target)
	switch c.Class {
	case engine.ClassMissing:
		tgt = "not on the target"
	case engine.ClassExtra:
		src = "not on the source"
	}
	text = fmt.Sprintf("recount %s: %s, %s — %s", m.table, src, tgt, c.Class)
	switch {
	case c.Error != "":
		return printable(text + " (count error: " + c.Error + ")"), true
	case !c.Class.Passes():
		return printable(text + ": the table still keeps the validation from passing"), true
	}
	return printable(text), false
}

func newValidationPane(e *env) *validationPane {
	in := newInput(e.s, "/ ", "table")
	return &validationPane{env: e, input: in, recounts: map[string]bool{}}
}

func (p *validationPane) capturing() bool { return p.editing }

func (p *validationPane) bindings() []key.Binding {
	k := p.s.keys
	if p.editing {
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		}
	}
	return []key.Binding{k.Up, k.Down, k.Filter, k.Recount}
}

func (p *validationPane) derive() {
	v := p.d.val
	if v == nil {
		p.rows, p.built = nil, nil
		return
	}
	if v == p.built && p.builtWith == p.filter {
		return
	}
	p.built, p.builtWith = v, p.filter
	p.rows = p.rows[:0]
	f := strings.ToLower(p.filter)
	for i, t := range v.Tables {
		if f == "" || strings.Contains(strings.ToLower(t.Table), f) {
			p.rows = append(p.rows, i)
		}
	}
}

func (p *validationPane) selected() (engine.TableCheck, bool) {
	p.derive()
	if p.d.val == nil || p.cur.cursor >= len(p.rows) || p.cur.cursor < 0 {
		return engine.TableCheck{}, false
	}
	return p.d.val.Tables[p.rows[p.cur.cursor]], true
}

func (p *validationPane) update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(recountDoneMsg); ok {
		delete(p.recounts, m.table) // the footer says how it went (recountOutcome)
		return nil
	}
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
		return nil
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
	case key.Matches(km, k.Recount):
		t, ok := p.selected()
		if !ok || p.recounts[t.Table] {
			return nil
		}
		p.recounts[t.Table] = true
		e, ctx, actor, table := p.e, p.ctx, p.s.actor, t.Table
		return func() tea.Msg {
			tc, err := e.Recount(ctx, table, actor)
			return recountDoneMsg{table: table, check: tc, err: err}
		}
	}
	return nil
}

func (p *validationPane) status() string {
	v := p.d.val
	if v == nil {
		return "not run yet"
	}
	verdict := "PASSED"
	if !v.Passed {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s · validated %s", verdict, age(p.s.now(), v.At))
}

// classGlyph pairs each class with a glyph.
func classGlyph(c engine.CountClass) string {
	switch c {
	case engine.ClassMatch:
		return "✓"
	case engine.ClassIgnored:
		return "○"
	case engine.ClassExpected:
		return "≈"
	case engine.ClassDraining:
		return "…"
	}
	return "✗"
}

func (p *validationPane) classStyle(c engine.CountClass) func(...string) string {
	st := p.s.styles
	switch c {
	case engine.ClassMatch:
		return st.OK.Render
	case engine.ClassIgnored, engine.ClassExpected:
		return st.Muted.Render
	case engine.ClassDraining:
		return st.Warn.Render
	}
	return st.Crit.Render
}

func (p *validationPane) view(w, h int, focused bool) []string {
	st := p.s.styles
	v := p.d.val
	out := make([]string, 0, h)
	if v == nil {
		out = append(out, fit(st.Muted.Render("No validation yet: it runs with the validate.counts step (or `cutover validate`)."), w))
		for len(out) < h {
			out = append(out, strings.Repeat(" ", w))
		}
		return out
	}
	p.derive()
	verdict := st.OK.Render("✓ PASSED")
	if !v.Passed {
		verdict = st.Crit.Render(fmt.Sprintf("✗ FAILED: %d table(s)", len(v.Failing())))
	}
	out = append(out, fit(fmt.Sprintf("%s · %s tables: %s · %d recounted exactly", verdict, num(int64(len(v.Tables))), v.Summary(), v.Recounts), w))
	detailH := 0
	if h >= 12 {
		detailH = 4
	}
	footer := 0
	if p.editing || p.filter != "" {
		footer = 1
	}
	cols := validationColumns(w)
	header := fit("CLASS", cols.class) + " " + fit("TABLE", cols.name) + " " + fitRight("SOURCE", cols.num) + " " + fitRight("TARGET", cols.num) + " " + fitRight("DELTA", cols.num)
	if cols.pending > 0 {
		header += " " + fitRight("PENDING", cols.pending)
	}
	out = append(out, st.ColumnHeader.Render(fit(header, w)))
	rowsH := max(h-len(out)-detailH-footer, 0)
	p.cur.clamp(len(p.rows), rowsH)
	for i := p.cur.offset; i < len(p.rows) && i < p.cur.offset+rowsH; i++ {
		t := v.Tables[p.rows[i]]
		word := t.Class.String()
		if cols.class < 19 {
			word = shortClass(t.Class)
		}
		cls := p.classStyle(t.Class)(fit(classGlyph(t.Class)+" "+word, cols.class))
		exact := " "
		if t.Exact {
			exact = "="
		}
		row := cls + " " + fit(t.Table, cols.name) + " " + fitRight(num(t.Source)+exact, cols.num) + " " + fitRight(num(t.Target)+exact, cols.num) + " " + fitRight(signed(t.Delta), cols.num)
		if cols.pending > 0 {
			row += " " + fitRight(num(t.Pending), cols.pending)
		}
		if p.recounts[t.Table] {
			row = fit(row, w-14) + st.Accent.Render(" recounting…")
		}
		if i == p.cur.cursor && focused {
			row = st.Selected.Render(ansiStripFit(row, w))
		}
		out = append(out, fit(row, w))
	}
	for len(out) < h-detailH-footer {
		out = append(out, strings.Repeat(" ", w))
	}
	if detailH > 0 {
		out = append(out, st.Border.Render(strings.Repeat("┄", w)))
		out = append(out, p.detail(w, detailH-1)...)
	}
	if footer == 1 {
		count := fmt.Sprintf(" %d of %d", len(p.rows), len(v.Tables))
		if p.editing {
			p.input.SetWidth(max(w-len(count)-4, 5))
			out = append(out, fit(p.input.View()+st.Muted.Render(count), w))
		} else {
			out = append(out, fit(st.Accent.Render("/ "+p.filter)+st.Muted.Render(count+" · esc clears"), w))
		}
	}
	return out[:h]
}

// valCols are the validation table's column widths for a pane width.
type valCols struct{ class, name, num, pending int }

func validationColumns(w int) valCols {
	c := valCols{class: 19, num: 13, pending: 9}
	if w < 100 {
		c = valCols{class: 10, num: 12}
	}
	c.name = w - c.class - 3*(c.num+1) - 1
	if c.pending > 0 {
		c.name -= c.pending + 1
	}
	c.name = max(c.name, 8)
	return c
}

// shortClass is a class in one word.
func shortClass(c engine.CountClass) string {
	switch c {
	case engine.ClassMissing:
		return "missing"
	case engine.ClassExtra:
		return "extra"
	case engine.ClassExpected:
		return "expected"
	}
	return c.String()
}

// detail explains the selected table.
func (p *validationPane) detail(w, h int) []string {
	st := p.s.styles
	t, ok := p.selected()
	lines := make([]string, 0, h)
	if ok {
		how := "partition statistics"
		if t.Exact {
			how = "exact COUNT_BIG"
		}
		lines = append(lines, fit(st.Bold.Render(t.Table)+" — "+p.classStyle(t.Class)(classGlyph(t.Class)+" "+t.Class.String())+
			fmt.Sprintf(" · source %s · target %s · Δ %s · pending %s (%s)", num(t.Source), num(t.Target), signed(t.Delta), num(t.Pending), how), w))
		var why string
		switch {
		case t.Error != "":
			why = "recount failed: " + t.Error
		case t.Reason != "":
			why = "reason: " + t.Reason
		case t.Class == engine.ClassDraining:
			why = "replication still has commands for it; it should match once they are delivered"
		case t.Class == engine.ClassMissing:
			why = "the table is not on the sandbox: was it published (no PK? locked?) and its snapshot delivered?"
		case t.Class == engine.ClassMismatch:
			why = "counts differ with nothing pending: re-deliver it (the toolkit's catch-up publication), then recount"
		}
		for _, l := range wrapText(why, w) {
			lines = append(lines, fit(st.Muted.Render(l), w))
		}
		if !p.s.readOnly {
			lines = append(lines, fit(st.Accent.Render(p.s.keys.Recount.Help().Key+": recount this table exactly on both sides"), w))
		}
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return lines[:h]
}

func (p *validationPane) restyle(dark bool) { restyleInput(&p.input, dark) }
