package runbook_test

import (
	"testing"
	"time"

	"cutover/engine/runbook"
)

// TestFormatDurationForms: one formatter, two forms. Rounded (figures) rounds to the second, shows
// a sub-second moment in milliseconds, days from 24h and keeps the sign; Clock (what counts up on
// a screen) cuts down to the second, keeps hours up to 48h and drops the sign.
func TestFormatDurationForms(t *testing.T) {
	cases := []struct {
		d              time.Duration
		rounded, clock string
	}{
		{0, "0s", "0s"},
		{250 * time.Millisecond, "250ms", "0s"},
		{1500 * time.Millisecond, "2s", "1s"},
		{59*time.Second + 600*time.Millisecond, "1m", "59s"},
		{119*time.Second + 600*time.Millisecond, "2m", "1m59s"}, // never "1m60s"
		{90 * time.Second, "1m30s", "1m30s"},
		{65 * time.Minute, "1h05m", "1h05m"},
		{30*time.Hour + 5*time.Minute, "1d06h", "30h05m"},
		{51 * time.Hour, "2d03h", "2d03h"},
		{-90 * time.Second, "-1m30s", "1m30s"},
	}
	for _, c := range cases {
		if got := runbook.FormatDurationAs(c.d, runbook.Rounded); got != c.rounded {
			t.Errorf("Rounded %v = %q, want %q", c.d, got, c.rounded)
		}
		if got := runbook.FormatDuration(c.d); got != c.rounded {
			t.Errorf("FormatDuration %v = %q, want %q", c.d, got, c.rounded)
		}
		if got := runbook.FormatDurationAs(c.d, runbook.Clock); got != c.clock {
			t.Errorf("Clock %v = %q, want %q", c.d, got, c.clock)
		}
	}
}
