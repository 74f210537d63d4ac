// Small text helpers of the report's builders.

package report

import (
	"strings"
	"time"

	"cutover/engine/runbook"
)

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// prefixed is sep+s, or "" when s is empty.
func prefixed(sep, s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return sep + s
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// ts is a time in UTC ISO 8601 form ("—" when zero).
func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// signed is a difference with its sign: +5m, -1h02m, ±0s.
func signed(d time.Duration) string {
	switch {
	case d > 0:
		return "+" + runbook.FormatDuration(d)
	case d < 0:
		return runbook.FormatDuration(d)
	}
	return "±0s"
}
