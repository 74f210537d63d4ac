package tui

import (
	"context"
	"sync"
	"testing"

	"cutover/engine"
)

// BenchmarkReplicationView10k renders the replication pane over 10,000 tables at 200x60 (the
// pane is virtualised: only visible rows are drawn).
func BenchmarkReplicationView10k(b *testing.B) {
	a := newTestApp(newFixtureEngine(10000), 200, 60, Options{})
	press(a, "2")
	p := a.panes[paneReplication]
	p.view(198, 56, true) // derive once: rows change only with a new picture
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.view(198, 56, true)
	}
}

// BenchmarkSortFilter10k sorts and filters 10,000 tables, as a new picture or a key press does.
func BenchmarkSortFilter10k(b *testing.B) {
	v := fixtureReplication(10000)
	p := &replicationPane{}
	p.index(v.Tables)
	rows := make([]int, 0, len(v.Tables))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate the sort keys and directions, with and without a filter.
		filter := ""
		if i%2 == 1 {
			filter = "trans"
		}
		rows = sortFilter(v.Tables, p.lower, p.rank, sortKey(i%6), i%3 == 0, filter, rows[:0])
	}
	if len(rows) == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkFullFrame renders the whole cockpit at 200x60 — header, four panes, footer — with
// 10,000 tables, after a new replication picture arrives (so the rows are derived again).
func BenchmarkFullFrame(b *testing.B) {
	e := newFixtureEngine(10000)
	a := newTestApp(e, 200, 60, Options{})
	views := []*engine.ReplicationView{fixtureReplication(10000), fixtureReplication(10000)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Update(eventMsg{engine.ReplicationUpdated{View: views[i%2]}})
		a.render()
	}
}

// BenchmarkFullFrameSteady renders the whole cockpit when nothing changed but the clock (the
// once-a-second repaint).
func BenchmarkFullFrameSteady(b *testing.B) {
	a := newTestApp(newFixtureEngine(10000), 200, 60, Options{})
	a.render()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.render()
	}
}

// BenchmarkViewerUpdate is what one connected viewer costs per broadcast update: its cockpit
// applies a step change and renders a 120×40 frame.
func BenchmarkViewerUpdate(b *testing.B) {
	e := newFixtureEngine(2000)
	a := newTestApp(e, 120, 40, Options{ReadOnly: true})
	steps := e.snap.Steps
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := steps[i%len(steps)]
		a.Update(eventMsg{engine.StepChanged{Seq: uint64(101 + i), Step: st}})
		a.render()
	}
}

// BenchmarkBroadcast20 is one engine event reaching 20 viewers: the bus queues it for each, and
// each viewer's cockpit applies it and renders (120×40), as over SSH.
func BenchmarkBroadcast20(b *testing.B) {
	const viewers = 20
	bus := engine.NewBus(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newFixtureEngine(2000)
	var wg sync.WaitGroup
	for v := 0; v < viewers; v++ {
		ch := bus.Subscribe(ctx)
		a := newTestApp(e, 120, 40, Options{ReadOnly: true})
		go func() {
			for ev := range ch {
				a.Update(eventMsg{ev})
				a.render()
				wg.Done()
			}
		}()
	}
	steps := e.snap.Steps
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(viewers)
		bus.Publish(engine.StepChanged{Seq: uint64(101 + i), Step: steps[i%len(steps)]})
		wg.Wait()
	}
}
