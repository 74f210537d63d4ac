package adapter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"cutover/engine/runbook"
	"cutover/engine/team"
)

// SecretFiles are the runbook's files of secrets (password_file, client_secret_file), each with
// where it is named, as absolute or runbook-relative paths resolved.
func SecretFiles(rb *runbook.Runbook) [][2]string {
	var out [][2]string
	add := func(where, file string) {
		if file == "" {
			return
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(rb.Dir, file)
		}
		out = append(out, [2]string{where, file})
	}
	for _, c := range []*runbook.Connection{rb.Connections.Source, rb.Connections.Distribution, rb.Connections.Target} {
		if c != nil {
			add("connections."+c.Role+" password_file", c.PasswordFile)
		}
	}
	if l := rb.LCS; l != nil {
		add("lcs password_file", l.PasswordFile)
		add("lcs client_secret_file", l.ClientSecretFile)
	}
	return out
}

// CheckSecretFiles refuses secret files others can read or change (team.CheckPrivate).
func CheckSecretFiles(rb *runbook.Runbook) error {
	var errs []error
	for _, f := range SecretFiles(rb) {
		if err := team.CheckPrivate(f[1], f[0]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Secret reads a password from an environment variable or a file (relative to dir).
func Secret(dir, env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	case file != "":
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// PromptPassword asks for a connection's password on the terminal (without echo).
func PromptPassword(c *runbook.Connection) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("connections.%s asks for its password on the terminal (password_prompt), but there is none; use password_env or password_file", c.Role)
	}
	b, err := ReadHidden(fmt.Sprintf("password for %s@%s/%s (connections.%s): ", c.User, c.Server, c.Database, c.Role))
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}

// ReadHidden asks on the terminal (prompt on stderr, the answer from stdin, not echoed).
func ReadHidden(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	defer fmt.Fprintln(os.Stderr)
	return term.ReadPassword(int(os.Stdin.Fd()))
}
