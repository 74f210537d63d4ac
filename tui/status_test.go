package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
	"cutover/engine/runbook"
)

var statusNow = time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)

// healthyView is a picture read 12 seconds ago: 46,162 commands pending, draining 1,500/s.
func healthyView() *engine.ReplicationView {
	read := statusNow.Add(-12 * time.Second)
	v := &engine.ReplicationView{At: read, Cycles: 7, PendingAt: read, AgentsAt: read, TotalPending: 46_162,
		DrainRate: 1500, ETA: 31 * time.Second,
		Tables: []engine.TableLag{
			{Table: "dbo.INVENTTRANS", Publication: "AX_PUB_PkTable_1", Published: true, Pending: 40_000, PendingAt: read, Source: 1_000_000, Target: 960_000, Delta: 40_000, Rate: 1200, ETA: 33 * time.Second, OnTarget: true},
			{Table: "dbo.SALESLINE", Publication: "AX_PUB_PkTable_2", Published: true, Pending: 6_162, PendingAt: read, Source: 500_000, Target: 493_838, Delta: 6_162, Rate: 300, ETA: 20 * time.Second, OnTarget: true},
			{Table: "dbo.CUSTTABLE", Publication: "AX_PUB_PkTable_2", Published: true, PendingAt: read, Source: 2_000, Target: 1_990, Delta: 10, OnTarget: true},
			{Table: "dbo.LEDGERTRANS", Publication: "AX_PUB_PkTable_2", Published: true, PendingAt: read, Source: 9_000, Target: 9_500, Delta: -500, OnTarget: true},
			{Table: "dbo.SYSTEMSEQUENCES", Ignored: true, Source: 50, Delta: 50},
			{Table: "dbo.VENDTABLE", Publication: "AX_PUB_PkTable_1", Published: true, PendingAt: read, Source: 70, Target: 70, OnTarget: true},
		},
		Agents: []engine.Agent{
			{Publication: "AX_PUB_PkTable_1", Name: "AXSQL01-AX-AX_PUB_PkTable_1-SBX-1", Kind: engine.AgentDistribution, Status: engine.AgentInProgress, Latency: 4 * time.Second},
			{Publication: "AX_PUB_PkTable_2", Name: "AXSQL01-AX-AX_PUB_PkTable_2-SBX-2", Kind: engine.AgentDistribution, Status: engine.AgentIdle, Latency: 3 * time.Second},
		},
	}
	for _, n := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
		v.Health = append(v.Health, engine.SourceHealth{Name: n, State: engine.HealthOK, Since: statusNow.Add(-time.Hour), LastOK: read})
	}
	return v
}

func setHealth(v *engine.ReplicationView, name string, h engine.SourceHealth) {
	for i := range v.Health {
		if v.Health[i].Name == name {
			h.Name = name
			v.Health[i] = h
		}
	}
}

// runSnapshot is a run at the AOS stop: 7 of 21 steps done, the downtime begun an hour ago.
func runSnapshot() *engine.Snapshot {
	snap := &engine.Snapshot{At: statusNow, Run: engine.RunView{Name: "Contoso go-live", Environment: "PROD", Outcome: engine.OutcomeWaiting,
		Downtime: &runbook.Downtime{Budget: 12 * time.Hour, BeginsWith: "aos-stop"}}}
	for i := 0; i < 21; i++ {
		st := engine.StepView{ID: "step-" + string(rune('a'+i)), Title: "Step", Phase: "Before downtime", State: engine.StatePending}
		switch {
		case i < 7:
			st.State = engine.StateSucceeded
		case i == 7:
			st.ID, st.Title, st.Phase, st.State = "aos-stop", "Shut down all AX 2012 AOS instances", "Shutdown", engine.StateAwaiting
			st.FirstStarted = statusNow.Add(-time.Hour)
		case i == 8:
			st.State = engine.StateRunning
		}
		snap.Steps = append(snap.Steps, st)
	}
	return snap
}

