package sim

import "strings"

// parseGUID reads an id as LCS (a .NET service) reads a GUID in a URL or a query: 32 hex digits,
// undashed ("N"), dashed ("D"), in braces ("B") or parentheses ("P"), in any case. It returns the
// GUID lower case and dashed, or false. The simulator has its own reading of ids, apart from the
// client's lcs.NormalizeID, so a misreading on one side is not mirrored on the other.
func parseGUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if n := len(s); n == 38 && (s[0] == '{' && s[n-1] == '}' || s[0] == '(' && s[n-1] == ')') {
		s = s[1 : n-1]
	}
	switch len(s) {
	case 32:
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	default:
		return "", false
	}
	s = strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], true
}

// canonID is an id as the simulator keys it: the GUID lower case and dashed, or the text as
// given when it is no GUID.
func canonID(s string) string {
	if g, ok := parseGUID(s); ok {
		return g
	}
	return strings.TrimSpace(s)
}

// sameID reports whether two ids name the same thing.
func sameID(a, b string) bool { return canonID(a) == canonID(b) && canonID(a) != "" }

// undashed writes a GUID without dashes, as the documents show some ids (the production
// environment of the metadata example, every EnvironmentId of the history example).
func undashed(id string) string {
	if g, ok := parseGUID(id); ok {
		return strings.ReplaceAll(g, "-", "")
	}
	return id
}
