package runbook

import (
	"fmt"
	"sort"
	"strings"
)

// Placeholders in argv templates are written {name}, a lower-case name; {{ and }} stand for literal
// braces. Anything else in braces ({ echo hi; }, ${HOME}) is left as written, so shell lines read as
// they will run. This is deliberately tiny: `sc.exe \\{host} stop {service}` must read exactly
// as it runs.

// CheckTemplate reports a malformed template or a placeholder outside allowed.
func CheckTemplate(t string, allowed ...string) error {
	_, err := expand(t, func(name string) (string, bool) {
		for _, a := range allowed {
			if a == name {
				return "", true
			}
		}
		return "", false
	}, allowed)
	return err
}

// Expand replaces placeholders from vars. Unknown placeholders are errors.
func Expand(t string, vars map[string]string) (string, error) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	return expand(t, func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}, names)
}

func expand(t string, lookup func(string) (string, bool), names []string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '{' && i+1 < len(t) && t[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(t) && t[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			name, ok := placeholderAt(t[i+1:])
			if !ok {
				b.WriteByte(c)
				continue
			}
			v, known := lookup(name)
			if !known {
				return "", fmt.Errorf("%q: unknown placeholder {%s} (available: %s; write {{ for a literal brace)", t, name, braced(names))
			}
			b.WriteString(v)
			i += len(name) + 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// placeholderAt reads "name}" at the start of s: a lower-case letter, then letters, digits or '_'.
func placeholderAt(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '}':
			return s[:i], i > 0
		case c >= 'a' && c <= 'z', i > 0 && (c == '_' || c >= '0' && c <= '9'):
		default:
			return "", false
		}
	}
	return "", false
}

func braced(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{" + n + "}"
	}
	return strings.Join(out, " ")
}
