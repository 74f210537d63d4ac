package engine_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"cutover/engine"
)

// TestWorstTablesPickedInOnePass holds the one-pass pick to sorting every lagging table: the same
// tables in the same order whatever the order of the picture (ties on pending and |delta| go by
// name), and keep is asked once about each table not left out before it.
func TestWorstTablesPickedInOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 100 {
		v := &engine.ReplicationView{}
		for i := range 40 {
			v.Tables = append(v.Tables, engine.TableLag{Table: fmt.Sprintf("dbo.T%02d", i), Pending: int64(rng.IntN(4)),
				Delta: int64(rng.IntN(5) - 2), Ignored: rng.IntN(10) == 0})
		}
		rng.Shuffle(len(v.Tables), func(i, j int) { v.Tables[i], v.Tables[j] = v.Tables[j], v.Tables[i] })
		n := 1 + round%7
		onlyOdd := round%2 == 1 // keep leaves out tables with an even pending count
		var all []engine.TableLag
		for _, tl := range v.Tables {
			if !tl.Ignored && (tl.Pending > 0 || tl.Delta != 0) && (!onlyOdd || tl.Pending%2 == 1) {
				all = append(all, tl)
			}
		}
		abs := func(n int64) int64 { return max(n, -n) }
		slices.SortFunc(all, func(a, b engine.TableLag) int {
			return cmp.Or(cmp.Compare(b.Pending, a.Pending), cmp.Compare(abs(b.Delta), abs(a.Delta)), strings.Compare(a.Table, b.Table))
		})
		var want, got []string
		for _, tl := range all[:min(len(all), n)] {
			want = append(want, tl.Table)
		}
		asked := map[string]int{}
		var keep func(*engine.TableLag) bool
		if onlyOdd {
			keep = func(tl *engine.TableLag) bool { asked[tl.Table]++; return tl.Pending%2 == 1 }
		}
		for _, tl := range v.WorstTables(n, keep) {
			got = append(got, tl.Table)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: worst %d %v, want %v", round, n, got, want)
		}
		for name, k := range asked {
			if k != 1 {
				t.Fatalf("round %d: keep asked %d times about %s", round, k, name)
			}
		}
	}
	if w := (&engine.ReplicationView{Tables: []engine.TableLag{{Table: "A", Pending: 1}}}).WorstTables(0, nil); w != nil {
		t.Fatalf("no table wanted: %v", w)
	}
}
