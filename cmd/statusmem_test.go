package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/demo/demotest"
)

// floorEnv makes the test binary the floor of a status glance (floorMain) instead of the tests:
// its value is the source, distribution and target DSNs, one a line.
const floorEnv = "CUTOVER_TEST_FLOOR"

// floorIdle in floorEnv makes the floor program end at once: the test binary's own baseline.
const floorIdle = "idle"

// floorMain is the floor program: demotest.Floor against the DSNs in floorEnv.
func floorMain() int {
	if os.Getenv(floorEnv) == floorIdle {
		return 0
	}
	dsns := strings.Split(os.Getenv(floorEnv), "\n")
	if len(dsns) != 3 {
		fmt.Fprintf(os.Stderr, "%s: want 3 DSNs, one a line; got %d\n", floorEnv, len(dsns))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := demotest.Floor(ctx, dsns[0], dsns[1], dsns[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// BenchmarkStatusPeakMemory is issue 19's acceptance, measured as a user would: the real binary's
// `cutover status` against `cutover sim --tables N` in another process, its peak RSS (the child's
// Maxrss) beside the floor's (demotest.Floor in a child: the same texts to the same servers, rows
// scanned into reused variables). It reports status-MiB, floor-MiB and their ratio, and asserts
// nothing: the acceptance asks at most 2 at 50,000 tables, where this floor (the test binary,
// which links all of cutover as the real binary does, so both carry about the same baseline)
// puts it at about 1.8; a standalone floor program, some 14 MiB smaller before it reads
// anything, at about 3.5 (README).
// Run: go test -run XXX -bench StatusPeakMemory -benchtime 3x ./cmd/
func BenchmarkStatusPeakMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("Maxrss in kilobytes is Linux's")
	}
	bin := buildCutover(b)
	for _, n := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			rb, dsns := startSim(b, bin, n, dir)
			state := filepath.Join(dir, "state")
			var status, floor float64
			for b.Loop() {
				cmd := exec.Command(bin, "status", "-f", rb, "--state", state, "--oneline")
				cmd.Env = append(os.Environ(), "CUTOVER_SIM_PASSWORD=cutover-sim")
				out, err := cmd.Output()
				if code := cmd.ProcessState.ExitCode(); code < 0 || code > 2 || !strings.HasPrefix(string(out), "cutover ") {
					// 0-2: the glance read replication (the sim's agents lag: WARNING or CRITICAL).
					b.Fatalf("cutover status: %v (exit %d): %s", err, code, out)
				}
				status += maxRSS(cmd)
				fl := exec.Command(os.Args[0])
				fl.Env = append(os.Environ(), floorEnv+"="+strings.Join(dsns, "\n"))
				if out, err := fl.CombinedOutput(); err != nil {
					b.Fatalf("floor: %v: %s", err, out)
				}
				floor += maxRSS(fl)
			}
			status, floor = status/float64(b.N), floor/float64(b.N)
			b.ReportMetric(status, "status-MiB")
			b.ReportMetric(floor, "floor-MiB")
			b.ReportMetric(status/floor, "ratio")
			// What each program is before it reads anything: the binaries' own baselines (the floor
			// runs in the test binary, larger than a program of its own).
			version := exec.Command(bin, "--version")
			if out, err := version.CombinedOutput(); err != nil {
				b.Fatalf("cutover --version: %v: %s", err, out)
			}
			idle := exec.Command(os.Args[0])
			idle.Env = append(os.Environ(), floorEnv+"="+floorIdle)
			if out, err := idle.CombinedOutput(); err != nil {
				b.Fatalf("idle floor: %v: %s", err, out)
			}
			b.ReportMetric(status-maxRSS(version), "status-read-MiB")
			b.ReportMetric(floor-maxRSS(idle), "floor-read-MiB")
		})
	}
}

// maxRSS is a finished child's peak resident set in MiB (Linux reports kilobytes).
func maxRSS(cmd *exec.Cmd) float64 {
	return float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
}

// startSim starts `cutover sim --tables n` on free loopback ports, stopped when the benchmark
// ends, and returns a runbook with its connections and its source, distribution and target DSNs.
func startSim(b *testing.B, bin string, n int, dir string) (string, []string) {
	b.Helper()
	cmd := exec.Command(bin, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
		"--tables", fmt.Sprint(n), "--dir", filepath.Join(dir, "sim"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var diag strings.Builder
	cmd.Stderr = &diag
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		for range lines {
		}
		cmd.Wait()
	})
	var seen, snippet []string
	dsns := map[string]string{}
	inSnippet := false
	deadline := time.After(5 * time.Minute) // a failure bound: 50,000 tables take seconds
	for {
		var l string
		var ok bool
		select {
		case l, ok = <-lines:
		case <-deadline:
			ok = false
		}
		if !ok {
			b.Fatalf("cutover sim never served:\n%s\n%s", strings.Join(seen, "\n"), diag.String())
		}
		seen = append(seen, l)
		if strings.Contains(l, "Serving until Ctrl-C.") {
			break
		}
		// "    MicrosoftDynamicsAX    sqlserver://..." names a database's DSN.
		if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[1], "sqlserver://") {
			dsns[f[0]] = f[1]
		}
		if strings.HasPrefix(l, "connections:") {
			inSnippet = true
		}
		if inSnippet && strings.TrimSpace(l) != "" {
			snippet = append(snippet, l)
		}
	}
	list := []string{dsns["MicrosoftDynamicsAX"], dsns["distribution"], dsns["AxDB"]}
	if slices.Contains(list, "") || len(snippet) == 0 {
		b.Fatalf("cutover sim printed no DSNs or runbook snippet:\n%s", strings.Join(seen, "\n"))
	}
	rb := filepath.Join(dir, "runbook.yaml")
	text := "name: status memory\nsteps:\n  - {id: a, title: A, kind: manual}\n" + strings.Join(snippet, "\n") + "\n"
	if err := os.WriteFile(rb, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	return rb, list
}
