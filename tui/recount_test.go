package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/runbook"
)

// tableCounts is a CountSource with fixed counts per side; a table a side lacks answers as SQL
// Server does (error 208: missing).
type tableCounts struct {
	mu   sync.Mutex
	rows [2]map[string]int64
}

func (c *tableCounts) Rows(_ context.Context, s engine.Side) ([]engine.TableRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []engine.TableRows
	for t, n := range c.rows[s] {
		out = append(out, engine.TableRows{Table: "dbo." + t, Rows: n, HasPK: true})
	}
	return out, nil
}

func (c *tableCounts) Exact(_ context.Context, s engine.Side, tables []string, _ int, progress func(done, total int)) ([]engine.ExactRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []engine.ExactRows
	for i, t := range tables {
		n, ok := c.rows[s][t]
		r := engine.ExactRows{Table: t, Rows: n}
		if !ok {
			r.Err, r.Missing = fmt.Errorf("Invalid object name 'dbo.%s'. (208)", t), true
		}
		out = append(out, r)
		if progress != nil {
			progress(i+1, len(tables))
		}
	}
	return out, nil
}

// validatedEngine runs a validate.counts step over counts until it has failed: AIFMESSAGELOG is
// ignored and not on the target, SALESPARMLINE is missing on the target, CUSTTRANS differs.
func validatedEngine(t *testing.T) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	src := `name: recount flow
connections:
  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}
  target: {server: 127.0.0.1, database: AxDB, auth: windows}
steps:
  - {id: validate, title: Validate record counts, kind: validate.counts, with: {ignore: [AIFMESSAGELOG]}}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	counts := &tableCounts{rows: [2]map[string]int64{
		{"AIFMESSAGELOG": 70, "SALESPARMLINE": 40, "CUSTTRANS": 100, "CUSTTABLE": 12},
		{"CUSTTRANS": 90, "CUSTTABLE": 12},
	}}
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Kinds: reg, Ports: engine.Ports{Counts: counts}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop("test") })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, events := e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second) // a failure bound, not a wait
	for {
		if st, _ := e.Snapshot().Step("validate"); st.State == engine.StateFailed {
			return e
		}
		select {
		case <-events:
		case <-deadline:
			t.Fatal("the validation never failed")
		}
	}
}

// recountSelected filters the validation pane down to one table, presses the recount key and
// feeds the engine's answer back, as the program would.
func recountSelected(t *testing.T, a *App, table string) {
	t.Helper()
	press(a, "3", "esc", "/")
	typeText(a, table)
	press(a, "enter")
	_, cmd := a.Update(keyMsg("c"))
	if cmd == nil {
		t.Fatalf("c on %s started no recount", table)
	}
	msg, ok := cmd().(recountDoneMsg)
	if !ok {
		t.Fatalf("the recount of %s did not end with its result", table)
	}
	if msg.table != table {
		t.Fatalf("recounted %s, want %s", msg.table, table)
	}
	_, next := a.Update(msg)
	runCmd(a, next)
}

// TestRecountFooterShowsTheEnginesOutcome: the footer says what the engine said — a refusal for an
// ignored table, a table still missing as bad news, a passing table as good news — never a
// failure dressed as a pass.
func TestRecountFooterShowsTheEnginesOutcome(t *testing.T) {
	e := validatedEngine(t)
	a := newTestApp(e, 160, 40, Options{})

	recountSelected(t, a, "AIFMESSAGELOG")
	if !a.flashErr || !strings.Contains(a.flash, "AIFMESSAGELOG") || !strings.Contains(a.flash, "ignore list") {
		t.Fatalf("ignored table: flash %q (error %v), want the engine's refusal as an error", a.flash, a.flashErr)
	}
	if strings.Count(a.flash, "recount AIFMESSAGELOG") != 1 {
		t.Errorf("the table is named twice: %q", a.flash)
	}

	recountSelected(t, a, "SALESPARMLINE")
	if !a.flashErr || !strings.Contains(a.flash, "source 40, not on the target — missing on target") {
		t.Fatalf("missing table: flash %q (error %v), want it still missing, as bad news", a.flash, a.flashErr)
	}
	if !strings.Contains(screenOf(a), "source 40, not on the target") {
		t.Fatalf("the footer does not show the outcome:\n%s", screenOf(a))
	}

	recountSelected(t, a, "CUSTTABLE")
	if a.flashErr || a.flash != "recount CUSTTABLE: source 12, target 12 — match" {
		t.Fatalf("matching table: flash %q (error %v)", a.flash, a.flashErr)
	}
}
