package tui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

func screenOf(a *App) string { return ansi.Strip(a.render()) }

func TestPaneNavigation(t *testing.T) {
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	steps := []struct {
		key  string
		want paneID
	}{{"tab", paneReplication}, {"tab", paneValidation}, {"shift+tab", paneReplication}, {"4", paneLogs}, {"tab", paneRunbook}, {"3", paneValidation}, {"1", paneRunbook}}
	for _, s := range steps {
		press(a, s.key)
		if a.focus != s.want {
			t.Fatalf("after %s: focus %s, want %s", s.key, a.focus, s.want)
		}
	}
	// The runbook selects the step that needs someone, moves over steps only, and esc goes back.
	rb := a.panes[paneRunbook].(*runbookPane)
	if st, _ := rb.selected(); st.ID != "aos-stop" {
		t.Fatalf("selected %s, want the step awaiting confirmation", st.ID)
	}
	press(a, "j")
	if st, _ := rb.selected(); st.ID != "replication-drain" {
		t.Fatalf("j moved to %s (phase headings are skipped)", st.ID)
	}
	press(a, "g")
	if st, _ := rb.selected(); st.ID != "preflight" {
		t.Fatalf("g moved to %s", st.ID)
	}
	press(a, "G")
	if st, _ := rb.selected(); st.ID != "reopen" {
		t.Fatalf("G moved to %s", st.ID)
	}
	press(a, "esc")
	if st, _ := rb.selected(); st.ID != "aos-stop" {
		t.Fatalf("esc went to %s, want the current step", st.ID)
	}
	if !strings.Contains(screenOf(a), "c: confirm (type \"STOP AOS\")") {
		t.Fatal("the detail must say how to confirm")
	}
}

func TestReplicationSortAndFilter(t *testing.T) {
	a := newTestApp(newFixtureEngine(600), 200, 60, Options{})
	press(a, "2")
	p := a.panes[paneReplication].(*replicationPane)
	p.derive()
	tables := a.d.repl.Tables
	pend := func(i int) int64 { return tables[p.rows[i]].Pending }
	if pend(0) < pend(1) || pend(1) < pend(len(p.rows)-1) {
		t.Fatal("the default sort is pending, largest first")
	}
	press(a, "P")
	p.derive()
	if pend(0) > pend(len(p.rows)-1) {
		t.Fatal("P again sorts pending the other way")
	}
	press(a, "N")
	p.derive()
	if !slices.IsSortedFunc(p.rows, func(x, y int) int {
		return strings.Compare(strings.ToLower(tables[x].Table), strings.ToLower(tables[y].Table))
	}) {
		t.Fatal("N sorts by name")
	}
	press(a, "D")
	p.derive()
	if abs64(tables[p.rows[0]].Delta) < abs64(tables[p.rows[len(p.rows)-1]].Delta) {
		t.Fatal("D sorts by the size of the delta, largest first")
	}
	// Filter: typing narrows at once; enter keeps it; esc clears.
	press(a, "/")
	if !p.capturing() {
		t.Fatal("/ opens the filter")
	}
	typeText(a, "inventtr")
	p.derive()
	if len(p.rows) == 0 || len(p.rows) >= len(tables) {
		t.Fatalf("filter kept %d of %d rows", len(p.rows), len(tables))
	}
	for _, r := range p.rows {
		if !strings.Contains(strings.ToLower(tables[r].Table), "inventtr") {
			t.Fatalf("filter kept %s", tables[r].Table)
		}
	}
	press(a, "q") // typed into the filter, not quit
	p.derive()
	if len(p.rows) != 0 || a.quitting {
		t.Fatal("while filtering, q is text")
	}
	press(a, "backspace", "enter")
	if p.capturing() || p.filter != "inventtr" {
		t.Fatalf("enter keeps the filter (%q)", p.filter)
	}
	out := screenOf(a)
	if !strings.Contains(out, "/ inventtr") || !strings.Contains(out, " of 600") {
		t.Fatal("the kept filter is shown with its count")
	}
	press(a, "esc")
	p.derive()
	if p.filter != "" || len(p.rows) != len(tables) {
		t.Fatal("esc clears the filter")
	}
}

