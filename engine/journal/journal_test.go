package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as a second process holding the lock.
func TestMain(m *testing.M) {
	if dir := os.Getenv("JOURNAL_TEST_HOLD_LOCK"); dir != "" {
		if _, _, err := Open(dir, Options{Command: "lock holder (test)"}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("HOLDING")
		// Hold the lock until killed. Not `select {}`: with no other goroutine the runtime calls
		// that a deadlock and exits at once, releasing the lock under the test's feet.
		for {
			time.Sleep(time.Hour)
		}
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

func appendN(t testing.TB, j *Journal, n int) []Record {
	t.Helper()
	var out []Record
	for i := 0; i < n; i++ {
		data, _ := json.Marshal(map[string]any{"i": i, "note": "step <b> & \"quotes\""})
		rec, err := j.Append(Record{Time: t0.Add(time.Duration(i) * time.Second), Type: "step.started", Step: fmt.Sprintf("s%d", i), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func TestAppendReplayVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	j, rep, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Created || len(rep.Records) != 0 {
		t.Fatalf("fresh journal: %+v", rep)
	}
	written := appendN(t, j, 5)
	head := j.Head()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600, filepath.Join(dir, LockFileName): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
			}
		}
	}
	j, rep, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(rep.Records) != 5 || rep.Torn != nil || rep.StaleLock != nil {
		t.Fatalf("reopen: %d records, torn %v, stale %v", len(rep.Records), rep.Torn, rep.StaleLock)
	}
	for i, r := range rep.Records {
		w := written[i]
		if r.Seq != w.Seq || r.Hash != w.Hash || r.Prev != w.Prev || !r.Time.Equal(w.Time) || r.Step != w.Step || !bytes.Equal(r.Data, w.Data) {
			t.Errorf("record %d replayed as %+v, written %+v", i, r, w)
		}
	}
	if j.Head() != head || j.Seq() != 5 {
		t.Fatalf("head/seq not restored")
	}
	next := appendN(t, j, 1)[0]
	if next.Seq != 6 || next.Prev != head {
		t.Fatalf("append after replay: seq %d prev %s", next.Seq, next.Prev)
	}
	vr, err := Verify(filepath.Join(dir, FileName))
	if err != nil || !vr.OK() || vr.Records != 6 || vr.Head != j.Head() {
		t.Fatalf("verify: %+v %v (head %s)", vr, err, j.Head())
	}
}

// TestTornTailIsTolerated: a crash in the middle of a write leaves an incomplete last line; it is
// reported, dropped, and the journal goes on.
func TestTornTailIsTolerated(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 3)
	j.Close()
	path := filepath.Join(dir, FileName)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":4,"time":"2026-12-05T18:00:03Z","type":"step.succ`)
	f.Close()

	vr, err := Verify(path)
	if err != nil || !vr.OK() || vr.Torn == nil || vr.Torn.Line != 4 || vr.Records != 3 {
		t.Fatalf("verify of a torn journal: %+v %v", vr, err)
	}
	j, rep, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("a torn tail must not stop a resume: %v", err)
	}
	if rep.Torn == nil || rep.Torn.Line != 4 || len(rep.Records) != 3 {
		t.Fatalf("open report: %+v", rep)
	}
	appendN(t, j, 1)
	j.Close()
	vr, _ = Verify(path)
	if !vr.OK() || vr.Torn != nil || vr.Records != 4 {
		t.Fatalf("after the torn line was dropped and a record appended: %+v", vr)
	}
}

func writeJournal(t testing.TB, n int) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	j, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, n)
	j.Close()
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestEveryByteOfAMiddleLineIsProtected flips each byte of line 3 of 5 in turn: every change is
// detected, named as line 3, and refuses a resume.
func TestEveryByteOfAMiddleLineIsProtected(t *testing.T) {
	path, orig := writeJournal(t, 5)
	lines := bytes.SplitAfter(orig, []byte("\n"))
	start := len(lines[0]) + len(lines[1])
	for off := start; off < start+len(lines[2]); off++ {
		data := append([]byte(nil), orig...)
		data[off] ^= 0x01
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		vr, err := Verify(path)
		if err != nil {
			t.Fatal(err)
		}
		if vr.OK() || vr.Bad.Line != 3 {
			t.Fatalf("flipping byte %d (%q) of line 3: verify says %+v", off-start, orig[off], vr.Bad)
		}
		_, _, err = Open(filepath.Dir(path), Options{})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Line != 3 {
			t.Fatalf("flipping byte %d: Open returned %v, want a CorruptError at line 3", off-start, err)
		}
	}
}

func TestEditsAreNamed(t *testing.T) {
	path, orig := writeJournal(t, 5)
	lines := bytes.SplitAfter(orig, []byte("\n"))
	cases := map[string]struct {
		data []byte
		line int
		want string
	}{
		"line removed":     {bytes.Join([][]byte{lines[0], lines[1], lines[3], lines[4]}, nil), 3, "chain broken"},
		"lines swapped":    {bytes.Join([][]byte{lines[0], lines[2], lines[1], lines[3], lines[4]}, nil), 2, "chain broken"},
		"first removed":    {bytes.Join(lines[1:], nil), 1, "first line"},
		"last line edited": {append(bytes.Join(lines[:4], nil), bytes.Replace(lines[4], []byte(`"s4"`), []byte(`"s9"`), 1)...), 5, "modified"},
		"hash stripped":    {bytes.Join([][]byte{lines[0], []byte("{\"seq\":2}\n")}, nil), 2, "malformed"},
	}
	for name, c := range cases {
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		vr, err := Verify(path)
		if err != nil {
			t.Fatal(err)
		}
		if vr.OK() || vr.Bad.Line != c.line || !strings.Contains(vr.Bad.Reason, c.want) {
			t.Errorf("%s: got %+v, want line %d %q", name, vr.Bad, c.line, c.want)
		}
	}
	if s := Describe(&CorruptError{Path: path, Line: 3, Reason: "modified"}); !strings.Contains(s, "cutover journal verify") || !strings.Contains(s, "--state") {
		t.Errorf("Describe must say how to continue: %s", s)
	}
}

func TestSecondOpenIsRefusedWithTheHolderNamed(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{Command: "cutover run"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, _, err = Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	host, _ := os.Hostname()
	if le.Holder == nil || le.Holder.PID != os.Getpid() || le.Holder.Host != host {
		t.Fatalf("holder %+v", le.Holder)
	}
	msg := err.Error()
	for _, want := range []string{"cutover run", "pid " + strconv.Itoa(os.Getpid()), "host " + host} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	info, held, err := ReadHolder(dir)
	if err != nil || !held || info.PID != os.Getpid() {
		t.Fatalf("ReadHolder: %+v %v %v", info, held, err)
	}
}

// TestLockAcrossProcesses: another process holds the lock, then dies by SIGKILL; the lock is taken
// over and the dead holder reported.
func TestLockAcrossProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JOURNAL_TEST_HOLD_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "HOLDING") {
		cmd.Process.Kill()
		t.Fatalf("helper said %q", buf[:n])
	}
	_, _, err = Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != cmd.Process.Pid || le.Holder.Command != "lock holder (test)" {
		cmd.Process.Kill()
		t.Fatalf("open while another process holds the lock: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	j, rep, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open after the holder died: %v", err)
	}
	defer j.Close()
	if rep.StaleLock == nil || rep.StaleLock.PID != cmd.Process.Pid {
		t.Fatalf("the dead holder must be reported as a stale lock: %+v", rep.StaleLock)
	}
}

func TestAppendAfterWriteFailureRefuses(t *testing.T) {
	j, _, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendN(t, j, 1)
	j.f.Close() // the disk goes away under the journal
	if _, err := j.Append(Record{Type: "x"}); err == nil {
		t.Fatal("append to a closed file succeeded")
	}
	if _, err := j.Append(Record{Type: "x"}); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("the journal must refuse appends after a failure, got %v", err)
	}
	if j.Seq() != 1 {
		t.Fatalf("a failed append must not advance the sequence")
	}
}

// FuzzReplay feeds arbitrary bytes to the replay scanner: no panic, and anything accepted is a
// proper chain.
func FuzzReplay(f *testing.F) {
	_, valid := writeJournal(f, 4)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := scanAll("fuzz.jsonl", data, 0)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Fatalf("error %v is not a positioned CorruptError", err)
			}
			return
		}
		lines := bytes.Split(data, []byte("\n"))
		prev := Genesis
		for i, r := range res.records {
			if r.Seq != uint64(i+1) || r.Prev != prev {
				t.Fatalf("accepted a broken chain at record %d", i+1)
			}
			sum := sha256.Sum256(lines[i])
			prev = hex.EncodeToString(sum[:])
		}
	})
}

// FuzzTamper changes one byte of a valid journal: the change is always detected (or, for the very
// last newline, reported as a torn tail).
func FuzzTamper(f *testing.F) {
	_, valid := writeJournal(f, 4)
	f.Add(uint(10), byte('x'))
	f.Add(uint(len(valid)-1), byte(' '))
	f.Fuzz(func(t *testing.T, pos uint, val byte) {
		data := append([]byte(nil), valid...)
		p := int(pos % uint(len(data)))
		if data[p] == val {
			return
		}
		data[p] = val
		res, err := scanAll("tamper.jsonl", data, 0)
		if err != nil {
			return
		}
		if res.torn != nil && len(res.records) == 3 {
			return
		}
		t.Fatalf("changing byte %d to %q went unnoticed", p, val)
	})
}

func BenchmarkAppendFsync(b *testing.B) {
	j, _, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	data := []byte(`{"attempt":1,"action":"run sc.exe \\\\AX-AOS01 stop AOS60$01"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := j.Append(Record{Time: t0, Type: "step.started", Step: "aos-stop", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplay100k(b *testing.B) {
	dir := b.TempDir()
	j, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"attempt":1,"action":"run sc.exe \\\\AX-AOS01 stop AOS60$01"}`)
	for i := 0; i < 100000; i++ {
		if _, err := j.Append(Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Type: "step.started", Step: "step-" + strconv.Itoa(i%500), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	j.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, rep, err := Open(dir, Options{NoSync: true})
		if err != nil || len(rep.Records) != 100000 {
			b.Fatal(err, len(rep.Records))
		}
		j.Close()
	}
}

func TestShortHash(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"abc":          "abc",
		"0123456789ab": "0123456789ab",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "0123456789ab…",
	} {
		if got := ShortHash(in); got != want {
			t.Errorf("ShortHash(%q) = %q, want %q", in, got, want)
		}
	}
}
