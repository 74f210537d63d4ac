package lcs

import "strings"

// NormalizeID is the form in which LCS ids (environment ids, activity ids) are compared. LCS
// writes the same kind of id both dashed and undashed — the environment metadata example shows
// "d15ed3a8c2c14054840b946c93915da9" beside "60b557b2-fefb-4690-859e-f83caf98c17e"
// (lifecycle-services/api/v1/reference-environment-metadata.md), the history example an
// undashed EnvironmentId and both kinds of ActivityId (reference-environment-history.md) — and
// people copy them from the portal in either form, in any case, sometimes in braces. A GUID in
// any of those spellings becomes lower case, dashed (8-4-4-4-12); anything else is returned
// trimmed and in lower case, so it still compares without regard to case.
func NormalizeID(id string) string {
	s := strings.ToLower(strings.TrimSpace(id))
	if len(s) >= 2 && (s[0] == '{' && s[len(s)-1] == '}' || s[0] == '(' && s[len(s)-1] == ')') {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	hex := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
			hex = append(hex, c)
		case c == '-':
		default:
			return s
		}
	}
	if len(hex) != 32 || !guidDashes(s) {
		return s
	}
	return string(hex[0:8]) + "-" + string(hex[8:12]) + "-" + string(hex[12:16]) + "-" + string(hex[16:20]) + "-" + string(hex[20:32])
}

// guidDashes reports whether s (hex digits and dashes) has no dashes or has them exactly where a
// GUID's go, so "a-b-…" with stray dashes is not taken for a GUID.
func guidDashes(s string) bool {
	if !strings.Contains(s, "-") {
		return true
	}
	return len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && strings.Count(s, "-") == 4
}

// SameID reports whether two LCS ids name the same thing (see NormalizeID). An empty id is the
// same as no other.
func SameID(a, b string) bool {
	na, nb := NormalizeID(a), NormalizeID(b)
	return na != "" && na == nb
}
