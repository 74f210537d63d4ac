package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/engine/runbook"
)

// Level is a replication verdict, in the monitoring-plugin scale: its value is the exit code of
// `cutover status` (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
type Level int

// Levels.
const (
	LevelOK       Level = 0
	LevelWarning  Level = 1
	LevelCritical Level = 2
	LevelUnknown  Level = 3
)

// String is the level as monitoring plugins write it.
func (l Level) String() string {
	switch l {
	case LevelOK:
		return "OK"
	case LevelWarning:
		return "WARNING"
	case LevelCritical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// MarshalText writes the level as its word.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Rank orders levels by how much they matter when several apply: a fresh figure over a threshold
// (CRITICAL, WARNING) is reported even when another figure cannot be trusted (UNKNOWN).
func (l Level) Rank() int {
	switch l {
	case LevelOK:
		return 0
	case LevelUnknown:
		return 1
	case LevelWarning:
		return 2
	}
	return 3
}

// Thresholds decide a replication verdict. A figure OVER its threshold (strictly greater, as a
// monitoring plugin's -w/-c) raises the level; a zero threshold is not checked.
type Thresholds struct {
	// WarnPending and CritPending bound the undelivered commands in the distributor.
	WarnPending, CritPending int64
	// WarnLatency and CritLatency bound an agent's latency.
	WarnLatency, CritLatency time.Duration
	// MaxAge is how old the backlog and agent figures may be before they are stale (UNKNOWN: stale
	// figures are never compared with thresholds); zero means DefaultThresholds' 5 minutes.
	MaxAge time.Duration
}

// DefaultThresholds warn over 100,000 pending commands or 5 minutes of agent latency, are critical
// over 1,000,000 pending or 30 minutes (and for any agent in error), and call figures older than 5
// minutes stale. The cockpit's publication rows, `cutover status`, the web page and the metrics use
// them.
func DefaultThresholds() Thresholds {
	return Thresholds{WarnPending: 100_000, CritPending: 1_000_000, WarnLatency: 5 * time.Minute,
		CritLatency: 30 * time.Minute, MaxAge: 5 * time.Minute}
}

// Finding is one reason for a verdict.
type Finding struct {
	Level Level
	// Text says it whole; Brief in a few words (a status bar).
	Text, Brief string
	// Publication is set when the finding is about one publication.
	Publication string
}

// PublicationVerdict is one publication's own verdict: its agents' errors and latency, and
// whether its figures can be trusted. Reason does not repeat the publication's name.
type PublicationVerdict struct {
	Level  Level
	Reason string
}

// ReplicationVerdict is the replication verdict: the level (the most severe finding's), every finding, most
// severe first, and each publication's own verdict.
type ReplicationVerdict struct {
	Level        Level
	Findings     []Finding
	Publications map[string]PublicationVerdict
}

// Blocking lists the findings' texts that keep the verdict from OK (a gate's blockers).
func (v ReplicationVerdict) Blocking() []string {
	var out []string
	for _, f := range v.Findings {
		if f.Level != LevelOK {
			out = append(out, f.Text)
		}
	}
	return out
}

// Publication is a publication's verdict (UNKNOWN for one the picture does not hold).
func (v ReplicationVerdict) Publication(name string) PublicationVerdict {
	if p, ok := v.Publications[name]; ok {
		return p
	}
	return PublicationVerdict{Level: LevelUnknown, Reason: "not in the replication picture"}
}

// Judge is THE replication verdict, the one rule behind the replication.healthy gate, the cockpit's
// publication rows, `cutover status`, the web page and the metrics:
//   - no picture, or no poll answered yet (a picture restored from before a restart included):
//     UNKNOWN;
//   - replication removed (the toolkit's «Remove replication setup» succeeded, also before a
//     restart): OK with a note, its sources are gone by design;
//   - a source failing or never read: UNKNOWN; while the distributor fails, its figures (the
//     backlog, the agents) are from before and are not judged;
//   - the backlog or the agent states never read, or older than MaxAge: UNKNOWN — never "drained",
//     never "healthy";
//   - an agent in error: CRITICAL; pending commands or an agent's latency over a threshold:
//     CRITICAL or WARNING.
//
// The most severe finding sets the level, CRITICAL before WARNING before UNKNOWN.
func (v *ReplicationView) Judge(th Thresholds, now time.Time) ReplicationVerdict {
	if th.MaxAge <= 0 {
		th.MaxAge = DefaultThresholds().MaxAge
	}
	var fs []Finding
	pubs := map[string]PublicationVerdict{}
	switch {
	case v == nil:
		fs = append(fs, Finding{Level: LevelUnknown, Text: "no replication data", Brief: "no replication data"})
	case v.Cycles == 0 && v.Restored && v.Retired.IsZero():
		// The previous engine's picture, shown until this one's first poll: figures, not a verdict.
		fs = append(fs, Finding{Level: LevelUnknown, Text: fmt.Sprintf("the picture is from before the restart (read %s); waiting for the first poll", FormatAge(now, v.At)),
			Brief: "waiting for the first poll"})
		for _, p := range v.Publications {
			pubs[p.Name] = PublicationVerdict{Level: LevelUnknown, Reason: "waiting for the first poll"}
		}
	case v.Cycles == 0 && v.Retired.IsZero():
		fs = append(fs, Finding{Level: LevelUnknown, Text: "no replication data yet: waiting for the first poll", Brief: "no replication data"})
	default:
		fs = v.judge(th, now, pubs)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Level.Rank() > fs[j].Level.Rank() })
	out := ReplicationVerdict{Findings: fs, Publications: pubs}
	for _, f := range fs {
		if f.Level.Rank() > out.Level.Rank() {
			out.Level = f.Level
		}
	}
	return out
}

func (v *ReplicationView) judge(th Thresholds, now time.Time, pubs map[string]PublicationVerdict) []Finding {
	if !v.Retired.IsZero() {
		text := "replication removed " + FormatAge(now, v.Retired)
		if v.RetiredBy != "" {
			text += " by step " + v.RetiredBy
		}
		for _, p := range v.Publications {
			pubs[p.Name] = PublicationVerdict{Level: LevelOK, Reason: "replication removed"}
		}
		return []Finding{{Level: LevelOK, Text: text + "; the figures are its last picture", Brief: "replication removed"}}
	}
	var fs []Finding
	distributorFailing := false
	for _, h := range v.sourcesInOrder() {
		switch {
		case h.State == HealthFailing:
			distributorFailing = distributorFailing || h.Name == SourceDistributor
			fs = append(fs, Finding{Level: LevelUnknown,
				Text: fmt.Sprintf("%s unreachable for %s: %s (last good read %s)", h.Name, runbook.FormatDuration(max(now.Sub(h.Since), 0).Round(time.Second)),
					h.LastError, FormatAge(now, h.LastOK)),
				Brief: h.Name + " unreachable"})
		case h.LastOK.IsZero():
			fs = append(fs, Finding{Level: LevelUnknown, Text: h.Name + " never read", Brief: h.Name + " never read"})
		}
	}
	unknownPubs := func(reason string) {
		for _, p := range v.Publications {
			pubs[p.Name] = PublicationVerdict{Level: LevelUnknown, Reason: reason}
		}
	}
	if distributorFailing {
		// The backlog and the agents are the distributor's figures: from before it stopped
		// answering, they say nothing about now.
		unknownPubs("the distributor is unreachable")
		return fs
	}
	stale := func(what string, at time.Time) (Finding, bool) {
		if at.IsZero() {
			return Finding{Level: LevelUnknown, Text: what + " never read", Brief: what + " never read"}, true
		}
		if a := now.Sub(at); a > th.MaxAge {
			return Finding{Level: LevelUnknown, Text: fmt.Sprintf("%s are %s old (stale after %s)", what, runbook.FormatDuration(a), runbook.FormatDuration(th.MaxAge)),
				Brief: fmt.Sprintf("%s %s old", what, runbook.FormatDuration(a))}, true
		}
		return Finding{}, false
	}
	if f, bad := stale("backlog figures", v.PendingAt); bad {
		fs = append(fs, f)
	} else {
		over := func(level Level, limit int64, word string) Finding {
			text := fmt.Sprintf("%s commands pending (%s over %s)", FormatCount(v.TotalPending), word, FormatCount(limit))
			if worst := v.worstPublication(); worst != "" {
				text += ", most in " + worst
			}
			if v.ETA > 0 {
				text += ", drains in about " + runbook.FormatDuration(v.ETA)
			}
			return Finding{Level: level, Text: text, Brief: FormatCount(v.TotalPending) + " pending"}
		}
		switch {
		case th.CritPending > 0 && v.TotalPending > th.CritPending:
			fs = append(fs, over(LevelCritical, th.CritPending, "critical"))
		case th.WarnPending > 0 && v.TotalPending > th.WarnPending:
			fs = append(fs, over(LevelWarning, th.WarnPending, "warning"))
		}
	}
	f, bad := stale("agent states", v.AgentsAt)
	if bad {
		if age := now.Sub(v.AgentsAt); !v.AgentsAt.IsZero() && v.AgentsCacheAge > 0 && 2*v.AgentsCacheAge >= age {
			// Most of the age is the cache's own (msreplication-monitordata-transact-sql.md: a cache
			// its refresher job keeps up to date).
			f.Text += fmt.Sprintf(" (SQL Server's Replication Monitor cache was %s old when read: is the SQL Server Agent job \"Replication monitoring refresher for distribution\" running?)",
				runbook.FormatDuration(v.AgentsCacheAge))
		}
		fs = append(fs, f)
		unknownPubs(f.Text)
		return fs
	}
	latency := func(level Level, limit time.Duration, word, who string, lat time.Duration, pub string) Finding {
		return Finding{Level: level, Publication: pub,
			Text:  fmt.Sprintf("%s latency %s (%s over %s)", who, runbook.FormatDuration(lat), word, runbook.FormatDuration(limit)),
			Brief: "latency " + runbook.FormatDuration(lat)}
	}
	for _, a := range v.Agents {
		if a.Status.Bad() {
			msg := a.Error
			if msg == "" {
				msg = a.Message
			}
			fs = append(fs, Finding{Level: LevelCritical, Publication: a.Publication,
				Text:  fmt.Sprintf("%s agent %s (%s) is %s: %s", a.Kind, a.Name, a.Publication, a.Status, msg),
				Brief: "agent error " + firstNonEmpty(a.Publication, a.Name)})
		}
	}
	for _, p := range v.Publications {
		pv := PublicationVerdict{Level: LevelOK, Reason: "ok"}
		switch {
		case len(p.Failing) > 0:
			pv = PublicationVerdict{Level: LevelCritical, Reason: fmt.Sprintf("%d agent(s) failing: %s", len(p.Failing), strings.Join(p.Failing, ", "))}
		case th.CritLatency > 0 && p.Latency > th.CritLatency:
			fs = append(fs, latency(LevelCritical, th.CritLatency, "critical", p.Name, p.Latency, p.Name))
			pv = PublicationVerdict{Level: LevelCritical, Reason: strings.TrimPrefix(fs[len(fs)-1].Text, p.Name+" ")}
		case th.WarnLatency > 0 && p.Latency > th.WarnLatency:
			fs = append(fs, latency(LevelWarning, th.WarnLatency, "warning", p.Name, p.Latency, p.Name))
			pv = PublicationVerdict{Level: LevelWarning, Reason: strings.TrimPrefix(fs[len(fs)-1].Text, p.Name+" ")}
		}
		pubs[p.Name] = pv
	}
	// Agents of no publication the picture lists (a log reader, per database) are judged by their
	// own latency.
	for _, a := range v.Agents {
		if _, ok := pubs[a.Publication]; ok && a.Publication != "" {
			continue
		}
		switch {
		case th.CritLatency > 0 && a.Latency > th.CritLatency:
			fs = append(fs, latency(LevelCritical, th.CritLatency, "critical", "agent "+a.Name, a.Latency, ""))
		case th.WarnLatency > 0 && a.Latency > th.WarnLatency:
			fs = append(fs, latency(LevelWarning, th.WarnLatency, "warning", "agent "+a.Name, a.Latency, ""))
		}
	}
	return fs
}

// sourcesInOrder is every source the picture knows, the monitor's three first.
func (v *ReplicationView) sourcesInOrder() []SourceHealth {
	out := []SourceHealth{v.SourceHealth(SourceAX), v.SourceHealth(SourceDistributor), v.SourceHealth(SourceTarget)}
	for _, h := range v.Health {
		if h.Name != SourceAX && h.Name != SourceDistributor && h.Name != SourceTarget {
			out = append(out, h)
		}
	}
	return out
}

// worstPublication names the publication with the most pending commands, with its count.
func (v *ReplicationView) worstPublication() string {
	var worst PublicationLag
	for _, p := range v.Publications {
		if p.Pending > worst.Pending {
			worst = p
		}
	}
	if worst.Name == "" {
		return ""
	}
	return fmt.Sprintf("%s (%s)", worst.Name, FormatCount(worst.Pending))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// FormatCount writes a count with thousands separators: 1,234,567.
func FormatCount(n int64) string {
	if n < 0 {
		return "-" + formatUnsigned(uint64(-(n+1))+1) // -n overflows at math.MinInt64
	}
	return formatUnsigned(uint64(n))
}

func formatUnsigned(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/3)
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// FormatAge writes how long ago at was: "3m11s ago", "never" for a zero time, "now" for a time
// ahead of now.
func FormatAge(now, at time.Time) string {
	if at.IsZero() {
		return "never"
	}
	if now.Before(at) {
		return "now"
	}
	return runbook.FormatDuration(now.Sub(at)) + " ago"
}

// LagAfter is how far behind the monitor's newest poll a figure may fall before front ends show
// it as lagging (dimmed, with its age: its source is failing or slow). It comes before the
// verdict's MaxAge, after which a figure is not trusted at all.
const LagAfter = 2 * time.Minute

// FigureLags reports whether a figure read at lags: unread, more than LagAfter behind the
// monitor's newest poll (newest), or older than twice that, so that a monitor that stopped
// polling dims everything.
func FigureLags(now, newest, at time.Time) bool {
	if at.IsZero() {
		return true
	}
	return newest.Sub(at) > LagAfter || now.Sub(at) > 2*LagAfter
}
