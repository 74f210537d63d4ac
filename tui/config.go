package tui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ThemeChoice picks light or dark styles.
type ThemeChoice int

// Theme choices: auto asks the terminal (and stays dark when it does not answer, as tmux before
// 3.4 does not).
const (
	ThemeAuto ThemeChoice = iota
	ThemeDark
	ThemeLight
)

// Config is the cockpit's own settings file (not the runbook): theme, colour and key overrides.
// Every entry is optional; a missing one keeps its default.
type Config struct {
	Theme   ThemeChoice
	NoColor bool
	// Keys maps binding names (see KeyMap.BindingNames) to keys.
	Keys map[string][]string
	// LogWrap and LogFollow are the log pane's starting toggles.
	LogWrap, LogFollow bool
	// Path is where the config was read from ("" when none exists).
	Path string
}

// DefaultConfig is what an absent file means.
func DefaultConfig() Config { return Config{LogFollow: true} }

// DefaultConfigPath is $XDG_CONFIG_HOME/cutover/config.yaml (or the OS's equivalent).
func DefaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "cutover", "config.yaml")
}

// LoadConfig reads a config file. A missing file is no error when optional (the default path); a
// bad one names the file, the line and the key.
func LoadConfig(path string, optional bool) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return cfg, nil
		}
		return cfg, fmt.Errorf("cockpit config: %w", err)
	}
	cfg.Path = path
	return cfg, parseConfig(path, data, &cfg)
}

func parseConfig(path string, data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	var problems []string
	bad := func(n *yaml.Node, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d:%d: %s", path, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	if root.Kind != yaml.MappingNode {
		bad(root, "expected a mapping of settings")
		return errors.New(strings.Join(problems, "\n"))
	}
	boolOf := func(n *yaml.Node, field string) bool {
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			bad(n, "%s: expected true or false, found %q", field, n.Value)
		}
		return b
	}
	keys := DefaultKeyMap()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "theme":
			switch v.Value {
			case "auto":
				cfg.Theme = ThemeAuto
			case "dark":
				cfg.Theme = ThemeDark
			case "light":
				cfg.Theme = ThemeLight
			default:
				bad(v, "theme: expected auto, dark or light, found %q", v.Value)
			}
		case "no_color":
			cfg.NoColor = boolOf(v, "no_color")
		case "log_wrap":
			cfg.LogWrap = boolOf(v, "log_wrap")
		case "log_follow":
			cfg.LogFollow = boolOf(v, "log_follow")
		case "keys":
			if v.Kind != yaml.MappingNode {
				bad(v, "keys: expected a mapping of binding names to keys")
				continue
			}
			cfg.Keys = map[string][]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				name, val := v.Content[j], v.Content[j+1]
				var list []string
				switch val.Kind {
				case yaml.ScalarNode:
					list = []string{val.Value}
				case yaml.SequenceNode:
					if err := val.Decode(&list); err != nil {
						bad(val, "keys.%s: expected a key or a list of keys", name.Value)
						continue
					}
				default:
					bad(val, "keys.%s: expected a key or a list of keys", name.Value)
					continue
				}
				if err := keys.Override(name.Value, list); err != nil {
					msg := err.Error()
					if hint := closestName(name.Value, keys.BindingNames()); hint != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", hint)
					}
					bad(name, "keys: %s", msg)
					continue
				}
				cfg.Keys[name.Value] = list
			}
		default:
			bad(k, "unknown setting %q (theme, no_color, log_wrap, log_follow, keys)", k.Value)
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// closestName suggests a known name within two edits.
func closestName(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