func TestStatusLevels(t *testing.T) {
	cases := []struct {
		name   string
		change func(v *engine.ReplicationView) *engine.ReplicationView
		th     func(th *engine.Thresholds)
		level  engine.Level
		reason string
	}{
		{name: "healthy", level: engine.LevelOK},
		{name: "lagging over warn", level: engine.LevelWarning, reason: "250,000 commands pending (warning over 100,000",
			change: func(v *engine.ReplicationView) *engine.ReplicationView { v.TotalPending = 250_000; return v }},
		{name: "latency over warn", level: engine.LevelWarning, reason: "latency 6m (warning over 5m)",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Agents[1].Latency = 6 * time.Minute
				return v
			}},
		{name: "lagging over crit", level: engine.LevelCritical, reason: "1,500,000 commands pending (critical over 1,000,000",
			change: func(v *engine.ReplicationView) *engine.ReplicationView { v.TotalPending = 1_500_000; return v }},
		{name: "latency over crit", level: engine.LevelCritical, reason: "AXSQL01-AX-AX_PUB_PkTable_1-SBX-1 latency 45m",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Agents[0].Latency = 45 * time.Minute
				return v
			}},
		{name: "agent in error", level: engine.LevelCritical, reason: "(AX_PUB_PkTable_2) is failed: The process could not connect to Subscriber",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Agents[1].Status, v.Agents[1].Error = engine.AgentFailed, "The process could not connect to Subscriber"
				return v
			}},
		{name: "agent retrying", level: engine.LevelCritical, reason: "is retrying",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Agents[0].Status = engine.AgentRetrying
				return v
			}},
		{name: "unreachable source", level: engine.LevelUnknown, reason: "target unreachable for 3m: row counts: connection reset (last good read 3m15s ago)",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				setHealth(v, engine.SourceTarget, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow.Add(-3 * time.Minute),
					LastOK: statusNow.Add(-3*time.Minute - 15*time.Second), LastError: "row counts: connection reset", Failures: 4})
				return v
			}},
		{name: "source never read", level: engine.LevelUnknown, reason: "source never read",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				setHealth(v, engine.SourceAX, engine.SourceHealth{})
				return v
			}},
		{name: "stale figures", level: engine.LevelUnknown, reason: "backlog figures are 7m old (stale after 5m)",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.PendingAt = statusNow.Add(-7 * time.Minute)
				return v
			}},
		{name: "stale figures are not compared with thresholds", level: engine.LevelUnknown, reason: "stale",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.PendingAt, v.TotalPending = statusNow.Add(-7*time.Minute), 5_000_000
				return v
			}},
		{name: "stale agent states", level: engine.LevelUnknown, reason: "agent states are 10m old (stale after 5m)",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.AgentsAt = statusNow.Add(-10 * time.Minute)
				return v
			}},
		{name: "an agent in error outranks an unreachable source", level: engine.LevelCritical, reason: "distribution agent",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Agents[0].Status = engine.AgentFailed
				setHealth(v, engine.SourceTarget, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow, LastError: "boom"})
				return v
			}},
		{name: "replication removed", level: engine.LevelOK, reason: "replication removed 2h00m ago by step remove-replication",
			change: func(v *engine.ReplicationView) *engine.ReplicationView {
				v.Retired, v.RetiredBy = statusNow.Add(-2*time.Hour), "remove-replication"
				v.PendingAt, v.AgentsAt = statusNow.Add(-2*time.Hour), statusNow.Add(-2*time.Hour)
				v.Agents[0].Status = engine.AgentFailed
				setHealth(v, engine.SourceDistributor, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow.Add(-2 * time.Hour), LastError: "Invalid object name"})
				return v
			}},
		{name: "no view", level: engine.LevelUnknown, reason: "no replication data",
			change: func(*engine.ReplicationView) *engine.ReplicationView { return nil }},
		{name: "before the first poll", level: engine.LevelUnknown, reason: "waiting for the first poll",
			change: func(*engine.ReplicationView) *engine.ReplicationView { return &engine.ReplicationView{} }},
		{name: "a zero threshold is not checked", level: engine.LevelOK,
			change: func(v *engine.ReplicationView) *engine.ReplicationView { v.TotalPending = 5_000_000; return v },
			th:     func(th *engine.Thresholds) { th.WarnPending, th.CritPending = 0, 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := healthyView()
			if c.change != nil {
				v = c.change(v)
			}
			th := engine.DefaultThresholds()
			if c.th != nil {
				c.th(&th)
			}
			s := EvaluateStatus(v, runSnapshot(), th, statusNow)
			if s.Level != c.level || s.ExitCode() != int(c.level) {
				t.Fatalf("level %s (exit %d), want %s; reasons %q", s.Level, s.ExitCode(), c.level, s.Reasons)
			}
			if c.reason == "" {
				if len(s.Reasons) != 0 {
					t.Fatalf("reasons %q, want none", s.Reasons)
				}
				return
			}
			if len(s.Reasons) == 0 || !strings.Contains(s.Reasons[0], c.reason) {
				t.Fatalf("first reason of %q should contain %q", s.Reasons, c.reason)
			}
		})
	}
}

func TestStatusExitCodes(t *testing.T) {
	for _, c := range []struct {
		level engine.Level
		word  string
		code  int
	}{{engine.LevelOK, "OK", 0}, {engine.LevelWarning, "WARNING", 1}, {engine.LevelCritical, "CRITICAL", 2}, {engine.LevelUnknown, "UNKNOWN", 3}, {engine.Level(42), "UNKNOWN", 3}} {
		if got := (Status{Level: c.level}).ExitCode(); got != c.code || c.level.String() != c.word {
			t.Errorf("%d: exit %d word %q, want %d %q", int(c.level), got, c.level.String(), c.code, c.word)
		}
	}
}

func TestStatusRunProgress(t *testing.T) {
	s := EvaluateStatus(healthyView(), runSnapshot(), engine.DefaultThresholds(), statusNow)
	rs := s.Run
	if rs == nil || rs.StepsDone != 7 || rs.StepsTotal != 21 || rs.Outcome != engine.OutcomeWaiting {
		t.Fatalf("run %+v", rs)
	}
	if c := rs.Current; c == nil || c.ID != "aos-stop" || c.State != engine.StateAwaiting || c.Phase != "Shutdown" {
		t.Fatalf("an operator's step comes first: %+v", rs.Current)
	}
	if d := rs.Downtime; d == nil || d.Elapsed != time.Hour || d.Budget != 12*time.Hour || d.Over() {
		t.Fatalf("downtime %+v", rs.Downtime)
	}
	if s := EvaluateStatus(healthyView(), nil, engine.DefaultThresholds(), statusNow); s.Run != nil {
		t.Fatal("no snapshot, no run progress")
	}
}

