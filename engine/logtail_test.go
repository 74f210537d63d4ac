package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func isTestStep(id string) bool { return id == "drain" || id == "aos-stop" }

func TestReadLogTail(t *testing.T) {
	at := time.Date(2026, 12, 5, 21, 7, 3, 250e6, time.UTC)
	lines := []LogLine{
		{Time: at, Level: LevelInfo, Msg: "engine started"},
		{Time: at.Add(time.Second), Level: LevelWarn, Step: "drain", Msg: "held back: 3 commands pending"},
		{Time: at.Add(2 * time.Second), Level: LevelInfo, Step: "aos-stop", Stream: "stderr", Msg: "sc.exe: [SC] ControlService FAILED 1062"},
		{Time: at.Add(3 * time.Second), Level: LevelError, Msg: "[not-a-step] a message that starts with brackets"},
		{Time: at.Add(4 * time.Second), Level: LevelDebug, Step: "drain", Msg: ""},
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String() + "\n")
	}
	b.WriteString("2026-12-05T21:07:08.000Z INFO  [drain] a line torn by a cra") // no newline: torn
	path := filepath.Join(t.TempDir(), LogFileName)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readLogTail(path, 100, isTestStep)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(lines) {
		t.Fatalf("%d lines back, want %d: %+v", len(got), len(lines), got)
	}
	for i := range lines {
		if g, w := got[i], lines[i]; !g.Time.Equal(w.Time) || g.Level != w.Level || g.Step != w.Step || g.Stream != w.Stream || g.Msg != w.Msg {
			t.Errorf("line %d: %+v, want %+v", i+1, g, w)
		}
	}
	// The newest n only.
	if got, _ := readLogTail(path, 2, isTestStep); len(got) != 2 || got[1].Level != LevelDebug {
		t.Fatalf("tail of 2: %+v", got)
	}
	// No file: nothing, no error.
	if got, err := readLogTail(filepath.Join(t.TempDir(), LogFileName), 10, isTestStep); got != nil || err != nil {
		t.Fatalf("%v %v", got, err)
	}
}

func TestReadLogTailOfALargeFileStartsAtALine(t *testing.T) {
	line := LogLine{Time: time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC), Level: LevelInfo, Step: "drain", Msg: strings.Repeat("x", 200)}.String() + "\n"
	n := maxLogTailBytes/len(line) + 100
	path := filepath.Join(t.TempDir(), LogFileName)
	if err := os.WriteFile(path, []byte(strings.Repeat(line, n)), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readLogTail(path, n, isTestStep)
	if err != nil {
		t.Fatal(err)
	}
	if want := maxLogTailBytes / len(line); len(got) != want {
		t.Fatalf("%d lines from the last %d bytes, want %d whole ones", len(got), maxLogTailBytes, want)
	}
}

// FuzzParseLogLine: any line parses or is left out without a panic; what parses is written back
// as it was.
func FuzzParseLogLine(f *testing.F) {
	f.Add("2026-12-05T21:07:03.250Z INFO  engine started")
	f.Add("2026-12-05T21:07:03.250Z WARN  [drain stdout] x")
	f.Add("2026-12-05T21:07:03.250Z ERROR [drain")
	f.Add("2026-12-05T21:07:03.250Z DEBUG ")
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := parseLogLine(s, isTestStep)
		if ok && l.String() != s {
			t.Fatalf("%q parsed as %+v, written back as %q", s, l, l.String())
		}
	})
}
