package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// anchoredJournal writes n records into a fresh state directory and closes it cleanly.
func anchoredJournal(t *testing.T, n int) (dir, path string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "state")
	j, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, n)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, FileName)
}

// cutLines removes the last n whole lines of a journal file.
func cutLines(t *testing.T, path string, n int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty piece after the last newline
	if err := os.WriteFile(path, bytes.Join(lines[:len(lines)-n], nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// chainLine appends one correctly hash-chained line to a journal file, as someone with write
// access to the file but not the engine could.
func chainLine(t *testing.T, path string) {
	t.Helper()
	c, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, err := encode(Record{Seq: c.Seq + 1, Time: t0.Add(time.Hour), Type: "step.done_by_hand", Step: "aos-stop", Prev: c.Head})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, path string) Report {
	t.Helper()
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	c, erep, err := ReadEvidence(path)
	if err != nil {
		t.Fatal(err)
	}
	if erep.OK() != rep.OK() || erep.AnchorStatus != rep.AnchorStatus || erep.CrashLine != rep.CrashLine {
		t.Fatalf("ReadEvidence and Verify disagree: %+v / %+v", erep, rep)
	}
	_ = c
	return rep
}

func TestAnchorCleanJournalVerifies(t *testing.T) {
	dir, path := anchoredJournal(t, 5)
	rep := verify(t, path)
	if !rep.OK() || rep.AnchorStatus != AnchorOK || rep.Anchor.Seq != 5 || !rep.Anchor.Closed {
		t.Fatalf("clean journal: %+v", rep)
	}
	j, orep, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if orep.CrashLine != 0 || orep.Unanchored || len(orep.Records) != 5 {
		t.Fatalf("reopen: %+v", orep)
	}
	// Open marks the anchor open again: a crash from here may leave one unanchored line.
	if a, err := ReadAnchor(dir); err != nil || a.Closed || a.Seq != 5 {
		t.Fatalf("anchor while open: %+v, %v", a, err)
	}
}

func TestAnchorDetectsCutLines(t *testing.T) {
	for _, n := range []int{1, 3} {
		dir, path := anchoredJournal(t, 5)
		cutLines(t, path, n)
		rep := verify(t, path)
		if rep.OK() || rep.Tail == nil || rep.AnchorStatus != AnchorMismatch {
			t.Fatalf("%d line(s) cut: verified as %+v", n, rep)
		}
		if !strings.Contains(rep.Tail.Reason, "truncated") || !strings.Contains(rep.Tail.Reason, "line 5 was acknowledged") {
			t.Errorf("%d line(s) cut: reason %q", n, rep.Tail.Reason)
		}
		_, _, err := Open(dir, Options{})
		var te *TailError
		if !errors.As(err, &te) {
			t.Fatalf("%d line(s) cut: Open = %v, want a TailError", n, err)
		}
		if d := Describe(err); !strings.Contains(d, AnchorFileName) || !strings.Contains(d, "journal verify") {
			t.Errorf("Describe does not say how to continue: %s", d)
		}
	}
}

func TestAnchorDetectsAChainedLineAfterACleanClose(t *testing.T) {
	dir, path := anchoredJournal(t, 4)
	chainLine(t, path)
	// Line by line the journal is perfect...
	if _, err := Read(path); err != nil {
		t.Fatalf("the appended line does not chain (the test is wrong): %v", err)
	}
	// ...but it goes on after its engine closed it.
	rep := verify(t, path)
	if rep.OK() || rep.Tail == nil || !strings.Contains(rep.Tail.Reason, "extended") {
		t.Fatalf("gained line verified: %+v", rep)
	}
	if _, _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open accepted a journal extended after a clean close")
	}
}

func TestAnchorDetectsAReplacedTail(t *testing.T) {
	_, path := anchoredJournal(t, 4)
	cutLines(t, path, 1)
	chainLine(t, path) // a different line 4
	rep := verify(t, path)
	if rep.OK() || rep.Tail == nil || !strings.Contains(rep.Tail.Reason, "replaced") {
		t.Fatalf("replaced line verified: %+v", rep)
	}
}

// TestAnchorCrashWindow: a crash between a line's fsync and its anchor's leaves the journal one
// line ahead of an anchor that is not closed. That is no tampering: verify accepts it and a
// restart keeps the line. Two lines ahead is not a crash.
func TestAnchorCrashWindow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	j, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 3)
	mid, err := os.ReadFile(filepath.Join(dir, AnchorFileName)) // anchored at 3, open
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// As if the process had died after line 4's fsync, before its anchor's.
	if err := os.WriteFile(filepath.Join(dir, AnchorFileName), mid, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	rep := verify(t, path)
	if !rep.OK() || rep.CrashLine != 4 {
		t.Fatalf("crash window: %+v", rep)
	}
	j, orep, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("crash window refused: %v", err)
	}
	if orep.CrashLine != 4 || len(orep.Records) != 4 {
		t.Fatalf("reopen after the crash window: %+v", orep)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Two lines past an open anchor cannot be one crash.
	if err := os.WriteFile(filepath.Join(dir, AnchorFileName), mid, 0o600); err != nil {
		t.Fatal(err)
	}
	chainLine(t, path)
	if rep := verify(t, path); rep.OK() || rep.Tail == nil {
		t.Fatalf("two lines past an open anchor verified: %+v", rep)
	}
}

// TestAnchorSurvivesATornSlot: a crash in the middle of the anchor's own write leaves the other
// slot, one line behind: still a journal that verifies.
func TestAnchorSurvivesATornSlot(t *testing.T) {
	dir, path := anchoredJournal(t, 5)
	ap := filepath.Join(dir, AnchorFileName)
	b, err := os.ReadFile(ap)
	if err != nil {
		t.Fatal(err)
	}
	slot := int(5%2) * anchorSlotLen
	copy(b[slot+20:slot+40], bytes.Repeat([]byte{0}, 20))
	if err := os.WriteFile(ap, b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := ReadAnchor(dir)
	if err != nil || a.Seq != 4 || a.Closed {
		t.Fatalf("anchor after a torn slot: %+v, %v", a, err)
	}
	if rep := verify(t, path); !rep.OK() || rep.CrashLine != 5 {
		t.Fatalf("torn anchor slot: %+v", rep)
	}
	// Both slots unreadable: where the journal ends is unknown, and it is not resumed.
	if err := os.WriteFile(ap, bytes.Repeat([]byte("x"), 2*anchorSlotLen), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, path); rep.OK() || rep.AnchorStatus != AnchorUnreadable {
		t.Fatalf("unreadable anchor verified: %+v", rep)
	}
	if _, _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open accepted a journal whose anchor is unreadable")
	}
}

// TestAnchorMissing: a journal without its anchor (written before anchoring, or copied alone)
// verifies line by line and says its end is unchecked; the engine anchors it on the next start.
func TestAnchorMissing(t *testing.T) {
	dir, path := anchoredJournal(t, 3)
	if err := os.Remove(filepath.Join(dir, AnchorFileName)); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, path)
	if !rep.OK() || rep.AnchorStatus != AnchorMissing {
		t.Fatalf("missing anchor: %+v", rep)
	}
	j, orep, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !orep.Unanchored {
		t.Error("Open did not report the missing anchor")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, path); rep.AnchorStatus != AnchorOK || rep.Anchor.Seq != 3 {
		t.Fatalf("not anchored after a start: %+v", rep)
	}
}

func FuzzAnchorSlot(f *testing.F) {
	f.Add(Anchor{Seq: 7, Head: Genesis}.encodeSlot())
	f.Add(Anchor{Seq: 1 << 40, Head: strings.Repeat("a", 64), Closed: true}.encodeSlot())
	f.Add([]byte("cutover-journal-anchor v1 seq=x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := decodeSlot(b)
		if !ok {
			return
		}
		// Whatever decodes re-encodes to a slot that decodes to the same anchor.
		if back, ok := decodeSlot(a.encodeSlot()); !ok || back != a {
			t.Fatalf("%+v re-encoded decodes as %+v (%v)", a, back, ok)
		}
	})
}
