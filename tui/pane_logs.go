package tui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// logsPane is the engine's log: a level filter, a follow mode that really stops when you scroll
// up (and resumes at the bottom), wrapping, search with next/previous match, and saving to a file.
type logsPane struct {
	*env
	level  engine.LogLevel
	follow bool
	wrap   bool
	top    int // first visible filtered line when not following

	query   string
	input   textinput.Model
	editing bool
	match   int // index into matches of the current one

	// Cached filtered lines for (ring total, level).
	idx        []int
	builtTotal int
	builtLevel engine.LogLevel
	builtStart int
	lastH      int
}

func newLogsPane(e *env, wrap, follow bool) *logsPane {
	in := newInput(e.s, "search: ", "")
	return &logsPane{env: e, level: engine.LevelInfo, follow: follow, wrap: wrap, input: in, builtTotal: -1}
}

func (p *logsPane) capturing() bool { return p.editing }

func (p *logsPane) bindings() []key.Binding {
	k := p.s.keys
	if p.editing {
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "search")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	}
	out := []key.Binding{k.Up, k.Down, k.Follow, k.Wrap, k.Level, k.Filter}
	if p.query != "" {
		out = append(out, k.NextMatch, k.PrevMatch)
	}
	return append(out, k.Save)
}

// lines are the ring's lines at or above the level, as ring indices.
func (p *logsPane) lines() []int {
	r := p.d.logs
	if r.total == p.builtTotal && p.level == p.builtLevel && r.start == p.builtStart {
		return p.idx
	}
	p.idx = p.idx[:0]
	for i := 0; i < r.len(); i++ {
		if l := r.at(i); l.Level >= p.level {
			p.idx = append(p.idx, i)
		}
	}
	p.builtTotal, p.builtLevel, p.builtStart = r.total, p.level, r.start
	return p.idx
}

// text is a log line as shown and searched.
func (p *logsPane) text(l engine.LogLine) string {
	step := ""
	if l.Step != "" {
		step = "[" + l.Step + "] "
	}
	return l.Time.In(p.s.local).Format("15:04:05") + " " + fit(l.Level.String(), 5) + " " + step + l.Msg
}

func (p *logsPane) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if p.editing {
			var cmd tea.Cmd
			p.input, cmd = p.input.Update(msg)
			return cmd
		}
		return nil
	}
	k := p.s.keys
	if p.editing {
		switch km.String() {
		case "enter":
			p.editing = false
			p.query = p.input.Value()
			p.input.Blur()
			p.match = -1
			p.jump(1)
			return nil
		case "esc":
			p.editing = false
			p.input.Blur()
			return nil
		}
		var cmd tea.Cmd
		p.input, cmd = p.input.Update(msg)
		return cmd
	}
	lines := p.lines()
	page := max(p.lastH-1, 1)
	if p.follow {
		p.top = max(len(lines)-p.lastH, 0)
	}
	switch {
	case key.Matches(km, k.Up):
		p.follow, p.top = false, max(p.top-1, 0)
	case key.Matches(km, k.PageUp):
		p.follow, p.top = false, max(p.top-page, 0)
	case key.Matches(km, k.Down):
		p.top++
	case key.Matches(km, k.PageDown):
		p.top += page
	case key.Matches(km, k.Top):
		p.follow, p.top = false, 0
	case key.Matches(km, k.Bottom):
		p.follow = true
	case key.Matches(km, k.Follow):
		p.follow = !p.follow
	case key.Matches(km, k.Wrap):
		p.wrap = !p.wrap
	case key.Matches(km, k.Level):
		p.level = (p.level + 1) % (engine.LevelError + 1)
		if p.level == engine.LevelDebug {
			p.level = engine.LevelInfo
		}
	case key.Matches(km, k.Filter):
		p.editing = true
		p.input.SetValue(p.query)
		p.input.CursorEnd()
		return p.input.Focus()
	case key.Matches(km, k.NextMatch) && p.query != "":
		p.jump(1)
	case key.Matches(km, k.PrevMatch) && p.query != "":
		p.jump(-1)
	case key.Matches(km, k.Back):
		p.query = ""
	case key.Matches(km, k.Save):
		return p.save()
	}
	// Scrolling down to the end resumes following.
	if !p.follow && p.top >= len(lines)-p.lastH {
		p.top = max(len(lines)-p.lastH, 0)
		if key.Matches(km, k.Down, k.PageDown) {
			p.follow = true
		}
	}
	return nil
}

// jump moves to the next (dir 1) or previous (-1) line containing the query.
func (p *logsPane) jump(dir int) {
	lines := p.lines()
	q := strings.ToLower(p.query)
	if q == "" || len(lines) == 0 {
		return
	}
	start := p.top
	if p.match >= 0 {
		start = p.match + dir
	} else if dir < 0 {
		start = len(lines) - 1
	}
	for n := 0; n < len(lines); n++ {
		i := ((start+dir*n)%len(lines) + len(lines)) % len(lines)
		if strings.Contains(strings.ToLower(p.text(p.d.logs.at(lines[i]))), q) {
			p.match, p.follow = i, false
			p.top = max(i-p.lastH/2, 0)
			return
		}
	}
}

