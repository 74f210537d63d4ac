package sim

import (
	"context"
	stdsql "database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/sql/query"
)

func TestTLSAndDescribe(t *testing.T) {
	w, err := New(Config{Tables: 300, Seed: 1}, newFakeClock())
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(t.TempDir(), "sim.pem")
	srv, err := Start(w, ServerConfig{TLS: true, CertFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.Contains(srv.DSN(EndpointTarget), "encrypt=true") || srv.CertFile() != cert {
		t.Fatalf("TLS DSN %s", srv.DSN(EndpointTarget))
	}
	for _, e := range []Endpoint{EndpointSource, EndpointDistribution, EndpointTarget, EndpointSourceMaster} {
		db, err := stdsql.Open("sqlserver", srv.DSN(e))
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := db.QueryRowContext(context.Background(), "SELECT DB_NAME()").Scan(&name); err != nil || name != srv.Database(e) {
			t.Errorf("%v over TLS: %q, %v", e, name, err)
		}
		db.Close()
	}

	d := srv.Describe()
	for _, want := range []string{"AXSQL01", srv.Addr(EndpointSource), srv.Addr(EndpointTarget), "MicrosoftDynamicsAX",
		"distribution", "AxDB", "jit-reader", PasswordEnv} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
	var doc struct {
		Connections map[string]struct {
			Server      string `yaml:"server"`
			Port        int    `yaml:"port"`
			Database    string `yaml:"database"`
			Auth        string `yaml:"auth"`
			User        string `yaml:"user"`
			PasswordEnv string `yaml:"password_env"`
			Encrypt     string `yaml:"encrypt"`
		} `yaml:"connections"`
	}
	if err := yaml.Unmarshal([]byte(srv.RunbookSnippet()), &doc); err != nil {
		t.Fatalf("snippet is not YAML: %v\n%s", err, srv.RunbookSnippet())
	}
	for role, e := range map[string]Endpoint{"source": EndpointSource, "distribution": EndpointDistribution, "target": EndpointTarget} {
		c := doc.Connections[role]
		if c.Server != "127.0.0.1" || c.Port != srv.Port(e) || c.Database != srv.Database(e) || c.Auth != "sql" ||
			c.User != User || c.PasswordEnv != PasswordEnv || c.Encrypt != "true" {
			t.Errorf("%s: %+v", role, c)
		}
	}
}

func TestPlainSnippet(t *testing.T) {
	f := newFixture(t, Config{Tables: 300})
	s := f.srv.RunbookSnippet()
	if !strings.Contains(s, "encrypt: disable") || !strings.Contains(s, "port: "+strconv.Itoa(f.srv.Port(EndpointTarget))) {
		t.Fatalf("snippet:\n%s", s)
	}
}

// TestConcurrentPolls polls from several goroutines while the clock moves
// and the world changes (run with -race).
func TestConcurrentPolls(t *testing.T) {
	f := newFixture(t, Config{Tables: 1000, Seed: 6})
	src, tgt, dist := f.src(), f.tgt(), f.dist()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, _, _, err := fullPoll(ctx, src, tgt, dist); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			for _, q := range []string{query.AXServerSessions, query.UserSessions, query.LastUserUpdate} {
				if _, err := queryRows(ctx, src, q); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}
	})
	for i := range 200 {
		f.clk.Advance(7 * time.Second)
		switch i {
		case 20:
			_ = f.w.StopAOS("AX-AOS01", "AOS60$01")
		case 60:
			f.w.SetDrainRate(2000)
		case 100:
			if err := f.w.CreateNoPKPublication(); err != nil {
				t.Error(err)
			}
		case 150:
			if err := f.w.TriggerUpgrade(); err != nil {
				t.Error(err)
			}
		}
		if _, err := f.w.PostTracerToken("AX_PUB_PkTable_1"); err != nil {
			t.Error(err)
		}
		_ = f.w.TotalPending()
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestScaledClock(t *testing.T) {
	real := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	c := NewScaledClock(60)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return real }
	c.realBase, c.simBase = real, real
	step := func(d time.Duration) { mu.Lock(); real = real.Add(d); mu.Unlock() }
	step(time.Second)
	if got := c.Now().Sub(c.simBase); got != time.Minute {
		t.Fatalf("after 1 s at x60: %v", got)
	}
	before := c.Now()
	c.SetFactor(1)
	if !c.Now().Equal(before) {
		t.Fatal("SetFactor jumped")
	}
	step(time.Second)
	c.Skip(time.Hour)
	if got := c.Now().Sub(before); got != time.Hour+time.Second {
		t.Fatalf("after x1 second and a skip: %v", got)
	}
	if c.Factor() != 1 {
		t.Fatal(c.Factor())
	}
}

func TestParsers(t *testing.T) {
	s, err := ParseScenario("locked-table, upgrade-failure")
	if err != nil || s != ScenarioLockedTable|ScenarioUpgradeFailure || s.String() != "locked-table,upgrade-failure" {
		t.Fatalf("ParseScenario = %v, %v", s, err)
	}
	if _, err := ParseScenario("chaos"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatal(err)
	}
	if p, err := ParseUpgradePhase("dbsync"); err != nil || p != UpgradeDbSync {
		t.Fatalf("ParseUpgradePhase = %v, %v", p, err)
	}
	if ServiceStopPending.String() != "STOP_PENDING" || BatchExecuting.String() != "Executing" || EndpointTarget.String() != "target" {
		t.Fatal("String methods")
	}
}

func TestDistributionAgentFailure(t *testing.T) {
	f := newFixture(t, Config{Tables: 400, Seed: 12, InitialBacklog: 40_000, DrainRate: 1000})
	const pub = "AX_PUB_PkTable_3"
	if err := f.w.FailDistributionAgent(pub, ""); err != nil {
		t.Fatal(err)
	}
	f.stopAll()
	f.clk.Advance(5 * time.Minute)
	var failed bool
	for _, r := range f.rows(f.dist(), query.AgentStates) {
		if r[0] == pub && r[1].(int64) == 3 {
			failed = r[3].(int64) == runFailed
		}
	}
	if !failed {
		t.Fatal("agent not shown as failed")
	}
	errs := f.rows(f.dist(), query.ReplicationErrors)
	if len(errs) == 0 || !strings.HasPrefix(errs[0][3].(string), "The process could not connect to Subscriber") {
		t.Fatalf("errors: %v", errs)
	}
	left := map[string]int64{}
	for _, r := range f.rows(f.dist(), query.PendingCommands) {
		left[r[0].(string)] += r[4].(int64)
	}
	if left[pub] == 0 || len(left) != 1 {
		t.Fatalf("pending by publication with one agent down: %v", left)
	}
	if err := f.w.StartDistributionAgent(pub); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Duration(left[pub]/1000+10) * time.Second)
	if p := f.w.TotalPending(); p != 0 {
		t.Fatalf("still %d pending after restart", p)
	}
}
