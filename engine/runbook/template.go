package runbook

import (
	"fmt"
	"sort"
	"strings"
)

// Placeholders in argv templates are written {name}; {{ and }} stand for literal braces. This is
// deliberately tiny: a command line such as `sc.exe \\{host} stop {service}` must read exactly as
// it will run.

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
			end := strings.IndexByte(t[i+1:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: unclosed '{' (write {{ for a literal brace)", t)
			}
			name := t[i+1 : i+1+end]
			v, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("%q: unknown placeholder {%s} (available: %s)", t, name, braced(names))
			}
			b.WriteString(v)
			i += end + 1
		case c == '}':
			return "", fmt.Errorf("%q: stray '}' (write }} for a literal brace)", t)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
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