// save writes the lines the pane lists (those at or above the level filter, oldest first, with
// full timestamps) to a new file in the state directory. Update only copies the lines; the file is
// written by the returned command, off the update loop, which reports back with an actionDoneMsg.
// A read-only session has no save binding (it must not create files on the jump box); the check
// here keeps it so should another route to save appear.
func (p *logsPane) save() tea.Cmd {
	if p.s.readOnly {
		return act("save log", func() error { return errors.New("this session is read-only") })
	}
	lines := p.lines()
	var b strings.Builder
	for _, i := range lines {
		b.WriteString(p.d.logs.at(i).String())
		b.WriteByte('\n')
	}
	text, n, level := b.String(), len(lines), p.level
	dir := p.e.StateDir()
	stamp := p.s.now().In(p.s.local).Format("20060102-150405")
	return func() tea.Msg {
		path, err := writeNewFile(dir, "cockpit-log-"+stamp, ".txt", []byte(text))
		if err != nil {
			return actionDoneMsg{what: "save log", err: err}
		}
		return actionDoneMsg{what: fmt.Sprintf("log saved to %s (%d lines at %s+)", path, n, level)}
	}
}

// writeNewFile writes data (0600) to dir/base+ext, or to dir/base-2+ext, -3, … when that exists:
// saving twice in a second never overwrites the first file.
func writeNewFile(dir, base, ext string, data []byte) (string, error) {
	for n := 1; n <= 100; n++ {
		name := base + ext
		if n > 1 {
			name = fmt.Sprintf("%s-%d%s", base, n, ext)
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create a file in %s: %w", dir, err)
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("write %s: %w", path, werr)
		}
		return path, nil
	}
	return "", fmt.Errorf("%s%s and 99 numbered variants already exist in %s", base, ext, dir)
}

func (p *logsPane) status() string {
	var parts []string
	if p.follow {
		parts = append(parts, "following")
	} else {
		parts = append(parts, "paused (G follows)")
	}
	parts = append(parts, p.level.String()+"+")
	if p.wrap {
		parts = append(parts, "wrap")
	}
	if p.d.logs.dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d missed (see cutover.log)", p.d.logs.dropped))
	}
	return strings.Join(parts, " · ")
}

func (p *logsPane) view(w, h int, focused bool) []string {
	st := p.s.styles
	footer := 0
	if p.editing || p.query != "" {
		footer = 1
	}
	bodyH := max(h-footer, 0)
	p.lastH = bodyH
	lines := p.lines()
	if p.follow {
		p.top = max(len(lines)-bodyH, 0)
	}
	p.top = max(0, min(p.top, max(len(lines)-bodyH, 0)))
	q := strings.ToLower(p.query)
	render := func(i int) []string {
		l := p.d.logs.at(lines[i])
		txt := p.text(l)
		var parts []string
		if p.wrap {
			parts = wrapText(txt, w)
		} else {
			parts = []string{txt}
		}
		for j, s := range parts {
			s = fit(s, w)
			if q != "" {
				s = highlight(s, q, st.Match.Render)
			}
			switch l.Level {
			case engine.LevelError:
				s = st.Crit.Render(s)
			case engine.LevelWarn:
				s = st.Warn.Render(s)
			case engine.LevelDebug:
				s = st.Muted.Render(s)
			}
			if i == p.match && j == 0 && focused {
				s = st.Selected.Render(ansiStripFit(s, w))
			}
			parts[j] = s
		}
		return parts
	}
	out := make([]string, 0, h)
	if p.wrap && p.follow {
		// Fill from the bottom so the newest line is always in view.
		var rev [][]string
		n := 0
		for i := len(lines) - 1; i >= 0 && n < bodyH; i-- {
			r := render(i)
			rev = append(rev, r)
			n += len(r)
		}
		for i := len(rev) - 1; i >= 0; i-- {
			out = append(out, rev[i]...)
		}
		if len(out) > bodyH {
			out = out[len(out)-bodyH:]
		}
	} else {
		for i := p.top; i < len(lines) && len(out) < bodyH; i++ {
			out = append(out, render(i)...)
		}
		if len(out) > bodyH {
			out = out[:bodyH]
		}
	}
	if len(lines) == 0 {
		out = append(out, fit(st.Muted.Render("no log lines at this level yet"), w))
	}
	for len(out) < bodyH {
		out = append(out, strings.Repeat(" ", w))
	}
	if footer == 1 {
		if p.editing {
			p.input.SetWidth(max(w-12, 5))
			out = append(out, fit(p.input.View(), w))
		} else {
			out = append(out, fit(st.Accent.Render("search: "+p.query)+st.Muted.Render(" · n/N next/previous · esc clears"), w))
		}
	}
	return out[:h]
}

// highlight marks each case-insensitive occurrence of q in a plain line.
func highlight(s, q string, mark func(...string) string) string {
	low := strings.ToLower(s)
	if len(low) != len(s) || !strings.Contains(low, q) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(low, q)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(mark(s[i : i+len(q)]))
		s, low = s[i+len(q):], low[i+len(q):]
	}
}

func (p *logsPane) restyle(dark bool) { restyleInput(&p.input, dark) }
