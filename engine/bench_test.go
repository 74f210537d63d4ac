package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/engine"
	"cutover/engine/runbook"
)

// benchRunbook is n instant probe steps; each waits for up to two earlier ones.
func benchRunbook(n int) string {
	var b strings.Builder
	b.WriteString("name: bench\nsteps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: s%d, title: S, kind: probe", i)
		if i > 0 {
			fmt.Fprintf(&b, ", after: [s%d", (i-1)/2)
			if i > 2 && i-2 != (i-1)/2 {
				fmt.Fprintf(&b, ", s%d", i-2)
			}
			b.WriteString("]")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// BenchmarkSchedule1000 runs a 1,000-step runbook of instant steps to completion: the engine's own
// cost per step (scheduling, journaling, publishing), with and without fsync.
func BenchmarkSchedule1000(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			src := benchRunbook(1000)
			probe := newProbe()
			probe.started = make(chan string, 1<<20)
			reg := engine.NewRegistry(append(engine.AllKinds(), probe)...)
			dir := b.TempDir()
			path := filepath.Join(dir, "cutover.yaml")
			os.WriteFile(path, []byte(src), 0o600)
			rb, err := runbook.Load(path, runbook.Options{Kinds: reg})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, fmt.Sprint("state", i)), Kinds: reg, NoSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Open(); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				_, events := e.Subscribe(ctx)
				if err := e.Start(ctx); err != nil {
					b.Fatal(err)
				}
				for ev := range events {
					if rc, ok := ev.(engine.RunChanged); ok && rc.Run.Outcome == engine.OutcomeCompleted {
						break
					}
				}
				cancel()
				e.Stop("bench")
				for len(probe.started) > 0 {
					<-probe.started
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/step")
		})
	}
}