func TestStatusWorstTables(t *testing.T) {
	v := healthyView()
	for i := 0; i < 10; i++ {
		v.Tables = append(v.Tables, engine.TableLag{Table: "dbo.SMALL" + string(rune('A'+i)), Source: 10, Target: 9, Delta: 1, OnTarget: true})
	}
	s := EvaluateStatus(v, nil, engine.DefaultThresholds(), statusNow)
	var names []string
	for _, w := range s.Replication.Worst {
		names = append(names, w.Table)
	}
	// By pending, then by |delta|; ignored tables and tables with nothing to deliver are left out.
	if got, want := strings.Join(names, " "), "INVENTTRANS SALESLINE LEDGERTRANS CUSTTABLE SMALLA"; got != want {
		t.Fatalf("worst tables %q, want %q", got, want)
	}
}

func TestStatusText(t *testing.T) {
	v := healthyView()
	v.Agents[1].Status, v.Agents[1].Error = engine.AgentFailed, "The process could not connect to Subscriber 'AXSANDBOX'."
	setHealth(v, engine.SourceTarget, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow.Add(-3 * time.Minute),
		LastOK: statusNow.Add(-4 * time.Minute), LastError: "row counts: connection reset"})
	var b bytes.Buffer
	if err := EvaluateStatus(v, runSnapshot(), engine.DefaultThresholds(), statusNow).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "cutover CRITICAL - distribution agent AXSQL01-AX-AX_PUB_PkTable_2-SBX-2 (AX_PUB_PkTable_2) is failed") ||
		!strings.Contains(lines[0], "; target unreachable for 3m") || !strings.Contains(lines[0], " | pending=46162;100000;1000000;0") {
		t.Fatalf("the verdict and its reasons come first:\n%s", out)
	}
	for _, want := range []string{
		"pending 46,162 (read 12s ago) · draining 1,500/s · ETA 31s",
		"agents read 12s ago",
		"INVENTTRANS  AX_PUB_PkTable_1  pending 40,000 (read 12s ago)  delta +40,000  1,200/s  ETA 33s",
		"AX_PUB_PkTable_2 · AXSQL01-AX-AX_PUB_PkTable_2-SBX-2 (distribution, failed): The process could not connect",
		"source ok (read 12s ago) · distributor ok (read 12s ago) · target FAILING for 3m: row counts: connection reset (last good read 4m ago)",
		"Contoso go-live · 7/21 steps · aos-stop awaiting (Shutdown) · waiting for an operator · downtime 1h00m / 12h00m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("plain text only, no escape sequences:\n%q", out)
	}
	b.Reset()
	if err := EvaluateStatus(nil, nil, engine.DefaultThresholds(), statusNow).WriteText(&b); err != nil || b.String() != "cutover UNKNOWN - no replication data\n" {
		t.Fatalf("without data: %q, %v", b.String(), err)
	}
}

func TestStatusOneLine(t *testing.T) {
	snap := runSnapshot()
	if got := EvaluateStatus(healthyView(), snap, engine.DefaultThresholds(), statusNow).OneLine(); got != "cutover OK 46,162 pending ETA 31s · 7/21 steps" {
		t.Errorf("healthy: %q", got)
	}
	v := healthyView()
	v.Agents[1].Status = engine.AgentFailed
	if got := EvaluateStatus(v, nil, engine.DefaultThresholds(), statusNow).OneLine(); got != "cutover CRIT agent error AX_PUB_PkTable_2" {
		t.Errorf("agent in error: %q", got)
	}
	v = healthyView()
	v.Retired = statusNow
	if got := EvaluateStatus(v, nil, engine.DefaultThresholds(), statusNow).OneLine(); got != "cutover OK replication removed" {
		t.Errorf("retired: %q", got)
	}
	// Long names never push it past a tmux status line.
	long := strings.Repeat("AX_PUB_VeryLongPublicationName_", 8)
	v = healthyView()
	v.Agents[0].Status, v.Agents[0].Publication, v.Agents[0].Name = engine.AgentFailed, long, long+"-agent"
	setHealth(v, engine.SourceTarget, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow, LastError: strings.Repeat("x", 300)})
	snap.Run.Name = strings.Repeat("Contoso ", 30)
	for _, s := range []Status{
		EvaluateStatus(v, snap, engine.DefaultThresholds(), statusNow),
		EvaluateStatus(nil, snap, engine.DefaultThresholds(), statusNow),
		EvaluateStatus(healthyView(), snap, engine.DefaultThresholds(), statusNow),
	} {
		line := s.OneLine()
		if w := ansi.StringWidth(line); w > OneLineWidth || strings.Contains(line, "\n") {
			t.Errorf("%d cells: %q", w, line)
		}
		if !strings.HasPrefix(line, "cutover "+levelShort(s.Level)) {
			t.Errorf("the verdict comes first: %q", line)
		}
	}
}

