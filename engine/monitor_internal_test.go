package engine

import (
	"slices"
	"testing"
	"time"
)

// The key a table is looked up by is TableKey, built without allocating for ASCII names.
func TestAppendTableKeyIsTableKey(t *testing.T) {
	for _, name := range []string{"dbo.CUSTTABLE", "DBO.custTable", "CUSTTABLE", "sales.SALESLINE", "dbo.", "db", "", "Dbo.x.y", "dbo.ÄRENDE", "ärende"} {
		if got := string(appendTableKey(nil, name)); got != TableKey(name) {
			t.Errorf("appendTableKey(%q) = %q, TableKey %q", name, got, TableKey(name))
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(10, func() { buf = appendTableKey(buf[:0], "dbo.INVENTTRANS") }); n != 0 {
		t.Fatalf("%v allocations per key", n)
	}
}

// A published picture's trend never changes: the monitor's next samples go elsewhere, however many
// come, while the trend keeps the newest keep samples.
func TestPushTrendLeavesPublishedTrendsAlone(t *testing.T) {
	const keep = 4
	var trend []int64
	var published [][]int64
	var want [][]int64
	for v := range int64(20) {
		trend = pushTrend(trend, v, keep)
		pub := trend[:len(trend):len(trend)]
		published, want = append(published, pub), append(want, slices.Clone(pub))
		if first := max(0, v-keep+1); !slices.Equal(trend, seq(first, v)) {
			t.Fatalf("after %d: %v", v, trend)
		}
	}
	for i := range published {
		if !slices.Equal(published[i], want[i]) {
			t.Fatalf("published trend %d changed: %v, was %v", i, published[i], want[i])
		}
	}
}

func seq(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// TestSmoothedRateReachesZero: a rate that decays toward nothing is reported as 0, not as the
// 1e-40 an exponential average leaves; a real rate, however slow, is kept.
func TestSmoothedRateReachesZero(t *testing.T) {
	m := newMonitor(time.Now, monitorHooks{}, nil, MonitorConfig{Smoothing: 2 * time.Minute})
	r := 50.0
	for range 2000 {
		r = m.smooth(r, 0, time.Minute, true)
	}
	if r != 0 {
		t.Fatalf("after a long stop the rate is %g, want 0", r)
	}
	if r := m.smooth(0, 1.0/3600, time.Minute, true); r <= 0 {
		t.Fatalf("a command an hour is a rate: %g", r)
	}
	if r := m.smooth(-50, 0, time.Minute, true); r >= 0 {
		t.Fatalf("a growing backlog keeps its negative rate while it decays: %g", r)
	}
}
