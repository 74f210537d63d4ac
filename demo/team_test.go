package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/engine/team"
)

// TestEnsureTeamOnce: the team is made once, both operators in a team file that parses; a local
// operator named like the made-up teammate gets another display name (names are unique); a second
// call changes nothing.
func TestEnsureTeamOnce(t *testing.T) {
	dir := t.TempDir()
	tm, made, err := EnsureTeam(dir, "ben")
	if err != nil || !made {
		t.Fatalf("made %v: %v", made, err)
	}
	b, err := os.ReadFile(tm.File)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := team.Parse(tm.File, b); err != nil {
		t.Fatalf("the demo's team file does not parse: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), `cutover-name="ben (local)"`) || !strings.Contains(string(b), `cutover-name="Ben"`) {
		t.Fatalf("team file:\n%s", b)
	}
	key, _ := os.ReadFile(tm.SecondKey)
	if _, made, err := EnsureTeam(dir, "ana"); err != nil || made {
		t.Fatalf("second call: made %v, %v", made, err)
	}
	if again, _ := os.ReadFile(tm.SecondKey); string(again) != string(key) {
		t.Fatal("the second call replaced Ben's key")
	}
}

// TestJoinCommandQuotesPaths: a state directory with spaces or quotes still gives a command a
// POSIX shell runs as meant (the known_hosts path quoted for ssh_config too).
func TestJoinCommandQuotesPaths(t *testing.T) {
	tm := TeamIn(filepath.Join("/tmp/it's a demo", DirName))
	got := tm.JoinCommand("127.0.0.1", "2222")
	want := `ssh -i '/tmp/it'\''s a demo/demo/keys/ben' -p 2222 -o IdentitiesOnly=yes -o HostKeyAlias=cutover-demo -o 'UserKnownHostsFile="/tmp/it'\''s a demo/demo/known_hosts"' -o StrictHostKeyChecking=yes 127.0.0.1`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if got := TeamIn("/tmp/d/demo").JoinCommand("127.0.0.1", "1"); strings.Contains(got, "'") {
		t.Fatalf("quoted a plain path: %s", got)
	}
}
