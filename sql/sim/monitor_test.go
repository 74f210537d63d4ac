package sim

import (
	"testing"
	"time"

	"cutover/sql/query"
)

// TestMonitorCacheIsACache: MSreplication_monitordata is what the refresher job last built. While
// the job runs the rows are at most 30 seconds old (4 once agent history changed); stopped, the
// rows and lastrefresh stay as they were, so a failed agent does not show, and refresh_age tells
// how old they are. Started again, the cache catches up.
func TestMonitorCacheIsACache(t *testing.T) {
	f := newFixture(t, Config{Tables: 300, Seed: 3})
	dist := f.dist()
	const pub = "AX_PUB_PkTable_1"
	read := func() (age int64, refreshed time.Time, failed bool) {
		t.Helper()
		rows := f.rows(dist, query.AgentStates)
		if len(rows) == 0 {
			t.Fatal("no agent rows")
		}
		age, refreshed = rows[0][10].(int64), asTime(t, rows[0][9])
		for _, r := range rows {
			if r[10].(int64) != age || !asTime(t, r[9]).Equal(refreshed) {
				t.Fatalf("one refresh stamps every row: %v", rows)
			}
			if r[0] == pub && r[1] == int64(3) && r[3] == int64(6) {
				failed = true
			}
		}
		if got := f.w.Now().Sub(refreshed); got != time.Duration(age)*time.Second {
			t.Fatalf("refresh_age %ds, lastrefresh %v before now", age, got)
		}
		return age, refreshed, failed
	}
	if age, _, _ := read(); age < 0 || age > 30 {
		t.Fatalf("a running refresher: cache %ds old", age)
	}
	f.clk.Advance(47 * time.Second) // agent history changed at 30s: the job refreshes every 4s
	if age, _, _ := read(); age > 4 {
		t.Fatalf("with history changing: cache %ds old", age)
	}
	f.w.SetMonitorRefresher(false)
	_, frozen, _ := read()
	if err := f.w.FailDistributionAgent(pub, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * time.Minute)
	age, refreshed, failed := read()
	if failed || !refreshed.Equal(frozen) || age < 600 {
		t.Fatalf("a stopped refresher: failed agent shown %v, lastrefresh %v (was %v), age %ds", failed, refreshed, frozen, age)
	}
	f.w.SetMonitorRefresher(true)
	age, _, failed = read()
	if !failed || age > 4 {
		t.Fatalf("the refresher started again: failed agent shown %v, age %ds", failed, age)
	}
}
