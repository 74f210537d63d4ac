package tui

import (
	"cutover/engine"
	"slices"
	"testing"
)

// TestReplicationColumnsKeepSourceRows: the source rows the README promises are on screen in a
// 120-column terminal's pane (118 cells), in the half of a 200-column one (98) and in an
// 80-column one (78); the publication (on its own lines above the table) gives way first.
func TestReplicationColumnsKeepSourceRows(t *testing.T) {
	a := newTestApp(newFixtureEngine(10), 120, 40, Options{})
	p := a.panes[paneReplication].(*replicationPane)
	for _, c := range []struct {
		w    int
		want []string
	}{
		{118, []string{"TABLE", "PUBLICATION", "PENDING", "SOURCE", "TARGET", "DELTA", "RATE", "ETA", "TREND"}},
		{98, []string{"TABLE", "PENDING", "SOURCE", "TARGET", "DELTA", "RATE", "ETA", "TREND"}},
		{78, []string{"TABLE", "PENDING", "SOURCE", "TARGET", "DELTA", "ETA"}},
	} {
		var got []string
		total := -1
		for _, col := range p.columns(c.w) {
			got = append(got, col.title)
			total += col.w + 1
		}
		if !slices.Equal(got, c.want) || total != c.w {
			t.Errorf("%d cells: columns %v (%d cells), want %v", c.w, got, total, c.want)
		}
	}
}

// TestUnpublishedTablesSayWhyWithoutThePublicationColumn: when the publication column has given
// way, the pending column still says why a table has no backlog: ignored, or no PK yet.
func TestUnpublishedTablesSayWhyWithoutThePublicationColumn(t *testing.T) {
	a := newTestApp(newFixtureEngine(10), 120, 40, Options{})
	p := a.panes[paneReplication].(*replicationPane)
	var pending repCol
	for _, col := range p.columns(78) {
		if col.title == "PENDING" {
			pending = col
		}
	}
	for _, c := range []struct {
		lag  engine.TableLag
		want string
	}{
		{engine.TableLag{Table: "dbo.TMP_X", Ignored: true, HasPK: true}, "ignored"},
		{engine.TableLag{Table: "dbo.NOPK"}, "no PK yet"},
		{engine.TableLag{Table: "dbo.LOCKED", HasPK: true}, "—"},
		{engine.TableLag{Table: "dbo.T", HasPK: true, Published: true, Pending: 1200}, "1,200"},
	} {
		if got := pending.cell(&c.lag); got != c.want {
			t.Errorf("%s: pending %q, want %q", c.lag.Table, got, c.want)
		}
	}
}
