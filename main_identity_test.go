package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cutover/engine"
	"cutover/engine/team"
)

// teamLines writes a team file of name → (key, role) lines with the mode given.
func writeTeamFile(t *testing.T, path string, mode os.FileMode, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("# team\n"+strings.Join(lines, "\n")+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func teamLine(t *testing.T, k sshKey, name string, role engine.Role) string {
	t.Helper()
	l, err := team.Line(k.pub, name, role)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCheckAndServeRefuseDuplicateNames: two keys under one display name would count as two
// people: check, serve and team add refuse the file.
func TestCheckAndServeRefuseDuplicateNames(t *testing.T) {
	path := writeRunbook(t, "name: t\nsteps:\n  - {id: g, title: G, kind: gate}\n")
	dir := filepath.Dir(path)
	keys := t.TempDir()
	ana, ana2, ben := newSSHKey(t, keys, "ana"), newSSHKey(t, keys, "ana2"), newSSHKey(t, keys, "ben")
	teamFile := filepath.Join(dir, defaultTeamFile)

	code, out, errs := cli(t, "check", "-f", path)
	if code != 0 || !strings.Contains(out, "team:         none") {
		t.Fatalf("no team file is fine for check: %d\n%s%s", code, out, errs)
	}
	writeTeamFile(t, teamFile, 0o600, teamLine(t, ana, "Ana", engine.RoleOperator), teamLine(t, ben, "Ben", engine.RoleViewer))
	if code, out, errs := cli(t, "check", "-f", path); code != 0 || !strings.Contains(out, "1 operator(s), 1 viewer(s)") {
		t.Fatalf("a good team file: %d\n%s%s", code, out, errs)
	}
	os.WriteFile(filepath.Join(keys, "ana2.pub"), ana2.pub, 0o600)
	code, _, errs = cli(t, "team", "add", "-f", path, "--name", "ana", "--role", "operator", filepath.Join(keys, "ana2.pub"))
	if code == 0 || !strings.Contains(errs, `the name "ana" is already on line 2: display names must be unique`) {
		t.Fatalf("team add of a second key under Ana's name: %d %s", code, errs)
	}
	writeTeamFile(t, teamFile, 0o600, teamLine(t, ana, "Ana", engine.RoleOperator), teamLine(t, ana2, "ANA", engine.RoleOperator))
	for _, args := range [][]string{{"check", "-f", path}, {"serve", "-f", path, "--listen", "127.0.0.1:0"}} {
		code, _, errs := cli(t, args...)
		if code != exitFail || !strings.Contains(errs, teamFile+`:3: the name "ANA" is already on line 2`) {
			t.Errorf("%s with two keys named Ana: %d %s", args[0], code, errs)
		}
	}
}

// TestServeRefusesFilesOthersCanReadOrWrite: as OpenSSH's StrictModes, serve (and run --listen)
// refuse a team file or a password file that group or others may read or write, naming the file,
// its mode and the chmod that fixes it; check warns about the password file.
func TestServeRefusesFilesOthersCanReadOrWrite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows (ACLs govern access there)")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "sa.password")
	os.WriteFile(pw, []byte("secret\n"), 0o644)
	os.Chmod(pw, 0o644)
	path := filepath.Join(dir, "cutover.yaml")
	src := "name: t\nconnections:\n  source: {server: 127.0.0.1, port: 1, database: AX, auth: sql, user: sa, password_file: sa.password}\n" +
		"steps:\n  - {id: g, title: G, kind: gate}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	teamFile := filepath.Join(dir, defaultTeamFile)
	writeTeamFile(t, teamFile, 0o664, teamLine(t, newSSHKey(t, t.TempDir(), "ana"), "Ana", engine.RoleOperator))

	code, out, errs := cli(t, "check", "-f", path)
	if code != exitFail || !strings.Contains(errs, "team file "+teamFile+" has mode 0664: others can change it (and make themselves an operator); fix it with: chmod 600 "+teamFile) {
		t.Fatalf("check with a team file others can write: %d\n%s%s", code, out, errs)
	}
	code, _, errs = cli(t, "serve", "-f", path, "--listen", "127.0.0.1:0")
	if code != exitFail || !strings.Contains(errs, "connections.source password_file "+pw+" has mode 0644: others can read it; fix it with: chmod 600 "+pw) {
		t.Fatalf("serve with a password file others can read: %d %s", code, errs)
	}
	os.Chmod(pw, 0o600)
	code, _, errs = cli(t, "serve", "-f", path, "--listen", "127.0.0.1:0")
	if code != exitFail || !strings.Contains(errs, "has mode 0664: others can change it") {
		t.Fatalf("serve with a team file others can write: %d %s", code, errs)
	}
	os.Chmod(pw, 0o640)
	os.Chmod(teamFile, 0o600)
	code, out, errs = cli(t, "check", "-f", path)
	if code != 0 || !strings.Contains(out, "warning:      connections.source password_file "+pw+" has mode 0640: others can read it") {
		t.Fatalf("check warns about the password file: %d\n%s%s", code, out, errs)
	}
}
