package cmd

import (
	"bytes"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/team"
)

// TestScript runs the command-line end-to-end cases in testdata/script: each is the cutover
// binary (this test binary, installed as "cutover" on the script's PATH by TestMain) run as an
// operator would run it, with its files, its output and its exit code checked.
//
// Beyond testscript's own commands the scripts have:
//
//	exits N prog args...        run prog; it must exit with status N (stdout and stderr kept)
//	sshkey NAME                 write an ed25519 key pair: NAME (private, 0600) and NAME.pub
//	teamline FILE KEY NAME ROLE append KEY's line for NAME as ROLE to the team file FILE
//	replace FILE OLD NEW        replace the first OLD in FILE with NEW (OLD must be there)
//	tamper FILE                 flip one bit in the middle line of FILE; $TAMPERED is its number
//	cutlines FILE N             cut the last N lines of FILE
//	chainline FILE TYPE STEP    append a journal record chained to FILE's last line
//	envfile VAR FILE            set $VAR to FILE's content (surrounding space trimmed)
//
// and $FIXTURES, the runbook parser's test files (engine/runbook/testdata).
func TestScript(t *testing.T) {
	fixtures, err := filepath.Abs(filepath.Join("..", "engine", "runbook", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("FIXTURES", fixtures)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     scriptExits,
			"sshkey":    scriptSSHKey,
			"teamline":  scriptTeamLine,
			"replace":   scriptReplace,
			"tamper":    scriptTamper,
			"cutlines":  scriptCutLines,
			"chainline": scriptChainLine,
			"envfile":   scriptEnvFile,
		},
	})
}

func usage(ts *testscript.TestScript, neg bool, args []string, n int, form string) {
	if neg {
		ts.Fatalf("%s does not take !", strings.Fields(form)[0])
	}
	if len(args) < n {
		ts.Fatalf("usage: %s", form)
	}
}

// scriptExits runs a program and checks its exit status: 0 ok, 1 a refusal or failure, 2 a
// usage mistake, 3 (status) unhealthy replication.
func scriptExits(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 2, "exits N prog args...")
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not a status", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

func scriptSSHKey(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 1, "sshkey NAME")
	_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
	ts.Check(err)
	block, err := gossh.MarshalPrivateKey(priv, args[0])
	ts.Check(err)
	signer, err := gossh.NewSignerFromKey(priv)
	ts.Check(err)
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o700))
	ts.Check(os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	ts.Check(os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644))
}

func scriptTeamLine(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 4, "teamline FILE KEY NAME ROLE")
	line, err := team.Line([]byte(ts.ReadFile(args[1])), args[2], engine.Role(args[3]))
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	ts.Check(err)
	_, err = fmt.Fprintln(f, line)
	ts.Check(errors.Join(err, f.Close()))
}

func scriptReplace(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 3, "replace FILE OLD NEW")
	path := ts.MkAbs(args[0])
	data := ts.ReadFile(args[0])
	if !strings.Contains(data, args[1]) {
		ts.Fatalf("replace: %s does not contain %q", args[0], args[1])
	}
	info, err := os.Stat(path)
	ts.Check(err)
	ts.Check(os.WriteFile(path, []byte(strings.Replace(data, args[1], args[2], 1)), info.Mode().Perm()))
}

func scriptTamper(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 1, "tamper FILE")
	data := []byte(ts.ReadFile(args[0]))
	lines := bytes.SplitAfter(data, []byte("\n"))
	mid := len(lines) / 2
	off := len(bytes.Join(lines[:mid], nil)) + 20
	if off >= len(data) {
		ts.Fatalf("tamper: %s is too short", args[0])
	}
	data[off] ^= 0x20
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o600))
	ts.Setenv("TAMPERED", strconv.Itoa(mid+1))
}

func scriptCutLines(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 2, "cutlines FILE N")
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	lines := strings.SplitAfter(strings.TrimSuffix(ts.ReadFile(args[0]), "\n"), "\n")
	if n > len(lines) {
		ts.Fatalf("cutlines: %s has %d lines", args[0], len(lines))
	}
	kept := strings.Join(lines[:len(lines)-n], "")
	if !strings.HasSuffix(kept, "\n") && kept != "" {
		kept += "\n"
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(kept), 0o600))
}

// scriptChainLine appends a record as the engine would have written it: the next sequence
// number, chained to the journal's head by its hash.
func scriptChainLine(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 3, "chainline FILE TYPE STEP")
	path := ts.MkAbs(args[0])
	c, err := journal.Read(path)
	ts.Check(err)
	body, err := json.Marshal(struct {
		Seq  uint64    `json:"seq"`
		Time time.Time `json:"time"`
		Type string    `json:"type"`
		Step string    `json:"step"`
		Prev string    `json:"prev"`
	}{c.Seq + 1, time.Now().UTC(), args[1], args[2], c.Head})
	ts.Check(err)
	sum := sha256.Sum256(body)
	line := fmt.Sprintf(`%s,"hash":"%s"}`+"\n", body[:len(body)-1], hex.EncodeToString(sum[:]))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.WriteString(line)
	ts.Check(errors.Join(err, f.Close()))
	if _, err := journal.Read(path); err != nil {
		ts.Fatalf("chainline: the added line does not chain: %v", err)
	}
}

func scriptEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	usage(ts, neg, args, 2, "envfile VAR FILE")
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}