func TestStatusJSONSchema(t *testing.T) {
	v := healthyView()
	v.Agents[1].Status, v.Agents[1].Error = engine.AgentFailed, "cannot connect"
	v.Tables[2].ETA = 0
	var b bytes.Buffer
	if err := EvaluateStatus(v, runSnapshot(), engine.DefaultThresholds(), statusNow).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	const (
		str  = "string"
		numb = "number"
		boo  = "bool"
		obj  = "object"
		arr  = "array"
		null = "null"
	)
	check := func(where string, m map[string]any, want map[string]string) {
		t.Helper()
		checkKeys(t, where, m, want)
	}
	check("status", doc, map[string]string{"schema": str, "level": str, "exit_code": numb, "reasons": arr, "checked_at": str,
		"thresholds": obj, "replication": obj, "run": obj})
	if doc["schema"] != "cutover.status/v1" || doc["level"] != "CRITICAL" || doc["exit_code"] != 2.0 || doc["checked_at"] != "2026-12-05T21:00:00Z" {
		t.Errorf("header %v %v %v %v", doc["schema"], doc["level"], doc["exit_code"], doc["checked_at"])
	}
	check("thresholds", doc["thresholds"].(map[string]any), map[string]string{"warn_pending": numb, "crit_pending": numb,
		"warn_latency_seconds": numb, "crit_latency_seconds": numb, "max_age_seconds": numb})
	repl := doc["replication"].(map[string]any)
	check("replication", repl, map[string]string{"at": str, "cycles": numb, "tables": numb, "total_pending": numb,
		"pending_read_at": str, "pending_age_seconds": numb, "drain_rate_per_second": numb, "eta_seconds": numb,
		"agents_read_at": str, "agents_age_seconds": numb, "data_age_seconds": numb, "max_latency_seconds": numb,
		"max_latency_agent": str, "retired_at": null, "retired_by": str, "worst_tables": arr, "agents_in_error": arr, "sources": arr})
	if repl["pending_age_seconds"] != 12.0 || repl["eta_seconds"] != 31.0 || repl["total_pending"] != 46162.0 || repl["drain_rate_per_second"] != 1500.0 {
		t.Errorf("figures %v", repl)
	}
	worst := repl["worst_tables"].([]any)
	if len(worst) != 4 {
		t.Fatalf("worst tables %v", worst)
	}
	tableKeys := map[string]string{"table": str, "publication": str, "pending": numb, "pending_read_at": str, "delta": numb,
		"rate_per_second": numb, "eta_seconds": numb}
	check("worst_tables[0]", worst[0].(map[string]any), tableKeys)
	tableKeys["eta_seconds"] = null // CUSTTABLE: nothing pending, no ETA
	check("worst_tables[3]", worst[3].(map[string]any), tableKeys)
	agents := repl["agents_in_error"].([]any)
	if len(agents) != 1 {
		t.Fatalf("agents in error %v", agents)
	}
	check("agents_in_error[0]", agents[0].(map[string]any), map[string]string{"publication": str, "agent": str, "kind": str, "status": str, "error": str})
	srcs := repl["sources"].([]any)
	if len(srcs) != 3 {
		t.Fatalf("sources %v", srcs)
	}
	check("sources[0]", srcs[0].(map[string]any), map[string]string{"name": str, "health": str, "since": str, "last_ok_at": str,
		"last_ok_age_seconds": numb, "last_error": str, "failures": numb})
	if h := srcs[2].(map[string]any); h["name"] != "target" || h["health"] != "ok" {
		t.Errorf("source %v", h)
	}
	run := doc["run"].(map[string]any)
	check("run", run, map[string]string{"name": str, "environment": str, "rehearsal": boo, "outcome": str, "engine": str, "steps_done": numb,
		"steps_total": numb, "steps_not_needed": numb, "current_step": obj, "downtime": obj, "rollback": null})
	check("run.current_step", run["current_step"].(map[string]any), map[string]string{"id": str, "title": str, "state": str, "phase": str})
	check("run.downtime", run["downtime"].(map[string]any), map[string]string{"began_at": str, "elapsed_seconds": numb, "budget_seconds": numb, "over_budget": boo})
	if dt := run["downtime"].(map[string]any); dt["elapsed_seconds"] != 3600.0 || dt["budget_seconds"] != 43200.0 || run["outcome"] != "waiting for an operator" {
		t.Errorf("run %v", run)
	}

	// Nothing known: the same keys, with null where there is nothing.
	b.Reset()
	if err := EvaluateStatus(nil, nil, engine.DefaultThresholds(), statusNow).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	doc = nil
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	check("empty status", doc, map[string]string{"schema": str, "level": str, "exit_code": numb, "reasons": arr, "checked_at": str,
		"thresholds": obj, "replication": null, "run": null})
	if doc["level"] != "UNKNOWN" || doc["exit_code"] != 3.0 {
		t.Errorf("empty status %v", doc)
	}
	// Never-read figures and unknown ETAs are null, not zero.
	v = healthyView()
	v.PendingAt, v.AgentsAt, v.ETA = time.Time{}, time.Time{}, 0
	b.Reset()
	if err := EvaluateStatus(v, nil, engine.DefaultThresholds(), statusNow).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	doc = nil
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	repl = doc["replication"].(map[string]any)
	for _, k := range []string{"pending_read_at", "pending_age_seconds", "eta_seconds", "agents_read_at", "agents_age_seconds", "data_age_seconds"} {
		if repl[k] != nil {
			t.Errorf("%s = %v, want null", k, repl[k])
		}
	}
}