func TestHelpListsOnlyValidKeysAndFilters(t *testing.T) {
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	press(a, "?")
	out := screenOf(a)
	for _, want := range []string{"Keys — Runbook", "confirm step", "no-go", "pause/resume run", "quit"} {
		if !strings.Contains(out, want) {
			t.Fatalf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sort by pending") {
		t.Fatal("help shows another pane's keys")
	}
	// The step actions the selected step does not take are listed apart, so ? teaches them all.
	if other := strings.Index(out, "On other steps"); other < 0 || strings.Index(out, "retry step") < other {
		t.Fatalf("retry belongs under the other steps' actions:\n%s", out)
	}
	typeText(a, "no-go")
	rows := strings.Join(a.overlay.(*helpOverlay).rows(60), "\n")
	if !strings.Contains(rows, "no-go") || strings.Contains(rows, "confirm step") {
		t.Fatalf("typing filters the help:\n%s", rows)
	}
	press(a, "esc", "esc")
	if a.overlay != nil {
		t.Fatal("esc clears the filter, then closes")
	}
	// A read-only session's help has no action at all.
	ro := newTestApp(newFixtureEngine(50), 120, 40, Options{ReadOnly: true})
	press(ro, "?")
	out = screenOf(ro)
	if strings.Contains(out, "confirm step") || strings.Contains(out, "pause") || !strings.Contains(out, "read-only") {
		t.Fatalf("read-only help:\n%s", out)
	}
}

func TestPalette(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	press(a, ":")
	typeText(a, "lo")
	if !strings.Contains(screenOf(a), "logs") {
		t.Fatal("the palette suggests commands")
	}
	press(a, "tab", "enter")
	if a.focus != paneLogs || a.overlay != nil {
		t.Fatalf("tab completed and enter ran: focus %s", a.focus)
	}
	// The commands that change the run open the key's dialog: nothing acts from the palette.
	press(a, ":")
	typeText(a, "retry toolkit")
	press(a, "tab", "enter")
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionRetry || o.step != "toolkit-nopk" || len(e.called()) != 0 {
		t.Fatalf("retry from the palette: %T, calls %q", a.overlay, e.called())
	}
	press(a, "tab", "enter") // [ Retry ]
	press(a, ":")
	typeText(a, "interval 30s 2m")
	press(a, "enter")
	press(a, ":")
	typeText(a, "skip aos-stop")
	press(a, "enter")
	if !strings.Contains(screenOf(a), "usage: skip STEP REASON") {
		t.Fatal("a skip without a reason is refused with the usage")
	}
	typeText(a, " not needed in this rehearsal")
	press(a, "enter")
	o, ok := a.overlay.(*actionOverlay)
	if !ok || o.action != actionSkip || o.reason.Value() != "not needed in this rehearsal" {
		t.Fatalf("skip from the palette opens its dialog with the reason: %T", a.overlay)
	}
	// aos-stop is guarded: its skip phrase is asked for.
	if out := screenOf(a); !strings.Contains(out, "SKIP aos-stop") || !strings.Contains(out, "Shut down all AX 2012 AOS instances") {
		t.Fatalf("the skip dialog:\n%s", out)
	}
	press(a, "tab") // to the phrase
	typeText(a, "SKIP aos-stop")
	press(a, "tab", "tab", "enter") // [ Cancel ], [ Skip ], enter
	want := []string{"retry toolkit-nopk", "interval 30s 2m0s", "skip aos-stop not needed in this rehearsal"}
	if got := e.called(); !slices.Equal(got, want) {
		t.Fatalf("engine calls %q, want %q", got, want)
	}
	if !strings.Contains(screenOf(a), "aos-stop skipped") {
		t.Fatal("the footer reports the action")
	}
	// Dialogs opened from the palette are open the moment enter is handled.
	press(a, ":")
	typeText(a, "confirm aos-stop")
	a.Update(keyMsg("enter"))
	if _, ok := a.overlay.(*confirmOverlay); !ok {
		t.Fatalf("the palette opens the confirmation in the same turn, got %T", a.overlay)
	}
	press(a, "esc")
	press(a, ":")
	typeText(a, "frobnicate")
	press(a, "enter")
	if !strings.Contains(screenOf(a), `unknown command "frobnicate"`) {
		t.Fatal("unknown commands are named")
	}
	// Read-only: the commands that change the run are refused and not suggested.
	ro := newTestApp(newFixtureEngine(50), 120, 40, Options{ReadOnly: true})
	press(ro, ":")
	typeText(ro, "re")
	if out := screenOf(ro); strings.Contains(out, "retry") || !strings.Contains(out, "refresh") {
		t.Fatal("read-only palette suggests only what a viewer may do")
	}
	press(ro, "backspace", "backspace")
	typeText(ro, "skip aos-stop because")
	press(ro, "enter")
	if !strings.Contains(screenOf(ro), "read-only") {
		t.Fatal("a read-only session is told why")
	}
}

func TestConfirmFlow(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	// Cancel: esc sends nothing.
	press(a, "c")
	if _, ok := a.overlay.(*confirmOverlay); !ok {
		t.Fatal("c opens the confirmation of the awaiting step")
	}
	out := screenOf(a)
	for _, want := range []string{"DESTRUCTIVE", "aos-stop", "PROD (Contoso Dynamics 365)", "AX-BATCH01", "users still connected: 59", "STOP AOS", "approvals: 0 of 1", "[ Cancel ]"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the confirmation lacks %q:\n%s", want, out)
		}
	}
	press(a, "esc")
	if a.overlay != nil || len(e.called()) != 0 {
		t.Fatal("esc cancels and sends nothing")
	}
	// Enter with Cancel chosen and a phrase typed does not send, and says why.
	press(a, "c")
	typeText(a, "STOP AOS")
	press(a, "enter")
	if a.overlay == nil || len(e.called()) != 0 || !strings.Contains(screenOf(a), "[ Cancel ] is chosen") {
		t.Fatal("Cancel is the default: enter must not confirm")
	}
	// The c that opened the dialog is text in it, not a confirmation.
	if v := a.overlay.(*confirmOverlay).input.Value(); v != "STOP AOS" {
		t.Fatalf("input %q", v)
	}
	// A wrong phrase reaches the engine (which journals the refusal) and is shown.
	for range "STOP AOS" {
		press(a, "backspace")
	}
	typeText(a, "stop aos")
	press(a, "tab", "enter")
	if a.overlay == nil || !strings.Contains(screenOf(a), "does not match") {
		t.Fatalf("a wrong phrase is refused in the dialog:\n%s", screenOf(a))
	}
	typeText(a, "STOP AOS")
	press(a, "enter")
	if a.overlay != nil {
		t.Fatal("the right phrase confirms and closes")
	}
	want := []string{`confirm aos-stop ana "stop aos"`, `confirm aos-stop ana "STOP AOS"`}
	if got := e.called(); !slices.Equal(got, want) {
		t.Fatalf("engine calls %q, want %q", got, want)
	}
	if !strings.Contains(screenOf(a), "aos-stop confirmed by ana") {
		t.Fatal("the footer says it was confirmed")
	}
	// Read-only: no dialog, nothing sent.
	ro := newTestApp(e, 120, 40, Options{ReadOnly: true})
	press(ro, "c")
	ro.Update(openConfirmMsg{step: "aos-stop"})
	if ro.overlay != nil || len(e.called()) != 2 {
		t.Fatal("a read-only session cannot open a confirmation")
	}
	// A viewer is read-only whatever the options say.
	viewer := newTestApp(e, 120, 40, Options{Actor: engine.Actor{Name: "vic", Role: engine.RoleViewer}})
	press(viewer, "c")
	if viewer.overlay != nil {
		t.Fatal("a viewer cannot open a confirmation")
	}
}

