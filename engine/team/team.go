// Package team is the team file: who may join the cockpit over SSH, and as what. It is access
// policy, read again whenever the file changes and consulted on every action of an SSH session:
//
//	# cutover team
//	cutover-role="operator",cutover-name="Ana Silva" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… ana@laptop
//	cutover-role="viewer",cutover-name="Project manager" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… pm@office
//
// One public key per line in authorized_keys format (OpenSSH's sshd(8) AUTHORIZED_KEYS FILE FORMAT),
// with two options of cutover's own: the role — operator (may act and confirm) or viewer (sees
// everything, acts on nothing) — and the display name the journal and the other sessions show
// (the key's comment when absent). Blank lines and # comments are ignored. A key not in the file
// is refused.
//
// A person is their key: the distinct-approvals rule counts key fingerprints. So display names are
// unique in the file — two keys under one name would be one person counted twice — and a person
// is given one key.
package team

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/clock"
)

// Member is one person of the team file.
type Member struct {
	Name        string
	Role        engine.Role
	Fingerprint string
	Key         gossh.PublicKey
	// Line is where the key is in the file.
	Line int
}

// Roster is a team file's members by key fingerprint.
type Roster map[string]Member

// Sorted lists the members in the file's order.
func (r Roster) Sorted() []Member {
	out := make([]Member, 0, len(r))
	for _, m := range r {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Parse reads a team file's text; name is the file's name for the messages. Every problem is
// reported, each with the file and line.
func Parse(name string, data []byte) (Roster, error) {
	members := Roster{}
	names := map[string]Member{}
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
		m := Member{Name: strings.TrimSpace(comment), Key: key, Fingerprint: gossh.FingerprintSHA256(key), Line: n}
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
		if prev, dup := names[foldName(m.Name)]; dup {
			problems = append(problems, fmt.Sprintf("%s:%d: the name %q is already on line %d: display names must be unique, or two keys would count as two people under one name (give a person one key)", name, n, m.Name, prev.Line))
			continue
		}
		members[m.Fingerprint] = m
		names[foldName(m.Name)] = m
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return members, nil
}

// foldName is a display name as compared for uniqueness: case and runs of spaces do not make two
// names.
func foldName(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), " ")) }

// Line is the team file line for a public key (authorized_keys text), checked.
func Line(pub []byte, name string, role engine.Role) (string, error) {
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

// Header is how a new team file begins (cutover team add writes it, as the demo does its team's).
const Header = "# cutover team: who may join the cockpit over SSH, as what. One public key per line (authorized_keys\n" +
	"# format) with cutover-role=\"operator\" or \"viewer\" and cutover-name=\"Display Name\".\n"

// Options configure how a team file is read.
type Options struct {
	// Strict refuses the file, at the first read and at every later one, when others than its
	// owner may read or write it or it belongs to someone else (see CheckPrivate). A later read
	// so refused keeps the members in force, as a broken edit does.
	Strict bool
}

// File is the team file, read again when it changes. Safe for concurrent use.
type File struct {
	path string
	opt  Options

	mu      sync.Mutex
	members Roster
	seen    os.FileInfo
	// gen counts the times the members were replaced (Watch tells of each, whoever read it).
	gen uint64
	// lastErr is the newest failure to read the file again (the previous members stay in force).
	lastErr error
}

// Load reads a team file. Every problem is reported with the file and line.
func Load(path string, opt Options) (*File, error) {
	f := &File{path: path, opt: opt}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Reload reads the file again if it changed since the last read: another size, modification time
// or inode (an editor that writes a new file and renames it over the old one). changed reports
// that the members were replaced. A file that cannot be read, is broken or (with Strict) is not
// private any more leaves the members that were in force and is reported by err and Err.
func (f *File) Reload() (changed bool, err error) {
	info, err := os.Stat(f.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("team file %s does not exist: create it with `cutover team add` (one operator at least): %w", f.path, err)
		} else {
			err = fmt.Errorf("team file: %w", err)
		}
		return false, f.failed(err)
	}
	f.mu.Lock()
	unchanged := f.members != nil && f.seen != nil && sameFile(f.seen, info)
	f.mu.Unlock()
	if unchanged {
		return false, nil
	}
	if f.opt.Strict {
		if err := CheckPrivate(f.path, "team file"); err != nil {
			return false, f.failed(err)
		}
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return false, f.failed(fmt.Errorf("team file: %w", err))
	}
	members, err := Parse(f.path, data)
	if err != nil {
		return false, f.failed(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members, f.seen, f.lastErr = members, info, nil
	f.gen++
	return true, nil
}

// sameFile reports whether two looks at the path saw the same contents, as far as stat tells.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

// failed records a failed read; the members in force stay.
func (f *File) failed(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err
	return err
}

// Lookup finds a key's member, reading the file again first if it changed.
func (f *File) Lookup(key gossh.PublicKey) (Member, bool) {
	return f.Member(gossh.FingerprintSHA256(key))
}

// Member finds the member of a key fingerprint, reading the file again first if it changed.
func (f *File) Member(fingerprint string) (Member, bool) {
	_, _ = f.Reload()
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.members[fingerprint]
	return m, ok
}

// Members lists the members in force, in the file's order.
func (f *File) Members() []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members.Sorted()
}

// Err is the newest failure to read the file again, if it is broken now (the old members stay in
// force).
func (f *File) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// Size is how many members the file has.
func (f *File) Size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.members)
}

// generation counts the replacements of the members so far.
func (f *File) generation() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// Watch reads the file again every interval on clk until ctx ends, calling changed once the
// members were replaced since its last look — by its own read or by a lookup in between (an
// action that consulted the file) — and failed once for each new problem (a broken edit, a file
// made readable by others), not again while the same problem stays.
func (f *File) Watch(ctx context.Context, clk clock.Clock, every time.Duration, changed func(), failed func(error)) {
	last := ""
	gen := f.generation()
	for {
		t := clk.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		_, err := f.Reload()
		switch {
		case err != nil:
			if err.Error() != last && failed != nil {
				failed(err)
			}
			last = err.Error()
		default:
			last = ""
		}
		if g := f.generation(); g != gen {
			gen = g
			if changed != nil {
				changed()
			}
		}
	}
}

// Standing is what a session that joined as one member may do now, by the file in force.
type Standing struct {
	// Role is the session's role from now on: a session keeps the lower of the role it joined
	// with and the file's (it loses rights at once, and gains them only by connecting again).
	Role engine.Role
	// Removed is set when the key is no longer in the file: the session must end.
	Removed bool
	// Demoted is set when the session joined as an operator and the file now says viewer.
	Demoted bool
	// Promoted is set when the file now says operator for a session that joined as a viewer: it
	// stays a viewer until it connects again.
	Promoted bool
}

// Standing decides what a session that joined as joined (with role, which may already be lower
// than the member's) may do now.
func (f *File) Standing(fingerprint string, role engine.Role) Standing {
	now, ok := f.Member(fingerprint)
	switch {
	case !ok:
		return Standing{Role: engine.RoleViewer, Removed: true}
	case now.Role == engine.RoleOperator && role == engine.RoleOperator:
		return Standing{Role: engine.RoleOperator}
	case now.Role == engine.RoleOperator:
		return Standing{Role: role, Promoted: true}
	}
	return Standing{Role: engine.RoleViewer, Demoted: role == engine.RoleOperator}
}
