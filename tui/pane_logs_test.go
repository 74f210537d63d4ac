package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/engine"
)

// TestSaveLogWritesTheListedLines: ctrl+s writes the lines the pane lists (at its level filter)
// to a new file in the state directory, from a command rather than from Update, and says where.
func TestSaveLogWritesTheListedLines(t *testing.T) {
	e := newFixtureEngine(50)
	e.stateDir = t.TempDir()
	a := newTestApp(e, 120, 40, Options{})
	press(a, "4", "v") // the logs, warnings and errors only
	p := a.panes[paneLogs].(*logsPane)
	if p.level != engine.LevelWarn {
		t.Fatalf("level %s, want WARN", p.level)
	}
	var want strings.Builder
	var infoLine string
	for _, l := range fixtureLogs() {
		if l.Level >= engine.LevelWarn {
			want.WriteString(l.String() + "\n")
		} else {
			infoLine = l.Msg
		}
	}

	// Update does no I/O: the key returns a command, and nothing is on disk until it runs.
	_, cmd := a.Update(keyMsg("ctrl+s"))
	if cmd == nil {
		t.Fatal("ctrl+s must return the command that writes the file")
	}
	if files := dirFiles(t, e.stateDir); len(files) != 0 {
		t.Fatalf("Update wrote %v itself", files)
	}
	runCmd(a, cmd)
	path := filepath.Join(e.stateDir, "cockpit-log-20261205-211000.txt")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the log was not saved where expected: %v (files: %v)", err, dirFiles(t, e.stateDir))
	}
	if string(got) != want.String() {
		t.Fatalf("saved:\n%s\nwant the WARN+ lines the pane lists:\n%s", got, want.String())
	}
	if strings.Contains(string(got), infoLine) {
		t.Fatal("lines below the level filter must not be saved")
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the saved log must be 0600: %v %v", info.Mode(), err)
	}
	if wantFlash := "log saved to " + path + " (3 lines at WARN+)"; a.flash != wantFlash || a.flashErr {
		t.Fatalf("flash %q (error %v), want %q", a.flash, a.flashErr, wantFlash)
	}
	if !strings.Contains(screenOf(a), "log saved to "+e.stateDir) {
		t.Fatalf("the footer says where the log went:\n%s", screenOf(a))
	}

	// Saving again in the same second keeps the first file; at INFO+ every line is saved.
	press(a, "v", "v")
	press(a, "ctrl+s")
	second, err := os.ReadFile(filepath.Join(e.stateDir, "cockpit-log-20261205-211000-2.txt"))
	if err != nil {
		t.Fatalf("a second save must go to a new file: %v (files: %v)", err, dirFiles(t, e.stateDir))
	}
	if n := strings.Count(string(second), "\n"); n != len(fixtureLogs()) {
		t.Fatalf("INFO+ save has %d lines, want %d", n, len(fixtureLogs()))
	}
	if again, _ := os.ReadFile(path); string(again) != want.String() {
		t.Fatal("the first saved file was overwritten")
	}

	// A failed write is reported, not swallowed.
	e.stateDir = filepath.Join(e.stateDir, "missing")
	press(a, "ctrl+s")
	if !a.flashErr || !strings.HasPrefix(a.flash, "save log: create a file in "+e.stateDir) {
		t.Fatalf("flash %q (error %v)", a.flash, a.flashErr)
	}
}

// TestReadOnlyCannotSaveTheLog: a viewer over SSH must not create files on the jump box, so a
// read-only session has no save binding (absent from help) and ctrl+s writes nothing.
func TestReadOnlyCannotSaveTheLog(t *testing.T) {
	for _, opt := range []Options{
		{ReadOnly: true},
		{Actor: engine.Actor{Name: "vic", Role: engine.RoleViewer}},
	} {
		e := newFixtureEngine(50)
		e.stateDir = t.TempDir()
		a := newTestApp(e, 120, 40, opt)
		press(a, "4")
		_, cmd := a.Update(keyMsg("ctrl+s"))
		runCmd(a, cmd)
		if files := dirFiles(t, e.stateDir); len(files) != 0 {
			t.Fatalf("%s (read-only) saved %v", opt.Actor.Name, files)
		}
		if strings.Contains(a.flash, "log saved") {
			t.Fatalf("flash %q", a.flash)
		}
		press(a, "?")
		if out := screenOf(a); strings.Contains(out, "save log") || strings.Contains(out, "ctrl+s") {
			t.Fatalf("read-only help offers saving the log:\n%s", out)
		}
		// Should another route reach save, it still refuses.
		runCmd(a, a.panes[paneLogs].(*logsPane).save())
		if files := dirFiles(t, e.stateDir); len(files) != 0 || !a.flashErr || !strings.Contains(a.flash, "read-only") {
			t.Fatalf("save() in a read-only session: files %v, flash %q", files, a.flash)
		}
	}
	// An operator's help does list it (so the check above can fail).
	a := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	press(a, "4", "?")
	if !strings.Contains(screenOf(a), "save log") {
		t.Fatalf("an operator's help lists save log:\n%s", screenOf(a))
	}
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
