package lcs

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Database movement limit (database/api/dbmovement-api-throttling.md): 3 operations per
// environment in any rolling 24 hours, counted by start time, manual (portal) operations included;
// only API calls are refused — a refresh started in the portal never is.
const (
	DatabaseMovementLimit  = 3
	DatabaseMovementWindow = 24 * time.Hour
)

// DefaultDatabaseMovementTypes lists the environment-history types counted toward the database
// movement limit. An entry matches a history row's Type or its TypeDisplay, ignoring case, so
// display names cover type codes not yet seen. Extend it through Config.DatabaseMovementTypes.
//
//   - SFSourceDbToSandbox, SFExportSandboxDb: seen in LCS history (d365fo.tools documentation).
//   - SFSourceDbToProduction, SFPointInTimeRestore, SFImportDb: inferred names for the
//     sandbox→production refresh, point-in-time restore and import, not confirmed.
//   - "Refresh database", "Export database", "Import database", "Point-in-time restore": the
//     TypeDisplay texts LCS shows for these operations.
func DefaultDatabaseMovementTypes() []string {
	return []string{
		"SFSourceDbToSandbox",
		"SFExportSandboxDb",
		"SFSourceDbToProduction",
		"SFPointInTimeRestore",
		"SFImportDb",
		"Refresh database",
		"Export database",
		"Import database",
		"Point-in-time restore",
	}
}

// Quota is what is left of an environment's database movement limit.
type Quota struct {
	EnvironmentID string
	Limit         int
	Window        time.Duration
	// Used is how many counted operations started inside the window.
	Used int
	// Remaining is Limit-Used, never below 0.
	Remaining int
	// Counted are the operations inside the window, oldest first.
	Counted []HistoryEntry
	// NextSlot is, when Remaining is 0, the time an operation leaves the window and a new one
	// may start; zero when an operation can start now.
	NextSlot time.Time
	// AsOf is the time the quota was computed for.
	AsOf time.Time
}

// ComputeQuota counts the database movement operations of history (one environment's) that
// started in the DatabaseMovementWindow before now. types are matched as described on
// DefaultDatabaseMovementTypes; nil means the default list.
func ComputeQuota(environmentID string, history []HistoryEntry, now time.Time, types []string) Quota {
	if types == nil {
		types = DefaultDatabaseMovementTypes()
	}
	q := Quota{EnvironmentID: environmentID, Limit: DatabaseMovementLimit, Window: DatabaseMovementWindow, AsOf: now}
	from := now.Add(-DatabaseMovementWindow)
	seen := map[string]bool{}
	for _, h := range history {
		if h.Start.IsZero() || !h.Start.After(from) || h.Start.After(now) || !countsTowardQuota(h, types) {
			continue
		}
		if id := NormalizeID(h.ActivityID); id != "" {
			// One operation, listed twice (possibly with its id spelled differently), counts once.
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		q.Counted = append(q.Counted, h)
	}
	sort.SliceStable(q.Counted, func(i, j int) bool { return q.Counted[i].Start.Before(q.Counted[j].Start) })
	q.Used = len(q.Counted)
	q.Remaining = max(q.Limit-q.Used, 0)
	if q.Remaining == 0 {
		// The (Used-Limit+1)-th oldest must leave the window before one more fits.
		q.NextSlot = q.Counted[q.Used-q.Limit].Start.Add(DatabaseMovementWindow)
	}
	return q
}

func countsTowardQuota(h HistoryEntry, types []string) bool {
	for _, t := range types {
		if strings.EqualFold(h.Type, t) || (h.TypeDisplay != "" && strings.EqualFold(h.TypeDisplay, t)) {
			return true
		}
	}
	return false
}

// DatabaseMovementQuota reads the environment's history and computes its remaining database
// movement operations and when the next slot opens. Ask it for the TARGET of a refresh.
func (c *Client) DatabaseMovementQuota(ctx context.Context, environmentID string) (Quota, error) {
	now := c.clock.Now()
	from := now.Add(-DatabaseMovementWindow)
	// History comes newest first: stop paging once a whole page is older than the window.
	h, err := c.history(ctx, environmentID, func(p []HistoryEntry) bool {
		if len(p) == 0 {
			return true
		}
		for i, e := range p {
			if i > 0 && e.Start.After(p[i-1].Start) {
				return false // not newest first: read every page
			}
			if e.Start.After(from) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return Quota{}, err
	}
	return ComputeQuota(environmentID, h, c.clock.Now(), c.types), nil
}
