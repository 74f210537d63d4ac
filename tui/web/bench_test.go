//go:build unix

package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/tui/web"
)

// pushEngine is the engine as the page sees it, with events the benchmark publishes.
type pushEngine struct {
	fakeEngine
	events  chan engine.Event
	mu      sync.Mutex
	current *engine.ReplicationView
}

func (p *pushEngine) Replication() *engine.ReplicationView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

func (p *pushEngine) Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event) {
	return p.snap, p.events
}

// demoSnapshot is a run like the demo's: 21 steps across five phases, half done.
func demoSnapshot() engine.Snapshot {
	s := engine.Snapshot{At: t0, Run: engine.RunView{Name: "Demo cutover", Environment: "DEMO", Rehearsal: true, Opened: t0,
		Downtime: &runbook.Downtime{Budget: 12 * time.Hour, BeginsWith: "step-05", PointOfNoReturn: "step-15", RollbackPoint: "step-07"}}}
	for i := range 21 {
		st := engine.StepView{ID: fmt.Sprintf("step-%02d", i), Title: fmt.Sprintf("Step number %d of the night", i), Phase: fmt.Sprintf("Phase %d", i/5),
			Planned: 20 * time.Minute, MaxAttempts: 1}
		if i > 0 {
			st.After = []string{fmt.Sprintf("step-%02d", i-1)}
		}
		switch {
		case i < 10:
			st.State, st.FirstStarted, st.Finished = engine.StateSucceeded, t0.Add(time.Duration(i)*20*time.Minute), t0.Add(time.Duration(i+1)*20*time.Minute)
		case i == 10:
			st.State, st.FirstStarted, st.Attempt = engine.StateRunning, t0.Add(200*time.Minute), 1
		}
		s.Steps = append(s.Steps, st)
	}
	return s
}

// BenchmarkPageViewerUpdate is the cost of one engine change for the page's viewers: the view is
// built once (the run, 2,000 tables' worst, the drain curve), encoded once and written to every
// open page's stream over loopback HTTP, where a client reads it. The CPU it takes, per viewer,
// is reported beside the wall time (the SSH cockpit's equivalent is BenchmarkViewerUpdate, ./tui).
func BenchmarkPageViewerUpdate(b *testing.B) {
	for _, viewers := range []int{1, 20} {
		b.Run(fmt.Sprintf("step/viewers=%d", viewers), func(b *testing.B) { benchViewers(b, viewers, false) })
	}
	// A new replication picture of 2,000 tables: its summary (the status glance's verdict, the
	// worst tables) is made once for every viewer.
	b.Run("replication/viewers=20", func(b *testing.B) { benchViewers(b, 20, true) })
}

func benchViewers(b *testing.B, viewers int, replication bool) {
	dir := b.TempDir()
	tok, _, err := web.LoadOrCreateToken(dir)
	if err != nil {
		b.Fatal(err)
	}
	repl := bigPicture(2000)
	for i := range 120 {
		repl.Trend = append(repl.Trend, engine.TrendPoint{At: t0.Add(time.Duration(i) * time.Minute), Pending: int64(300000 - i*2000)})
	}
	e := &pushEngine{fakeEngine: fakeEngine{snap: demoSnapshot()}, events: make(chan engine.Event), current: repl}
	srv, err := web.New(e, web.Options{Addr: "127.0.0.1:0", StateDir: dir, Token: tok, MinInterval: -1, Tick: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	got := make(chan int, viewers*4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	size := 0
	for range viewers {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 1<<16)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: {\"now\"") && len(line) > 200 {
					got <- len(line)
				}
			}
		}()
	}
	for range viewers { // each page's first view
		size = <-got
	}
	step := e.snap.Steps[10]
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if replication {
			next := *repl
			next.Cycles = i
			e.mu.Lock()
			e.current = &next
			e.mu.Unlock()
			e.events <- engine.ReplicationUpdated{View: &next}
		} else {
			step.Message = fmt.Sprintf("progress %d", i)
			e.events <- engine.StepChanged{Seq: uint64(i + 1), At: t0, Step: step}
		}
		for range viewers {
			<-got
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/float64(viewers), "cpu-µs/viewer-update")
	b.ReportMetric(float64(size), "bytes/view")
}
