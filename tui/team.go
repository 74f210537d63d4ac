package tui

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
)

// The team file lists who may join the cockpit over SSH: one public key per line in
// authorized_keys format, each with a role and a display name as options:
//
//	# cutover team
//	cutover-role="operator",cutover-name="Ana Silva" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… ana@laptop
//	cutover-role="viewer",cutover-name="Project manager" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… pm@office
//
// The role is operator (may act and confirm) or viewer (sees everything, acts on nothing); the
// name is what the journal and the other sessions show (the key's comment when absent). Blank
// lines and # comments are ignored. A key not in the file is refused.

// TeamMember is one person of the team file.
type TeamMember struct {
	Name        string
	Role        engine.Role
	Fingerprint string
	Key         gossh.PublicKey
	Line        int
}

// Team is the team file, re-read when it changes.
type Team struct {
	path string

	mu      sync.Mutex
	members map[string]TeamMember // by fingerprint
	modTime time.Time
	size    int64
	// lastErr is the newest reload failure (the previous members stay in force).
	lastErr error
}

// LoadTeam reads a team file. Every problem is reported with the file and line.
func LoadTeam(path string) (*Team, error) {
	t := &Team{path: path}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTeam reads the team file's text.
func ParseTeam(name string, data []byte) (map[string]TeamMember, error) {
	members := map[string]TeamMember{}
	var problems []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		text := strings.TrimSpace(string(line))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, comment, options, rest, err := gossh.ParseAuthorizedKey([]byte(text))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: not an authorized_keys line: %v", name, n, err))
			continue
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: one key per line", name, n))
			continue
		}
		m := TeamMember{Name: strings.TrimSpace(comment), Key: key, Fingerprint: gossh.FingerprintSHA256(key), Line: n}
		for _, opt := range options {
			k, v, _ := strings.Cut(opt, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "cutover-role":
				switch engine.Role(v) {
				case engine.RoleOperator, engine.RoleViewer:
					m.Role = engine.Role(v)
				default:
					problems = append(problems, fmt.Sprintf("%s:%d: cutover-role: %q is neither operator nor viewer", name, n, v))
				}
			case "cutover-name":
				if strings.TrimSpace(v) == "" {
					problems = append(problems, fmt.Sprintf("%s:%d: cutover-name is empty", name, n))
				}
				m.Name = strings.TrimSpace(v)
			default:
				problems = append(problems, fmt.Sprintf("%s:%d: unknown option %q (use cutover-role and cutover-name)", name, n, k))
			}
		}
		if m.Role == "" {
			problems = append(problems, fmt.Sprintf("%s:%d: cutover-role is missing (operator or viewer)", name, n))
		}
		if m.Name == "" {
			m.Name = "key " + m.Fingerprint[len(m.Fingerprint)-8:]
		}
		if prev, dup := members[m.Fingerprint]; dup {
			problems = append(problems, fmt.Sprintf("%s:%d: this key is already on line %d (%s)", name, n, prev.Line, prev.Name))
			continue
		}
		members[m.Fingerprint] = m
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return members, nil
}

// reload re-reads the file when it changed since the last read.
func (t *Team) reload() error {
	info, err := os.Stat(t.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("team file %s does not exist: create it with `cutover team add` (one operator at least): %w", t.path, err)
		}
		return fmt.Errorf("team file: %w", err)
	}
	t.mu.Lock()
	unchanged := t.members != nil && info.ModTime().Equal(t.modTime) && info.Size() == t.size
	t.mu.Unlock()
	if unchanged {
		return nil
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("team file: %w", err)
	}
	members, err := ParseTeam(t.path, data)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.lastErr = err
		if t.members == nil {
			return err
		}
		return nil // keep the members that were in force; the error is reported
	}
	t.members, t.modTime, t.size, t.lastErr = members, info.ModTime(), info.Size(), nil
	return nil
}

// Lookup finds a key's member, re-reading the file first if it changed.
func (t *Team) Lookup(key gossh.PublicKey) (TeamMember, bool) {
	_ = t.reload()
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[gossh.FingerprintSHA256(key)]
	return m, ok
}

// Err is the newest reload failure, if the file is broken now (the old members stay in force).
func (t *Team) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr
}

// Size is how many members the file has.
func (t *Team) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.members)
}

// TeamLine is the team file line for a public key (authorized_keys text), checked.
func TeamLine(pub []byte, name string, role engine.Role) (string, error) {
	key, comment, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		return "", fmt.Errorf("not a public key: %w", err)
	}
	if role != engine.RoleOperator && role != engine.RoleViewer {
		return "", fmt.Errorf("role %q: use operator or viewer", role)
	}
	if strings.TrimSpace(name) == "" {
		name = comment
	}
	if strings.ContainsAny(name, "\"\n") || strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("name %q: give a display name without quotes", name)
	}
	line := fmt.Sprintf("cutover-role=%q,cutover-name=%q %s", string(role), strings.TrimSpace(name), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))))
	if comment != "" {
		line += " " + comment
	}
	return line, nil
}