func TestReasonPrompts(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	press(a, "n") // no-go for the awaiting aos-stop
	press(a, "tab", "tab", "enter")
	if a.overlay == nil || !strings.Contains(screenOf(a), "a reason is required") {
		t.Fatal("a no-go needs a reason")
	}
	typeText(a, "users still connected")
	press(a, "enter")
	if a.overlay == nil || len(e.called()) != 0 || !strings.Contains(screenOf(a), "tab to [ No-go ], then enter") {
		t.Fatal("enter in the reason does not send")
	}
	press(a, "tab", "tab", "enter")
	// Mark the manual step done with a note: its normal end, no phrase.
	press(a, "k")
	press(a, "d")
	if strings.Contains(screenOf(a), "type the phrase") {
		t.Fatal("completing a manual step asks for no phrase")
	}
	typeText(a, "AIF ports off")
	// The first tab lands on [ Cancel ]: enter there keeps the note and says where the button is.
	press(a, "tab", "enter")
	if a.overlay == nil || len(e.called()) != 1 || !strings.Contains(screenOf(a), "[ Cancel ] is chosen: tab to [ Mark done ]") {
		t.Fatalf("enter on [ Cancel ] with a note typed threw the note away:\n%s", screenOf(a))
	}
	press(a, "tab", "enter")
	want := []string{"decline aos-stop users still connected", "done stop-integrations AIF ports off"}
	if got := e.called(); !slices.Equal(got, want) {
		t.Fatalf("engine calls %q, want %q", got, want)
	}
}

func TestKeyOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("theme: light\nkeys:\n  confirm: C\n  next_pane: [ctrl+n, tab]\n"), 0o600)
	cfg, err := LoadConfig(path, false)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{Config: cfg})
	if a.s.styles.Dark {
		t.Fatal("theme: light is honoured")
	}
	press(a, "c")
	if a.overlay != nil {
		t.Fatal("c no longer confirms")
	}
	press(a, "C")
	if _, ok := a.overlay.(*confirmOverlay); !ok {
		t.Fatal("C confirms")
	}
	press(a, "esc", "?")
	if out := screenOf(a); !strings.Contains(out, "C            confirm step") || !strings.Contains(out, "ctrl+n/tab") {
		t.Fatalf("help shows the new keys:\n%s", out)
	}
	// Bindings left out of the file keep their defaults.
	press(a, "esc", "4")
	if a.focus != paneLogs {
		t.Fatal("4 still goes to the logs")
	}
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("theme: sepia\nkeys:\n  confrim: C\n  skip: []\ncolour: true\n"), 0o600)
	_, err := LoadConfig(path, false)
	if err == nil {
		t.Fatal("a bad config must be refused")
	}
	for _, want := range []string{
		path + `:1:8: theme: expected auto, dark or light, found "sepia"`,
		path + `:3:3: keys: unknown key binding "confrim" (did you mean "confirm"?)`,
		path + `:4:3: keys: key binding "skip": give at least one key`,
		path + `:5:1: unknown setting "colour"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "absent.yaml"), true); err != nil {
		t.Fatalf("an absent default config is no error: %v", err)
	}
}

func TestLogsFollowWrapLevelSearch(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{Config: Config{LogFollow: true}})
	press(a, "4")
	p := a.panes[paneLogs].(*logsPane)
	if !strings.Contains(screenOf(a), "backlog 3000 commands") {
		t.Fatal("following shows the newest line")
	}
	press(a, "k")
	if p.follow {
		t.Fatal("scrolling up stops following")
	}
	// New lines arrive: a paused view does not move.
	before := p.top
	a.Update(eventMsg{engine.LogBatch{Lines: []engine.LogLine{{Seq: 1000, Time: fixedNow, Level: engine.LevelInfo, Msg: "a new line"}}}})
	a.render()
	if p.top != before || strings.Contains(screenOf(a), "a new line") {
		t.Fatal("a paused log must stay where the operator is reading")
	}
	press(a, "G")
	if !p.follow || !strings.Contains(screenOf(a), "a new line") {
		t.Fatal("G follows again")
	}
	press(a, "v")
	if out := screenOf(a); strings.Contains(out, "a new line") || !strings.Contains(out, "target is failing") {
		t.Fatal("v raises the level: warnings and errors only")
	}
	press(a, "v", "v")
	if p.level != engine.LevelInfo {
		t.Fatalf("the level cycles back to INFO, got %s", p.level)
	}
	press(a, "w")
	if !p.wrap {
		t.Fatal("w wraps")
	}
	press(a, "/")
	typeText(a, "STOP AOS")
	press(a, "enter")
	if p.follow || p.match < 0 || !strings.Contains(screenOf(a), `needs confirmation: type "STOP AOS"`) {
		t.Fatal("a search jumps to the match")
	}
	first := p.match
	press(a, "n")
	if p.match != first {
		t.Fatal("a single match stays the match")
	}
}

func TestQuitAsksWhileStepsRun(t *testing.T) {
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{OwnsEngine: true})
	press(a, "q")
	if _, ok := a.overlay.(*quitOverlay); !ok || a.quitting {
		t.Fatal("q asks while a step runs")
	}
	if out := screenOf(a); !strings.Contains(out, "Running now: stop-integrations") || !strings.Contains(out, "aos-stop") {
		t.Fatalf("the question names what is in flight:\n%s", out)
	}
	press(a, "enter")
	if a.overlay != nil || a.quitting {
		t.Fatal("Stay is the default")
	}
	press(a, "q", "tab", "enter")
	if !a.draining || a.quitting {
		t.Fatal("drain and quit waits for the running steps")
	}
	// An SSH session does not own the engine: it just leaves.
	s := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	_, cmd := s.Update(keyMsg("q"))
	if cmd == nil || !s.quitting {
		t.Fatal("a session that does not own the engine quits at once")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("quit")
	}
}

func TestResizeAtAnyMoment(t *testing.T) {
	a := newTestApp(newFixtureEngine(300), 120, 40, Options{})
	press(a, "c")
	for _, sz := range [][2]int{{80, 24}, {200, 60}, {161, 30}, {159, 50}, {20, 8}, {300, 100}, {100, 12}} {
		a.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for _, k := range []string{"esc", "2", "j", "3", "4", "1"} {
			press(a, k)
			checkFrame(t, a.render(), sz[0], sz[1])
		}
	}
	a.Update(tea.WindowSizeMsg{Width: 10, Height: 3})
	if !strings.Contains(a.render(), "too small") {
		t.Fatal("a tiny terminal is told so")
	}
}

func TestAStepHeldByAnotherOperator(t *testing.T) {
	e := newFixtureEngine(50)
	ben := engine.Actor{Name: "ben", Origin: "ssh 10.0.0.7", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	i := slices.IndexFunc(e.snap.Steps, func(s engine.StepView) bool { return s.ID == "aos-stop" })
	e.snap.Steps[i].Confirmation.HeldBy = &engine.HoldView{Actor: ben, Since: fixedNow, Until: time.Now().Add(time.Minute)}
	a := newTestApp(e, 120, 40, Options{})
	if !strings.Contains(screenOf(a), "ben (ssh 10.0.0.7, SHA256:ben) is confirming it now") {
		t.Fatalf("the detail names who holds the step:\n%s", screenOf(a))
	}
	press(a, "c")
	if a.overlay != nil || !strings.Contains(screenOf(a), "ben is confirming aos-stop") {
		t.Fatal("the dialog does not open while another operator holds the step")
	}
	// Once the hold lapses, it can be taken.
	e.snap.Steps[i].Confirmation.HeldBy.Until = time.Now().Add(-time.Second)
	a.d.setSnapshot(e.snap)
	press(a, "c")
	if _, ok := a.overlay.(*confirmOverlay); !ok || a.held != "aos-stop" {
		t.Fatal("a lapsed hold does not block; opening the dialog takes the hold")
	}
	press(a, "esc")
	if a.held != "" {
		t.Fatal("closing the dialog releases the hold")
	}
}

func TestWhoIsWatching(t *testing.T) {
	ben := engine.Actor{Name: "ben", Origin: "ssh 10.0.0.7", Fingerprint: "SHA256:ben", Role: engine.RoleViewer}
	me := engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	watchers := func() []Presence {
		return []Presence{{Actor: me, Since: fixedNow}, {Actor: ben, Since: fixedNow, Idle: 12 * time.Minute}}
	}
	a := newTestApp(newFixtureEngine(50), 200, 60, Options{Actor: me, Watchers: watchers})
	out := screenOf(a)
	if !strings.Contains(out, "you: ana (operator)") || !strings.Contains(out, "watching: ana(o) ben(v idle 12m)") {
		t.Fatalf("the header shows who you are and who watches:\n%s", out)
	}
	press(a, ":")
	typeText(a, "who")
	press(a, "enter")
	out = screenOf(a)
	for _, want := range []string{"Watching the run", "ana (you)", "ssh 10.0.0.7", "key SHA256:ben", "12m"} {
		if !strings.Contains(out, want) {
			t.Fatalf("who lacks %q:\n%s", want, out)
		}
	}
	press(a, "x")
	if a.overlay != nil {
		t.Fatal("any key closes it")
	}
}

// TestBaselineDrivesTheHeader: with a rehearsal baseline the finish forecast uses the
// rehearsal's durations instead of planned:, and the header says how late the run is.
func TestBaselineDrivesTheHeader(t *testing.T) {
	fe := newFixtureEngine(50)
	forecast := func() time.Time {
		a := newTestApp(fe, 200, 50, Options{})
		f, ok := a.d.forecast(fixedNow)
		if !ok {
			t.Fatal("no forecast")
		}
		return f
	}
	planned := forecast()
	for i := range fe.snap.Steps {
		if !fe.snap.Steps[i].State.Done() {
			fe.snap.Steps[i].Baseline = fe.snap.Steps[i].Planned + time.Hour
		}
	}
	fe.snap.Run.Baseline = &engine.BaselineView{Path: "/r/journal.jsonl", Total: 6 * time.Hour, Lateness: 50 * time.Minute, Against: "hold-batch", LatenessKnown: true}
	withBaseline := forecast()
	if !withBaseline.After(planned) {
		t.Fatalf("a slower rehearsal must move the forecast: planned %v, with baseline %v", planned, withBaseline)
	}
	a := newTestApp(fe, 200, 50, Options{})
	head := strings.Join(a.header(200), "\n")
	if !strings.Contains(head, "50m behind rehearsal (at hold-batch)") {
		t.Fatalf("the header must show the lateness:\n%s", head)
	}
	fe.snap.Run.Baseline.Lateness = -20 * time.Minute
	a = newTestApp(fe, 200, 50, Options{})
	if head := strings.Join(a.header(200), "\n"); !strings.Contains(head, "20m ahead of rehearsal") {
		t.Fatalf("the header must show a run ahead:\n%s", head)
	}
}

// TestStaleIdleNoticesAreIgnored: the idle watch decides in its own goroutine; a warning or a
// close that arrives after a key was pressed is dropped, a current one is not.
func TestStaleIdleNoticesAreIgnored(t *testing.T) {
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	stale, current := func() bool { return false }, func() bool { return true }
	a.Update(idleWarningMsg{idle: 14 * time.Minute, closesIn: time.Minute, current: stale})
	if a.idleNotice != "" {
		t.Fatalf("a stale warning was shown: %q", a.idleNotice)
	}
	if _, cmd := a.Update(idleCloseMsg{current: stale}); cmd != nil || a.quitting {
		t.Fatal("a stale close ended the session")
	}
	a.Update(idleWarningMsg{idle: 14 * time.Minute, closesIn: time.Minute, current: current})
	if !strings.Contains(a.idleNotice, "closes in 1m") {
		t.Fatalf("warning: %q", a.idleNotice)
	}
	if _, cmd := a.Update(idleCloseMsg{current: current}); cmd == nil || !a.quitting {
		t.Fatal("a current close must end the session")
	}
}

// TestHeaderSaysWhereTheRollbackStands: the point of no return's part of the header names its
// step (the go-live gate) and the rollback point's state: verified (with its time), made by hand
// or by a step that does not check (not verified), missing (warned), missing while the point of
// no return asks for its confirmation (critical), and over once it passed.
func TestHeaderSaysWhereTheRollbackStands(t *testing.T) {
	fe := newFixtureEngine(50)
	fe.snap.Run.Downtime.RollbackPoint = "hold-batch" // a succeeded step stands in for the backup
	step := func(id string) *engine.StepView {
		for i := range fe.snap.Steps {
			if fe.snap.Steps[i].ID == id {
				return &fe.snap.Steps[i]
			}
		}
		t.Fatalf("no step %s", id)
		return nil
	}
	head := func() string {
		return ansi.Strip(strings.Join(newTestApp(fe, 240, 50, Options{}).header(240), "\n"))
	}
	if h := head(); !strings.Contains(h, "no return: reopen in ≈1h45m · rollback point made by hand (not verified) ·") {
		t.Fatalf("made by hand (a manual step):\n%s", h)
	}
	backup := step("hold-batch")
	backup.Mode, backup.Kind = engine.ModeAuto, "wait"
	if h := head(); !strings.Contains(h, "no return: reopen in ≈1h45m · rollback point made 20:25 (not verified) ·") {
		t.Fatalf("made by a step that does not check:\n%s", h)
	}
	backup.Kind, backup.VerifiesBackup = "backup.verify", true
	if h := head(); !strings.Contains(h, "no return: reopen in ≈1h45m · rollback ready · backup verified 20:25 ·") {
		t.Fatalf("verified:\n%s", h)
	}
	backup.State, backup.Finished = engine.StateRunning, time.Time{}
	if h := head(); !strings.Contains(h, "no return: reopen in ≈1h45m · rollback point running") {
		t.Fatalf("no point yet:\n%s", h)
	}
	pnr := step("reopen")
	pnr.State = engine.StateAwaiting
	if h := head(); !strings.Contains(h, "⚠ no return: reopen awaiting · NO rollback point (hold-batch running)") {
		t.Fatalf("at risk:\n%s", h)
	}
	pnr.State, pnr.FirstStarted = engine.StateRunning, fixedNow.Add(-time.Minute)
	if h := head(); !strings.Contains(h, "⚠ no return: reopen running") {
		t.Fatalf("gone:\n%s", h)
	}
	pnr.State = engine.StateSucceeded
	if h := head(); !strings.Contains(h, "no return: reopen ✓ passed") {
		t.Fatalf("passed:\n%s", h)
	}
}

// TestHeaderKeepsWhatMattersAtAnyWidth: at every width from 80 columns up, the header keeps the
// phase, the downtime clock, the point of no return and the rollback's readiness, in that order;
// a narrower line shortens their words and leaves out the rest, who is watching first; the
// forecast stays (shortened) once the four have their full words.
func TestHeaderKeepsWhatMattersAtAnyWidth(t *testing.T) {
	fe := newFixtureEngine(50)
	fe.snap.Run.Downtime.RollbackPoint = "hold-batch"
	for i := range fe.snap.Steps {
		if st := &fe.snap.Steps[i]; st.ID == "hold-batch" {
			st.Mode, st.Kind, st.VerifiesBackup = engine.ModeAuto, "backup.verify", true
		}
	}
	header := func(w int) []string {
		lines := newTestApp(fe, w, 50, Options{}).header(w)
		for i, l := range lines {
			lines[i] = ansi.Strip(l)
			if got := ansi.StringWidth(l); got != w {
				t.Fatalf("%d columns: header line %d is %d cells", w, i+1, got)
			}
		}
		return lines
	}
	inOrder := func(w int, line string, parts ...string) {
		t.Helper()
		at := -1
		for _, p := range parts {
			i := strings.Index(line, p)
			if i < 0 || i < at {
				t.Fatalf("%d columns: want %q in order:\n%s", w, parts, line)
			}
			at = i
		}
	}
	for w := 80; w <= 240; w += 4 {
		h := header(w)
		if !strings.Contains(h[0], "Shutdown") {
			t.Fatalf("%d columns: no phase:\n%s", w, h[0])
		}
		inOrder(w, h[1], "downtime 1h00m", "no return", "rollback", "verified")
	}
	for _, c := range []struct {
		w          int
		want, gone []string
	}{
		{80, []string{"phase Shutdown", "downtime 1h00m", "no return", "rollback ✓ verified"}, []string{"finish", "watching", "src"}},
		{120, []string{"downtime 1h00m / 12h00m (8%) · no return: reopen", "rollback ✓ verified 20:25", "tgt ✖ 6m"}, []string{"watching"}},
		{160, []string{"downtime 1h00m / 12h00m (8%) · no return: reopen in ≈1h45m · rollback ✓ verified 20:25", "finish ≈ 23:00 (9h10m spare)", "src ● ok"}, []string{"watching"}},
		{240, []string{"rollback ready · backup verified 20:25", "finish ≈ 23:00 (9h10m spare)", "watching: ana(o)", "you: ana"}, nil},
	} {
		h := strings.Join(header(c.w), "\n")
		for _, s := range c.want {
			if !strings.Contains(h, s) {
				t.Errorf("%d columns: want %q:\n%s", c.w, s, h)
			}
		}
		for _, s := range c.gone {
			if strings.Contains(h, s) {
				t.Errorf("%d columns: %q should have given way:\n%s", c.w, s, h)
			}
		}
	}
	// Over budget, the point of no return waiting with no rollback point, a long step name:
	// still all four at 80 columns.
	fe.snap.Run.Downtime.Budget = 30 * time.Minute
	fe.snap.Run.Downtime.PointOfNoReturn = "production-refresh"
	for i := range fe.snap.Steps {
		switch st := &fe.snap.Steps[i]; st.ID {
		case "hold-batch":
			st.State, st.Finished = engine.StateFailed, time.Time{}
		case "production-refresh":
			st.State = engine.StateAwaiting
		}
	}
	h := header(80)
	inOrder(80, h[1], "▲ downtime", "OVER by 30m", "⚠ no return", "awaiting", "NO rollback point")
	if h := header(120); !strings.Contains(h[1], "⚠ no return: production-refresh awaiting · NO rollback point (hold-batch failed)") {
		t.Fatalf("at 120 columns the step and the rollback point are named:\n%s", h[1])
	}
	if !strings.Contains(h[0], "Shutdown") {
		t.Fatalf("no phase:\n%s", h[0])
	}
}

// TestConfirmingThePointOfNoReturnSaysWhetherRollbackIsPossible: the point of no return's
// confirmation names the rollback point; when its step was skipped, the dialog says in capitals
// that confirming leaves nothing to go back to, and who skipped it.
func TestConfirmingThePointOfNoReturnSaysWhetherRollbackIsPossible(t *testing.T) {
	fe := newFixtureEngine(50)
	fe.snap.Run.Downtime.PointOfNoReturn, fe.snap.Run.Downtime.RollbackPoint = "production-refresh", "replication-drain"
	ben := engine.Actor{Name: "ben", Role: engine.RoleOperator}
	for i := range fe.snap.Steps {
		switch st := &fe.snap.Steps[i]; st.ID {
		case "replication-drain":
			st.State, st.By, st.Reason = engine.StateSkipped, &ben, "no time"
		case "production-refresh":
			st.State = engine.StateAwaiting
			st.Confirmation = &engine.ConfirmationView{Request: 77, Phrase: "REFRESH PRODUCTION", Needed: 2, Since: fixedNow, Action: "refresh production"}
		}
	}
	a := newTestApp(fe, 140, 50, Options{})
	a.Update(openConfirmMsg{step: "production-refresh"})
	out := screenOf(a)
	if !strings.Contains(out, "⚠ NO AX 2012 ROLLBACK POINT: replication-drain did not make one (it was skipped by ben: no") ||
		!strings.Contains(out, "Confirming production-refresh leaves nothing to go back to.") {
		t.Fatalf("the dialog does not warn:\n%s", out)
	}
	// With the rollback point made, it says when and whether the backup was verified; other
	// steps' dialogs say nothing of it.
	var drain *engine.StepView
	for i := range fe.snap.Steps {
		if st := &fe.snap.Steps[i]; st.ID == "replication-drain" {
			st.State, st.Finished = engine.StateSucceeded, fixedNow.Add(-10*time.Minute)
			drain = st
		}
	}
	refresh, _ := fe.snap.Step("production-refresh")
	for _, c := range []struct {
		verifies, byHand bool
		want             string
	}{
		{false, false, "Rollback point: replication-drain, made at 21:00 (not verified: its step does not check the backup)."},
		{true, true, "Rollback point: replication-drain, made by hand at 21:00 (not verified: nothing checked the backup)."},
		{true, false, "Rollback ready: replication-drain verified the backup at 21:00."},
	} {
		drain.VerifiesBackup, drain.ByHand = c.verifies, c.byHand
		if text, critical := rollbackNotice(fe.snap, refresh, fixedNow, time.UTC); text != "point of no return: after production-refresh there is no way back to AX 2012. "+c.want || critical {
			t.Fatalf("want %q, got %q (critical %v)", c.want, text, critical)
		}
	}
	a = newTestApp(fe, 140, 50, Options{})
	a.Update(openConfirmMsg{step: "production-refresh"})
	if out := screenOf(a); !strings.Contains(out, "no way back to AX 2012") || !strings.Contains(out, "verified the backup at 21:00") || strings.Contains(out, "NO AX 2012") {
		t.Fatalf("ready:\n%s", out)
	}
	a = newTestApp(fe, 140, 50, Options{})
	a.Update(openConfirmMsg{step: "aos-stop"})
	if out := screenOf(a); strings.Contains(out, "point of no return") || strings.Contains(out, "ROLLBACK") {
		t.Fatalf("aos-stop's dialog talks of the rollback:\n%s", out)
	}
}
