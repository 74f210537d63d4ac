package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/team"
)

// The demo team: who may join the demo's cockpit over SSH, so that a newcomer tries the
// two-person rule for real (two approvals of the production refresh and of going live, each from
// an operator's own session). Its files are in the demo's files' directory (DirName).
const (
	// TeamFile is the team file, beside the demo's runbooks (where every command looks for it).
	TeamFile = "cutover-team.keys"
	// KeysDir holds the team's private keys (0600) and public keys.
	KeysDir = "keys"
	// SecondOperator is the teammate the demo makes up, who joins from another terminal.
	SecondOperator = "Ben"
	// HostKeyFile is the demo cockpit's SSH host key, the same for both of the rollback
	// scenario's acts and across restarts (its known_hosts file holds it).
	HostKeyFile = "ssh_host_ed25519_key"
	// KnownHostsFile holds the host key under HostKeyAlias: the join command checks the server
	// strictly without touching the user's ~/.ssh/known_hosts, whatever port it listens on.
	KnownHostsFile = "known_hosts"
	// HostKeyAlias is the name the join command knows the demo's host key by.
	HostKeyAlias = "cutover-demo"
)

// Team is the demo's team: the local operator's key and the second operator's, both operators in
// the team file, and the known_hosts file of the demo's cockpit.
type Team struct {
	// File is the team file.
	File string
	// SecondKey is the second operator's private key file.
	SecondKey string
	// HostKey and KnownHosts are the cockpit's host key and the file the join command trusts it in.
	HostKey, KnownHosts string
}

// TeamIn is the demo team whose files are in demoDir (made by EnsureTeam).
func TeamIn(demoDir string) Team {
	return Team{
		File:       filepath.Join(demoDir, TeamFile),
		SecondKey:  filepath.Join(demoDir, KeysDir, strings.ToLower(SecondOperator)),
		HostKey:    filepath.Join(demoDir, HostKeyFile),
		KnownHosts: filepath.Join(demoDir, KnownHostsFile),
	}
}

// EnsureTeam makes the demo team in demoDir once: an ed25519 key for the local operator (named
// local, in the team file as local's name) and one for SecondOperator, and the team file naming
// both as operators, as `cutover team add` writes it. A team file already there is the team:
// nothing is written (a resumed demo keeps its keys). made says whether it was made now.
func EnsureTeam(demoDir, local string) (t Team, made bool, err error) {
	t = TeamIn(demoDir)
	if _, err := os.Stat(t.File); err == nil {
		return t, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return t, false, fmt.Errorf("demo team: %w", err)
	}
	keys := filepath.Join(demoDir, KeysDir)
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return t, false, fmt.Errorf("demo team: %w", err)
	}
	// Display names are unique in a team file; the made-up teammate's name is taken as it is.
	if strings.EqualFold(strings.TrimSpace(local), SecondOperator) {
		local += " (local)"
	}
	text := team.Header
	for _, m := range []struct{ file, name string }{{"local", local}, {strings.ToLower(SecondOperator), SecondOperator}} {
		pub, err := newKey(filepath.Join(keys, m.file), m.name)
		if err != nil {
			return t, false, fmt.Errorf("demo team: %w", err)
		}
		line, err := team.Line(pub, m.name, engine.RoleOperator)
		if err != nil {
			return t, false, fmt.Errorf("demo team: %w", err)
		}
		text += line + "\n"
	}
	if _, err := team.Parse(t.File, []byte(text)); err != nil {
		return t, false, fmt.Errorf("demo team: %w", err)
	}
	// The team file last: until it is there, the next start makes the keys again.
	if err := journal.WriteFileAtomic(t.File, []byte(text), 0o600); err != nil {
		return t, false, fmt.Errorf("demo team: %w", err)
	}
	return t, true, nil
}

// newKey writes an ed25519 key pair as OpenSSH writes one: the private key at path (0600), the
// public key at path.pub. It returns the public key's authorized_keys line.
func newKey(path, name string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	comment := strings.ToLower(keyComment.ReplaceAllString(name, "-")) + "@" + HostKeyAlias
	block, err := gossh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	pub := []byte(strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + comment + "\n")
	if err := journal.WriteFileAtomic(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := journal.WriteFileAtomic(path+".pub", pub, 0o600); err != nil {
		return nil, err
	}
	return pub, nil
}

// keyComment is what a name's key comment replaces (a comment is one word).
var keyComment = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// WriteKnownHosts writes the known_hosts file the join command trusts: the cockpit's host key
// (its authorized_keys form) under HostKeyAlias.
func (t Team) WriteKnownHosts(hostKey string) error {
	if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(hostKey)); err != nil {
		return fmt.Errorf("demo host key: %w", err)
	}
	return journal.WriteFileAtomic(t.KnownHosts, []byte(HostKeyAlias+" "+strings.TrimSpace(hostKey)+"\n"), 0o600)
}

// JoinCommand is the command that joins the demo's cockpit, listening on host:port, as the second
// operator: their key only (not an agent's), the host key checked strictly against the demo's own
// known_hosts file, so it works the first time and changes nothing in ~/.ssh.
func (t Team) JoinCommand(host, port string) string {
	return strings.Join([]string{"ssh", "-i", shellWord(t.SecondKey), "-p", port, "-o", "IdentitiesOnly=yes",
		"-o", "HostKeyAlias=" + HostKeyAlias, "-o", shellWord("UserKnownHostsFile=" + configWord(t.KnownHosts)), "-o", "StrictHostKeyChecking=yes",
		shellWord(host)}, " ")
}

// configWord quotes a path with spaces for an ssh_config option (UserKnownHostsFile takes several
// files separated by spaces).
func configWord(s string) string {
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