// jsonKind names a decoded JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return "?"
}

// checkKeys asserts an object has exactly the keys in want, each of its type.
func checkKeys(t *testing.T, where string, v any, want map[string]string) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s is %s, want object", where, jsonKind(v))
		return
	}
	for k, typ := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s: missing key %q", where, k)
			continue
		}
		if jsonKind(got) != typ {
			t.Errorf("%s.%s is %s (%v), want %s", where, k, jsonKind(got), got, typ)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: undocumented key %q", where, k)
		}
	}
}

// with is a copy of a key map with some types changed.
func with(base map[string]string, changes ...string) map[string]string {
	out := make(map[string]string, len(base))
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		out[changes[i]] = changes[i+1]
	}
	return out
}

// TestStatusJSONSchemaEveryState: for each verdict — OK, WARNING, CRITICAL, UNKNOWN for an
// unreachable source, UNKNOWN for stale figures, before the first poll, replication removed — the
// document has every key of cutover.status/v1 with its type (null only where the schema allows).
func TestStatusJSONSchemaEveryState(t *testing.T) {
	const (
		str, num, boo, obj, arr, null = "string", "number", "bool", "object", "array", "null"
	)
	top := map[string]string{"schema": str, "level": str, "exit_code": num, "reasons": arr, "checked_at": str,
		"thresholds": obj, "replication": obj, "run": obj}
	thresholds := map[string]string{"warn_pending": num, "crit_pending": num, "warn_latency_seconds": num,
		"crit_latency_seconds": num, "max_age_seconds": num}
	repl := map[string]string{"at": str, "cycles": num, "tables": num, "total_pending": num,
		"pending_read_at": str, "pending_age_seconds": num, "drain_rate_per_second": num, "eta_seconds": num,
		"agents_read_at": str, "agents_age_seconds": num, "data_age_seconds": num, "max_latency_seconds": num,
		"max_latency_agent": str, "retired_at": null, "retired_by": str, "worst_tables": arr, "agents_in_error": arr, "sources": arr}
	table := map[string]string{"table": str, "publication": str, "pending": num, "pending_read_at": str, "delta": num,
		"rate_per_second": num, "eta_seconds": num}
	agent := map[string]string{"publication": str, "agent": str, "kind": str, "status": str, "error": str}
	source := map[string]string{"name": str, "health": str, "since": str, "last_ok_at": str, "last_ok_age_seconds": num,
		"last_error": str, "failures": num}
	run := map[string]string{"name": str, "environment": str, "rehearsal": boo, "outcome": str, "engine": str, "steps_done": num,
		"steps_total": num, "steps_not_needed": num, "current_step": obj, "downtime": obj, "rollback": null}
	rollback := map[string]string{"state": str, "no_return": str, "no_return_title": str, "rollback_point": str, "rollback_point_at": str,
		"rollback_point_verified": boo, "rollback_point_proof": str, "no_return_at": null, "no_return_in_seconds": num}
	current := map[string]string{"id": str, "title": str, "state": str, "phase": str}
	downtime := map[string]string{"began_at": str, "elapsed_seconds": num, "budget_seconds": num, "over_budget": boo}

	finished := func() *engine.Snapshot {
		s := runSnapshot()
		for i := range s.Steps {
			s.Steps[i].State = engine.StateSucceeded
		}
		s.Run.Outcome, s.Run.Downtime = engine.OutcomeCompleted, nil
		return s
	}
	cases := []struct {
		name   string
		view   func() *engine.ReplicationView
		snap   func() *engine.Snapshot
		level  string
		exit   float64
		reason string
		// top, repl, sources[i] and run key types that differ from the common ones.
		top, repl []string
		sources   map[int][]string
		agents    int
		run       []string
		check     func(t *testing.T, doc map[string]any)
	}{
		{name: "OK", view: healthyView, snap: runSnapshot, level: "OK", exit: 0,
			check: func(t *testing.T, doc map[string]any) {
				if r := doc["reasons"].([]any); len(r) != 0 {
					t.Errorf("an OK verdict has no reasons: %v", r)
				}
			}},
		{name: "WARNING", level: "WARNING", exit: 1, reason: "250,000 commands pending (warning over 100,000",
			view: func() *engine.ReplicationView { v := healthyView(); v.TotalPending = 250_000; return v }, snap: runSnapshot},
		{name: "CRITICAL", level: "CRITICAL", exit: 2, reason: "is failed: cannot connect", agents: 1,
			view: func() *engine.ReplicationView {
				v := healthyView()
				v.Agents[1].Status, v.Agents[1].Error = engine.AgentFailed, "cannot connect"
				return v
			}, snap: runSnapshot},
		{name: "UNKNOWN unreachable source", level: "UNKNOWN", exit: 3, reason: "target unreachable for 3m: login failed",
			view: func() *engine.ReplicationView {
				v := healthyView()
				setHealth(v, engine.SourceTarget, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow.Add(-3 * time.Minute),
					LastOK: statusNow.Add(-4 * time.Minute), LastError: "login failed", Failures: 3})
				setHealth(v, engine.SourceAX, engine.SourceHealth{}) // never read: no times
				return v
			}, snap: runSnapshot,
			sources: map[int][]string{0: {"since", null, "last_ok_at", null, "last_ok_age_seconds", null}},
			check: func(t *testing.T, doc map[string]any) {
				srcs := doc["replication"].(map[string]any)["sources"].([]any)
				if s := srcs[2].(map[string]any); s["health"] != "failing" || s["last_error"] != "login failed" || s["failures"] != 3.0 || s["last_ok_age_seconds"] != 240.0 {
					t.Errorf("the unreachable source %v", s)
				}
				if s := srcs[0].(map[string]any); s["health"] != "unknown" {
					t.Errorf("the never-read source %v", s)
				}
			}},
		{name: "UNKNOWN stale data", level: "UNKNOWN", exit: 3, reason: "backlog figures are 7m old (stale after 5m)",
			view: func() *engine.ReplicationView {
				v := healthyView()
				v.PendingAt, v.TotalPending = statusNow.Add(-7*time.Minute), 5_000_000
				return v
			}, snap: runSnapshot,
			check: func(t *testing.T, doc map[string]any) {
				r := doc["replication"].(map[string]any)
				if r["pending_age_seconds"] != 420.0 || r["data_age_seconds"] != 420.0 || r["agents_age_seconds"] != 12.0 {
					t.Errorf("the ages say how stale: %v %v %v", r["pending_age_seconds"], r["data_age_seconds"], r["agents_age_seconds"])
				}
			}},
		{name: "UNKNOWN before the first poll", level: "UNKNOWN", exit: 3, reason: "waiting for the first poll",
			view: func() *engine.ReplicationView { return &engine.ReplicationView{} }, snap: runSnapshot,
			top: []string{"replication", null}},
		{name: "OK replication removed, run finished", level: "OK", exit: 0, reason: "replication removed",
			view: func() *engine.ReplicationView {
				v := healthyView()
				v.Retired, v.RetiredBy, v.ETA = statusNow.Add(-time.Hour), "remove-replication", 0
				return v
			}, snap: finished,
			repl: []string{"retired_at", str, "eta_seconds", null},
			run:  []string{"current_step", null, "downtime", null}},
		{name: "OK with the rollback ready", level: "OK", exit: 0, view: healthyView, run: []string{"rollback", obj},
			snap: func() *engine.Snapshot {
				s := runSnapshot()
				s.Run.Downtime.PointOfNoReturn, s.Run.Downtime.RollbackPoint = "step-u", "step-c"
				s.Steps[2].Finished, s.Steps[2].VerifiesBackup = statusNow.Add(-3*time.Hour), true
				s.Steps[20].After, s.Steps[20].Planned = []string{"step-t"}, time.Hour
				s.Steps[20].Title = "Let users and integrations in"
				s.Steps[19].Planned = 45 * time.Minute
				return s
			},
			check: func(t *testing.T, doc map[string]any) {
				rb := doc["run"].(map[string]any)["rollback"].(map[string]any)
				if rb["state"] != "ready" || rb["no_return"] != "step-u" || rb["no_return_title"] != "Let users and integrations in" ||
					rb["rollback_point"] != "step-c" || rb["rollback_point_at"] != "2026-12-05T18:00:00Z" ||
					rb["rollback_point_verified"] != true || rb["rollback_point_proof"] != "verified" || rb["no_return_in_seconds"] != 2700.0 {
					t.Errorf("rollback %v", rb)
				}
			}},
		{name: "OK with the rollback point made by hand", level: "OK", exit: 0, view: healthyView, run: []string{"rollback", obj},
			snap: func() *engine.Snapshot {
				s := runSnapshot()
				s.Run.Downtime.PointOfNoReturn, s.Run.Downtime.RollbackPoint = "step-u", "step-c"
				s.Steps[2].Finished, s.Steps[2].VerifiesBackup, s.Steps[2].ByHand = statusNow.Add(-3*time.Hour), true, true
				s.Steps[20].After, s.Steps[20].Planned = []string{"step-t"}, time.Hour
				return s
			},
			check: func(t *testing.T, doc map[string]any) {
				rb := doc["run"].(map[string]any)["rollback"].(map[string]any)
				if rb["state"] != "ready" || rb["rollback_point_verified"] != false || rb["rollback_point_proof"] != "by hand" {
					t.Errorf("rollback %v", rb)
				}
			}},
		{name: "UNKNOWN nothing known", level: "UNKNOWN", exit: 3, reason: "no replication data",
			view: func() *engine.ReplicationView { return nil }, snap: func() *engine.Snapshot { return nil },
			top: []string{"replication", null, "run", null}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := EvaluateStatus(c.view(), c.snap(), engine.DefaultThresholds(), statusNow).WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("%v\n%s", err, b.String())
			}
			checkKeys(t, "status", doc, with(top, c.top...))
			if doc["schema"] != "cutover.status/v1" || doc["level"] != c.level || doc["exit_code"] != c.exit || doc["checked_at"] != "2026-12-05T21:00:00Z" {
				t.Errorf("header %v %v %v %v, want %s exit %v", doc["schema"], doc["level"], doc["exit_code"], doc["checked_at"], c.level, c.exit)
			}
			if c.reason != "" {
				found := false
				for _, r := range doc["reasons"].([]any) {
					found = found || strings.Contains(r.(string), c.reason)
				}
				if !found {
					t.Errorf("reasons %v, want one saying %q", doc["reasons"], c.reason)
				}
			}
			checkKeys(t, "thresholds", doc["thresholds"], thresholds)
			if r, ok := doc["replication"].(map[string]any); ok {
				checkKeys(t, "replication", r, with(repl, c.repl...))
				for i, w := range r["worst_tables"].([]any) {
					kinds := table
					if w.(map[string]any)["pending"] == 0.0 {
						kinds = with(table, "eta_seconds", null) // nothing pending: no ETA
					}
					checkKeys(t, fmt.Sprintf("worst_tables[%d]", i), w, kinds)
				}
				agents := r["agents_in_error"].([]any)
				if len(agents) != c.agents {
					t.Errorf("agents in error %v, want %d", agents, c.agents)
				}
				for i, a := range agents {
					checkKeys(t, fmt.Sprintf("agents_in_error[%d]", i), a, agent)
				}
				srcs := r["sources"].([]any)
				if len(srcs) != 3 {
					t.Fatalf("sources %v", srcs)
				}
				for i, s := range srcs {
					checkKeys(t, fmt.Sprintf("sources[%d]", i), s, with(source, c.sources[i]...))
				}
			}
			if rs, ok := doc["run"].(map[string]any); ok {
				checkKeys(t, "run", rs, with(run, c.run...))
				if cur, ok := rs["current_step"].(map[string]any); ok {
					checkKeys(t, "run.current_step", cur, current)
				}
				if dt, ok := rs["downtime"].(map[string]any); ok {
					checkKeys(t, "run.downtime", dt, downtime)
				}
				if rb, ok := rs["rollback"].(map[string]any); ok {
					checkKeys(t, "run.rollback", rb, rollback)
				}
			}
			if c.check != nil {
				c.check(t, doc)
			}
		})
	}
}

