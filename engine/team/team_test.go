package team_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/team"
)

// key is a teammate's public key.
type key struct {
	pub []byte
	k   gossh.PublicKey
	fp  string
}

func newKey(t *testing.T) key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key{pub: gossh.MarshalAuthorizedKey(k), k: k, fp: gossh.FingerprintSHA256(k)}
}

func line(t *testing.T, k key, name string, role engine.Role) string {
	t.Helper()
	l, err := team.Line(k.pub, name, role)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// write puts the lines in a 0600 team file in dir.
func write(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("# team\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProblemsNameTheLine(t *testing.T) {
	good := line(t, newKey(t), "Ana", engine.RoleOperator)
	text := "# team\n" + good + "\n" +
		`cutover-role="admin" ` + string(newKey(t).pub) +
		`cutover-name="Ben" ` + string(newKey(t).pub) +
		"not a key at all\n" +
		strings.Replace(good, `cutover-name="Ana"`, `cutover-name="Ana again"`, 1) + "\n" +
		line(t, newKey(t), "ana", engine.RoleViewer) + "\n" +
		line(t, newKey(t), "  Ana ", engine.RoleOperator) + "\n"
	_, err := team.Parse("team.keys", []byte(text))
	if err == nil {
		t.Fatal("a broken team file must be refused")
	}
	for _, want := range []string{
		`team.keys:3: cutover-role: "admin" is neither operator nor viewer`,
		`team.keys:4: cutover-role is missing (operator or viewer)`,
		`team.keys:5: not an authorized_keys line`,
		`team.keys:6: this key is already on line 2 (Ana)`,
		`team.keys:7: the name "ana" is already on line 2: display names must be unique`,
		`team.keys:8: the name "Ana" is already on line 2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLineIsReadBack(t *testing.T) {
	k := newKey(t)
	r, err := team.Parse("t", []byte(line(t, k, "Ana Silva", engine.RoleViewer)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := r[k.fp]; m.Name != "Ana Silva" || m.Role != engine.RoleViewer || m.Line != 1 {
		t.Fatalf("%+v", m)
	}
	for _, bad := range []struct {
		name string
		role engine.Role
	}{{"Ana", "admin"}, {`A "quoted" name`, engine.RoleOperator}} {
		if _, err := team.Line(k.pub, bad.name, bad.role); err == nil {
			t.Errorf("%q %q accepted", bad.name, bad.role)
		}
	}
	if _, err := team.Line([]byte("ssh-ed25519 garbage"), "Ana", engine.RoleOperator); err == nil {
		t.Error("a broken key was accepted")
	}
}

func TestReadAgainWhenItChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "team.keys")
	ana, ben := newKey(t), newKey(t)
	write(t, path, line(t, ana, "Ana", engine.RoleOperator))
	f, err := team.Load(path, team.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup(ben.k); ok {
		t.Fatal("ben is not in the team yet")
	}
	fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(fh, line(t, ben, "Ben", engine.RoleViewer))
	fh.Close()
	if m, ok := f.Lookup(ben.k); !ok || m.Role != engine.RoleViewer || m.Name != "Ben" {
		t.Fatalf("the team file was not read again: %+v %v", m, ok)
	}
	// A broken edit keeps the members in force and reports the problem.
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, ok := f.Lookup(ana.k); !ok || f.Err() == nil {
		t.Fatal("a broken edit must not lock the team out, and must be reported")
	}
}

// TestAReplacedFileIsSeen: an editor writes a new file and renames it over the old one; even with
// the same size and modification time, the new inode says it changed.
func TestAReplacedFileIsSeen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "team.keys")
	ana := newKey(t)
	write(t, path, line(t, ana, "Ana", engine.RoleOperator))
	f, err := team.Load(path, team.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	next := filepath.Join(dir, "team.keys.new")
	write(t, next, line(t, ana, "Ana", engine.RoleViewer)+"  ") // same length: operator+2 = viewer+4
	os.Chtimes(next, info.ModTime(), info.ModTime())
	if n, _ := os.Stat(next); n.Size() != info.Size() {
		t.Fatalf("the test needs equal sizes: %d %d", n.Size(), info.Size())
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Lookup(ana.k); m.Role != engine.RoleViewer {
		t.Fatalf("the renamed file was not read: %+v", m)
	}
}

func TestStandingLosesRightsAtOnceAndGainsThemOnlyAnew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "team.keys")
	ana, vic := newKey(t), newKey(t)
	write(t, path, line(t, ana, "Ana", engine.RoleOperator), line(t, vic, "Vic", engine.RoleViewer))
	f, err := team.Load(path, team.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Standing(ana.fp, engine.RoleOperator); s != (team.Standing{Role: engine.RoleOperator}) {
		t.Fatalf("ana: %+v", s)
	}
	write(t, path, line(t, ana, "Ana", engine.RoleViewer), line(t, vic, "Vic", engine.RoleOperator))
	if s := f.Standing(ana.fp, engine.RoleOperator); s != (team.Standing{Role: engine.RoleViewer, Demoted: true}) {
		t.Fatalf("ana demoted: %+v", s)
	}
	if s := f.Standing(vic.fp, engine.RoleViewer); s != (team.Standing{Role: engine.RoleViewer, Promoted: true}) {
		t.Fatalf("vic promoted mid-session stays a viewer: %+v", s)
	}
	write(t, path, line(t, vic, "Vic", engine.RoleOperator))
	if s := f.Standing(ana.fp, engine.RoleViewer); !s.Removed || s.Role != engine.RoleViewer {
		t.Fatalf("ana removed: %+v", s)
	}
}

func TestWatchTellsOfChangesAndProblemsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "team.keys")
	ana := newKey(t)
	write(t, path, line(t, ana, "Ana", engine.RoleOperator))
	f, err := team.Load(path, team.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, problems := make(chan struct{}, 10), make(chan error, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Watch(ctx, clk, 2*time.Second, func() { changes <- struct{}{} }, func(err error) { problems <- err })
	}()
	tick := func() {
		t.Helper()
		if err := clk.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
	}
	// Nothing changed: nothing is told. The next timer being set means the look is over.
	tick()
	clk.WaitForTimers(ctx, 1)
	if len(changes)+len(problems) != 0 {
		t.Fatal("an unchanged file was reported")
	}
	write(t, path, line(t, ana, "Ana", engine.RoleViewer))
	tick()
	<-changes
	// A change read by a lookup in between (an action consulting the file) is told all the same.
	write(t, path, line(t, ana, "Ana", engine.RoleOperator))
	if m, _ := f.Member(ana.fp); m.Role != engine.RoleOperator {
		t.Fatalf("the lookup did not read the change: %+v", m)
	}
	tick()
	<-changes
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	tick()
	if err := <-problems; !strings.Contains(err.Error(), "not an authorized_keys line") {
		t.Fatalf("problem: %v", err)
	}
	os.WriteFile(path, []byte("garbage\n"), 0o600) // written again: the same problem
	tick()
	clk.WaitForTimers(ctx, 1)
	if len(problems) != 0 {
		t.Fatalf("the same problem was reported twice: %v", <-problems)
	}
	if m, _ := f.Member(ana.fp); m.Role != engine.RoleOperator {
		t.Fatalf("the broken file replaced the members: %+v", m)
	}
	cancel()
	<-done
}

func TestStrictRefusesFilesOthersCanReadOrWrite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows (ACLs govern access there)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "team.keys")
	ana := newKey(t)
	write(t, path, line(t, ana, "Ana", engine.RoleOperator))
	for _, c := range []struct {
		mode os.FileMode
		want string
	}{
		{0o644, "has mode 0644: others can read it; fix it with: chmod 600 " + path},
		{0o620, "has mode 0620: others can change it (and make themselves an operator); fix it with: chmod 600 " + path},
		{0o602, "others can change it"},
		{0o640, "others can read it"},
	} {
		os.Chmod(path, c.mode)
		_, err := team.Load(path, team.Options{Strict: true})
		if !errors.Is(err, team.ErrNotPrivate) || !strings.Contains(err.Error(), "team file "+path+" ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mode %04o: %v", c.mode, err)
		}
		if _, err := team.Load(path, team.Options{}); err != nil {
			t.Errorf("without Strict the mode is not checked: %v", err)
		}
	}
	os.Chmod(path, 0o600)
	f, err := team.Load(path, team.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	// Made readable by others later: the members in force stay, and the problem is reported.
	os.Chmod(path, 0o644)
	if _, ok := f.Lookup(ana.k); !ok || !errors.Is(f.Err(), team.ErrNotPrivate) {
		t.Fatalf("a file opened up later: %v", f.Err())
	}
	os.Chmod(path, 0o600)
	// A folder others may write.
	os.Chmod(dir, 0o777)
	defer os.Chmod(dir, 0o700)
	if err := team.CheckPrivate(path, "password_file"); !errors.Is(err, team.ErrNotPrivate) || !strings.Contains(err.Error(), "chmod go-w "+dir) {
		t.Fatalf("a folder others can write: %v", err)
	}
	os.Chmod(dir, 0o777|os.ModeSticky)
	if err := team.CheckPrivate(path, "password_file"); err != nil {
		t.Fatalf("a sticky folder (as /tmp) is fine: %v", err)
	}
}
