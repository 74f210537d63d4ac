package demo

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
)

// Scenario is what --scenario chose: scenarios of the simulated world and the demo's own
// (LCS throttling with an exhausted quota, a flaky network).
type Scenario struct {
	Name        string
	World       sqlsim.Scenario
	lcsThrottle bool
	flaky       bool
	// rollback: the data upgrade fails, nobody resumes it, and the team goes back to AX 2012 with
	// the rollback runbook (`cutover init --rollback`), run against the same simulators.
	Rollback bool
}

func ParseScenario(s string) (Scenario, error) {
	out := Scenario{}
	var names, world []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch part {
		case "", "happy":
			continue
		case "lcs-throttle":
			out.lcsThrottle = true
		case "flaky-network":
			out.flaky = true
		case "rollback":
			out.Rollback = true
			world = append(world, "upgrade-failure")
		case "locked-table", "count-mismatch", "upgrade-failure":
			world = append(world, part)
		default:
			return Scenario{}, fmt.Errorf("unknown scenario %q (want happy, locked-table, count-mismatch, lcs-throttle, flaky-network, upgrade-failure or rollback)", part)
		}
		names = append(names, part)
	}
	w, err := sqlsim.ParseScenario(strings.Join(world, ","))
	if err != nil {
		return Scenario{}, err
	}
	out.World, out.Name = w, strings.Join(names, ",")
	if out.Name == "" {
		out.Name = "happy"
	}
	return out, nil
}

// Apply sets up the demo's own scenarios on freshly started simulators. Everything it does is
// derived from the world's start, so a resumed demo sets up exactly the same.
func (sc Scenario) Apply(sims *Simulators) error {
	if sc.lcsThrottle {
		// LCS answers every fourth call with 429, and yesterday's mock cutover used two of
		// production's three database operations. Only API operations are throttled and the
		// refresh into production is started in the portal, so the count is shown and nothing
		// waits for it (dbmovement-api-throttling.md, dbmovement-operations.md).
		sims.LCS.ThrottleEvery(4, 20*time.Second)
		base := sims.World.StartedAt().Add(-24*time.Hour + 4*time.Hour + 30*time.Minute)
		for i := range 2 {
			start := base.Add(time.Duration(i) * 10 * time.Minute)
			if err := sims.LCS.AddHistory(lcssim.ProductionID, lcssim.HistoryEntry{Name: "Refresh database (mock cutover)",
				Type: lcssim.TypeRefreshProduction, TypeDisplay: "Refresh database", Start: start, End: start.Add(time.Hour)}); err != nil {
				return fmt.Errorf("lcs-throttle scenario: %w", err)
			}
		}
	}
	if sc.flaky {
		// Both SQL servers drop a few connections and answer some queries slowly, all night.
		for _, srv := range []*tdssim.Server{sims.SQL.Source(), sims.SQL.Target()} {
			for _, r := range []tdssim.Rule{
				{Name: "flaky network: connection dropped", Action: tdssim.FaultDropBeforeResponse, Probability: 0.02},
				{Name: "flaky network: login dropped", Action: tdssim.FaultDropDuringLogin, Probability: 0.05},
				{Name: "flaky network: slow query", Action: tdssim.FaultDelay, Delay: 1500 * time.Millisecond, Probability: 0.05},
			} {
				if _, err := srv.Faults().Add(r); err != nil {
					return fmt.Errorf("flaky-network scenario: %w", err)
				}
			}
		}
		// And once, a few seconds in, the distributor's answers are lost four times in a row, so
		// every run shows the monitor's outage and its recovery, however few reads the random
		// drops happen to hit (a short run on a loaded machine may see none).
		if _, err := sims.SQL.Source().Faults().Add(tdssim.Rule{Name: "flaky network: distributor unreachable",
			Action: tdssim.FaultDropBeforeResponse, SQL: distributorAgents, After: 2 * time.Second, FirstN: 4}); err != nil {
			return fmt.Errorf("flaky-network scenario: %w", err)
		}
	}
	return nil
}

// distributorAgents matches the reads of the distribution database's agent table, which the
// replication monitor sends on every poll.
var distributorAgents = regexp.MustCompile(`(?i)MSdistribution_agents`)

// WorldConfig is the simulated world of the demo: a backlog that drains in minutes, a data upgrade of
// two hours, batch jobs that end within three minutes of the AOS stop.
func WorldConfig(tables int, sc sqlsim.Scenario) sqlsim.Config {
	return sqlsim.Config{Tables: tables, Scenarios: sc, InitialBacklog: 300000, DrainRate: 1500, MaxStopWait: 3 * time.Minute,
		UpgradeDuration: 2 * time.Hour}
}

// SpeedEnv passes the demo's --speed to its simulated tasks.
const SpeedEnv = "CUTOVER_DEMO_SPEED"

// ScenarioNames are the names --scenario takes (several may be joined with commas).
func ScenarioNames() []string {
	return []string{"happy", "locked-table", "count-mismatch", "lcs-throttle", "flaky-network", "upgrade-failure", "rollback"}
}