// TestStatusTextSaysWhereTheRollbackStands: the glance has a rollback line: whether the rollback
// point was made and its backup verified (by the step, by hand, or not checked), with its age, the
// point of no return's step and the time to it; or what is missing; or that it is over.
func TestStatusTextSaysWhereTheRollbackStands(t *testing.T) {
	snap := runSnapshot()
	snap.Run.Downtime.PointOfNoReturn, snap.Run.Downtime.RollbackPoint = "step-u", "step-c"
	snap.Steps[2].Finished = statusNow.Add(-3 * time.Hour)
	snap.Steps[20].After, snap.Steps[20].Planned = []string{"step-t"}, time.Hour
	snap.Steps[19].Planned = 45 * time.Minute
	text := func() string {
		var b bytes.Buffer
		if err := EvaluateStatus(healthyView(), snap, engine.DefaultThresholds(), statusNow).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	// Made by a step that does not check the backup, by hand, and verified.
	for _, c := range []struct {
		verifies, byHand bool
		want             string
	}{
		{false, false, "rollback point made 3h00m ago (step-c, not verified: the step does not check the backup) · no return: step-u in ≈45m"},
		{true, true, "rollback point made by hand 3h00m ago (step-c, not verified) · no return: step-u in ≈45m"},
		{true, false, "rollback ready · backup verified 3h00m ago (step-c) · no return: step-u in ≈45m"},
	} {
		snap.Steps[2].VerifiesBackup, snap.Steps[2].ByHand = c.verifies, c.byHand
		if out := text(); !strings.Contains(out, "\nrollback     "+c.want+"\n") {
			t.Fatalf("want %q:\n%s", c.want, out)
		}
	}
	// A conditional step not needed counts as done, and the run line says how many.
	snap.Steps[10].State = engine.StateNotNeeded
	if out := text(); !strings.Contains(out, "\nrun          Contoso go-live · 8/21 steps (1 not needed) · aos-stop awaiting") {
		t.Fatalf("not needed:\n%s", out)
	}
	snap.Steps[2].State = engine.StateRunning
	if out := text(); !strings.Contains(out, "\nrollback     no rollback point yet (step-c running) · no return: step-u in ≈45m\n") {
		t.Fatalf("not made yet:\n%s", out)
	}
	snap.Steps[2].State = engine.StateSkipped
	snap.Steps[20].State = engine.StateAwaiting
	if out := text(); !strings.Contains(out, "\nrollback     NO rollback point (step-c not done) · no return: step-u awaits confirmation\n") {
		t.Fatalf("at risk:\n%s", out)
	}
	snap.Steps[20].State, snap.Steps[20].Finished = engine.StateSucceeded, statusNow.Add(-12*time.Minute)
	if out := text(); !strings.Contains(out, "\nrollback     rollback over: the point of no return (step-u) passed 12m ago\n") {
		t.Fatalf("gone:\n%s", out)
	}
}

// TestPublicationRowAndGlanceAgree: a publication whose agent is late over the warning threshold is
// WARNING in `cutover status` and marked "▲" with the same reason in the cockpit's replication pane
// (both from the engine's one verdict); one in error is CRITICAL and "✖"; an OK one "✓ ok".
func TestPublicationRowAndGlanceAgree(t *testing.T) {
	e := newFixtureEngine(200)
	v := e.repl
	v.Health[2] = engine.SourceHealth{Name: engine.SourceTarget, State: engine.HealthOK, LastOK: v.At}
	v.Publications[0].Latency = 7 * time.Minute
	v.Publications[0].Failing = nil
	v.Publications[1].Failing = nil
	v.Publications[1].Latency = 2 * time.Second
	for i := range v.Agents {
		v.Agents[i].Status = engine.AgentIdle
		v.Agents[i].Latency = 2 * time.Second
	}
	v.TotalPending = 10
	st := EvaluateStatus(v, nil, engine.DefaultThresholds(), fixedNow)
	want := v.Publications[0].Name + " latency 7m (warning over 5m)"
	if st.Level != engine.LevelWarning || !slicesContain(st.Reasons, want) {
		t.Fatalf("status %s %q, want WARNING with %q", st.Level, st.Reasons, want)
	}
	a := newTestApp(e, 200, 60, Options{})
	screen := ansi.Strip(a.render())
	var row, ok string
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(l, v.Publications[0].Name+" "):
			row = l
		case strings.Contains(l, v.Publications[1].Name+" "):
			ok = l
		}
	}
	if !strings.Contains(row, "▲ latency 7m (warning") || strings.Contains(row, "✓ ok") {
		t.Fatalf("the row of %s:\n%q\nwant ▲ and %q", v.Publications[0].Name, row, want)
	}
	if !strings.Contains(ok, "✓ ok") {
		t.Fatalf("the row of %s: %q", v.Publications[1].Name, ok)
	}
	// Over the critical threshold: CRITICAL, and the row says ✖.
	v.Publications[0].Latency = 40 * time.Minute
	if st := EvaluateStatus(v, nil, engine.DefaultThresholds(), fixedNow); st.Level != engine.LevelCritical {
		t.Fatalf("critical latency: %s %q", st.Level, st.Reasons)
	}
	a = newTestApp(e, 200, 60, Options{})
	if screen := ansi.Strip(a.render()); !strings.Contains(screen, "✖ latency 40m (critical") {
		t.Fatalf("the critical row is not marked:\n%s", screen)
	}
}

