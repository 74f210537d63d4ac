package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TokenFileName is the access token's file in the state directory (mode 0600).
const TokenFileName = "http.token"

// tokenBytes is the token's entropy: 256 bits from crypto/rand.
const tokenBytes = 32

// LoadOrCreateToken returns the run's access token from the state directory, making one (256
// random bits, written 0600) when there is none; created says it was just made — the only time
// it is printed.
func LoadOrCreateToken(stateDir string) (token string, created bool, err error) {
	path := filepath.Join(stateDir, TokenFileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		tok := strings.TrimSpace(string(b))
		if err := checkToken(tok); err != nil {
			return "", false, fmt.Errorf("%s: %w (revoke it with `cutover http revoke` to make a new one)", path, err)
		}
		return tok, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read the web access token: %w", err)
	}
	tok, err := writeToken(stateDir)
	return tok, err == nil, err
}

// RevokeToken replaces the run's access token with a new one: every link and scrape
// configuration with the old one stops working at once, open pages included. It returns the new
// token.
func RevokeToken(stateDir string) (string, error) {
	if _, err := os.Stat(stateDir); err != nil {
		return "", fmt.Errorf("revoke the web access token: %w", err)
	}
	return writeToken(stateDir)
}

// writeToken writes a fresh token atomically (a reader never sees half of one).
func writeToken(stateDir string) (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a web access token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	f, err := os.CreateTemp(stateDir, TokenFileName+".*")
	if err != nil {
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(stateDir, TokenFileName)); err != nil {
		return "", fmt.Errorf("write the web access token: %w", err)
	}
	return tok, nil
}

func checkToken(tok string) error {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != tokenBytes {
		return errors.New("not a cutover web access token")
	}
	return nil
}

// tokens is the current token as the state directory holds it: a revocation (a new file) is
// noticed on the next request.
type tokens struct {
	path string
	mu   sync.Mutex
	tok  string
	mod  time.Time
	size int64
}

func newTokens(stateDir, tok string) *tokens {
	t := &tokens{path: filepath.Join(stateDir, TokenFileName), tok: tok}
	if fi, err := os.Stat(t.path); err == nil {
		t.mod, t.size = fi.ModTime(), fi.Size()
	}
	return t
}

// current is the valid token ("" when it cannot be read: nobody gets in).
func (t *tokens) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := os.Stat(t.path)
	if err != nil {
		return ""
	}
	if !fi.ModTime().Equal(t.mod) || fi.Size() != t.size {
		b, err := os.ReadFile(t.path)
		if err != nil || checkToken(strings.TrimSpace(string(b))) != nil {
			return ""
		}
		t.tok, t.mod, t.size = strings.TrimSpace(string(b)), fi.ModTime(), fi.Size()
	}
	return t.tok
}

// matches compares a presented token with the current one in constant time.
func (t *tokens) matches(presented string) bool {
	cur := t.current()
	return cur != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(cur)) == 1
}

// session is the cookie value a valid link is exchanged for: derived from the token (so the
// token itself is never sent back, and a revoked token ends the session), never the token.
func session(tok string) string {
	sum := sha256.Sum256([]byte("cutover web session\x00" + tok))
	return hex.EncodeToString(sum[:])
}

// sessionMatches checks a cookie against the current token.
func (t *tokens) sessionMatches(cookie string) bool {
	cur := t.current()
	return cur != "" && subtle.ConstantTimeCompare([]byte(cookie), []byte(session(cur))) == 1
}
