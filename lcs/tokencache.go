package lcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// TokenCacheFile is the name of the token cache file inside the cache directory.
const TokenCacheFile = "lcs-token-cache.json"

// tokenCache persists MSAL's token cache through MSAL's cache hooks (cache.ExportReplace): MSAL
// calls Replace before it reads the cache and Export after it writes it. The file is written
// atomically (temporary file, fsync, rename) with mode 0600 in a directory created 0700. It holds
// access and refresh tokens, never a password or client secret (MSAL does not cache those).
// With no directory the cache lives in memory only.
//
// It also implements "forget the access token": after dropAccessTokens the next Replace hands
// MSAL the cache without its access tokens, so MSAL's silent acquisition redeems the refresh token
// instead of returning the token LCS just refused or that is about to expire.
type tokenCache struct {
	path string // "" = memory only
	warn func(string)

	mu   sync.Mutex
	last []byte // the last exported or loaded cache, used when there is no file
	drop bool
}

var _ cache.ExportReplace = (*tokenCache)(nil)

func newTokenCache(dir string, warn func(string)) (*tokenCache, error) {
	c := &tokenCache{warn: warn}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token cache directory: %w", err)
	}
	c.path = filepath.Join(dir, TokenCacheFile)
	return c, nil
}

// dropAccessTokens makes the next Replace forget every cached access token.
func (c *tokenCache) dropAccessTokens() {
	c.mu.Lock()
	c.drop = true
	c.mu.Unlock()
}

// Replace loads the persisted cache into MSAL.
func (c *tokenCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	data := c.last
	if c.path != "" {
		b, err := os.ReadFile(c.path)
		switch {
		case err == nil:
			data = b
		case errors.Is(err, fs.ErrNotExist):
		default:
			return fmt.Errorf("read token cache: %w", err)
		}
	}
	if c.drop {
		c.drop = false
		if data != nil {
			stripped, err := withoutAccessTokens(data)
			if err == nil {
				data = stripped
				if err := c.writeLocked(data); err != nil {
					return err
				}
			}
		}
	}
	if data == nil {
		return nil
	}
	if err := u.Unmarshal(data); err != nil {
		// A damaged cache only costs a sign-in; start from an empty one.
		c.warn("the token cache could not be read and was ignored; you may be asked to sign in again")
		c.last = nil
		return u.Unmarshal([]byte("{}"))
	}
	c.last = data
	return nil
}

// Export persists MSAL's cache.
func (c *tokenCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("serialise token cache: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(data)
}

func (c *tokenCache) writeLocked(data []byte) error {
	c.last = data
	if c.path == "" {
		return nil
	}
	dir := filepath.Dir(c.path)
	f, err := os.CreateTemp(dir, ".lcs-token-cache-*.tmp")
	if err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("write token cache: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	ok = true
	return nil
}

// withoutAccessTokens removes the access tokens from a serialised MSAL cache (the unified MSAL
// cache schema shared by all MSAL libraries keeps them under "AccessToken").
func withoutAccessTokens(data []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if _, ok := m["AccessToken"]; !ok {
		return data, nil
	}
	m["AccessToken"] = json.RawMessage("{}")
	return json.Marshal(m)
}