// TestNeverReadIsUnknownNotDrained: a picture whose backlog was never read (a wrong password on
// the distributor) is UNKNOWN, and nothing says "drained" or gives a zero backlog as a figure.
func TestNeverReadIsUnknownNotDrained(t *testing.T) {
	v := healthyView()
	v.PendingAt, v.TotalPending, v.DrainRate, v.ETA = time.Time{}, 0, 0, 0
	for i := range v.Tables {
		v.Tables[i].Pending, v.Tables[i].PendingAt, v.Tables[i].ETA = 0, time.Time{}, 0
	}
	setHealth(v, engine.SourceDistributor, engine.SourceHealth{State: engine.HealthFailing, Since: statusNow.Add(-time.Minute),
		LastError: "login failed for user 'cutover' (18456)"})
	st := EvaluateStatus(v, nil, engine.DefaultThresholds(), statusNow)
	if st.Level != engine.LevelUnknown || st.ExitCode() != 3 {
		t.Fatalf("level %s exit %d", st.Level, st.ExitCode())
	}
	var text, js bytes.Buffer
	st.WriteText(&text)
	st.WriteJSON(&js)
	if strings.Contains(text.String(), "drained") || !strings.Contains(text.String(), "pending unknown (backlog never read)") ||
		!strings.Contains(text.String(), "pending=U;") {
		t.Fatalf("text:\n%s", text.String())
	}
	var doc struct {
		Replication struct {
			TotalPending *int64 `json:"total_pending"`
		} `json:"replication"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Replication.TotalPending != nil {
		t.Fatalf("JSON total_pending must be null when never read: %v\n%s", err, js.String())
	}
	if strings.Contains(st.OneLine(), "0 pending") {
		t.Fatalf("one line: %q", st.OneLine())
	}
}

// TestThresholdsAreOver: a figure AT its threshold is within it (a monitoring plugin's -w/-c, and
// the replication.healthy step's "at most"); one over it is not.
func TestThresholdsAreOver(t *testing.T) {
	v := healthyView()
	th := engine.DefaultThresholds()
	v.TotalPending = th.WarnPending
	if st := EvaluateStatus(v, nil, th, statusNow); st.Level != engine.LevelOK {
		t.Fatalf("at the threshold: %s %q", st.Level, st.Reasons)
	}
	v.TotalPending = th.WarnPending + 1
	if st := EvaluateStatus(v, nil, th, statusNow); st.Level != engine.LevelWarning {
		t.Fatalf("over the threshold: %s %q", st.Level, st.Reasons)
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
