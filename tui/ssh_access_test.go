package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/team"
)

// rewriteTeam replaces the team file's members.
func rewriteTeam(t *testing.T, path string, members map[string]member) {
	t.Helper()
	var b strings.Builder
	for name, m := range members {
		line, err := team.Line(m.key.pub, name, m.role)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// accessRecords are the journal's access changes.
func accessRecords(t *testing.T, e *engine.Engine) []engine.AccessChanged {
	t.Helper()
	recs, _, err := journal.ReadAll(e.StateDir() + "/" + journal.FileName)
	if err != nil {
		t.Fatal(err)
	}
	var out []engine.AccessChanged
	for _, r := range recs {
		var p engine.AccessChanged
		if r.Type == string(engine.RecAccessChanged) && r.Decode(&p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitEnded waits for a session's output to end.
func waitEnded(t *testing.T, p *ptySession, what string) {
	t.Helper()
	select {
	case <-p.ended:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: the session is still open", what)
	}
}

// TestSSHRemovedKeyCannotConfirmAndIsClosed is the second complaint: a destructive step was
// confirmed seconds after the operator's key was removed from the team file. The removal is seen
// by the action itself (the file watch is kept from looking here): the engine never hears the
// confirmation, the session is closed with a message, the change is journaled, and the key cannot
// come back in.
func TestSSHRemovedKeyCannotConfirmAndIsClosed(t *testing.T) {
	e := realEngine(t)
	ana, ben := newTestKey(t), newTestKey(t)
	members := map[string]member{"Ana": {ana, engine.RoleOperator}, "Ben": {ben, engine.RoleOperator}}
	path := writeTeam(t, t.TempDir(), members)
	_, addr := startServerWith(t, e, path, func(o *ServerOptions) {
		o.teamClock = clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)) // never advanced
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pa := openPty(t, addr, ana, 120, 40)
	pa.waitOutput(t, `c: confirm (type "STOP AOS")`)
	m := pa.mark()
	fmt.Fprint(pa.in, "c")
	pa.waitOutputSince(t, m, "to confirm:")
	fmt.Fprint(pa.in, "STOP AOS\t")
	pa.waitOutputSince(t, m, "[ Confirm ]")

	delete(members, "Ana")
	rewriteTeam(t, path, members)
	fmt.Fprint(pa.in, "\r")
	pa.waitOutput(t, "cutover: your key was removed from the team file "+path+": session closed")
	waitEnded(t, pa, "a removed key's session")

	st, _ := e.Snapshot().Step("aos-stop")
	if st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 0 {
		t.Fatalf("the removed operator's confirmation went through: %s %+v", st.State, st.Confirmation)
	}
	got := accessRecords(t, e)
	if len(got) != 1 || !got[0].Removed || !got[0].Closed || got[0].Actor.Name != "Ana" || got[0].Actor.Fingerprint == "" {
		t.Fatalf("journaled access changes %+v", got)
	}
	if _, err := dial(addr, gossh.PublicKeys(ana.signer)); err == nil {
		t.Fatal("the removed key connects again")
	}
}

// TestSSHTeamFileWatchDemotesAndCloses: the server reads the team file again on its own: an
// operator demoted to viewer becomes read-only at once (with no key pressed), one removed is
// disconnected, a viewer made an operator stays a viewer until they connect again; each loss is
// journaled once.
func TestSSHTeamFileWatchDemotesAndCloses(t *testing.T) {
	e := realEngine(t)
	ana, ben, vic := newTestKey(t), newTestKey(t), newTestKey(t)
	members := map[string]member{"Ana": {ana, engine.RoleOperator}, "Ben": {ben, engine.RoleOperator}, "Vic": {vic, engine.RoleViewer}}
	path := writeTeam(t, t.TempDir(), members)
	clk := clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	srv, addr := startServerWith(t, e, path, func(o *ServerOptions) { o.teamClock, o.TeamEvery = clk, 2*time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pa, pb, pv := openPty(t, addr, ana, 120, 40), openPty(t, addr, ben, 120, 40), openPty(t, addr, vic, 120, 40)
	pa.waitOutput(t, `c: confirm (type "STOP AOS")`)
	pb.waitOutput(t, `c: confirm (type "STOP AOS")`)
	pv.waitOutput(t, "READ-ONLY")
	// Ana opens the dialog: she holds the step.
	fmt.Fprint(pa.in, "c")
	pa.waitOutput(t, "to confirm:")

	members["Ana"] = member{ana, engine.RoleViewer}
	members["Vic"] = member{vic, engine.RoleOperator}
	delete(members, "Ben")
	rewriteTeam(t, path, members)
	markA, markV := pa.mark(), pv.mark()
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)

	pa.waitOutputSince(t, markA, "the team file now makes you a viewer: this session is read-only")
	pa.waitOutputSince(t, markA, "READ-ONLY")
	pb.waitOutput(t, "cutover: your key was removed from the team file")
	waitEnded(t, pb, "a removed key's session")
	// Ana's dialog closed with her rights, and her hold went with it.
	if st, _ := e.Snapshot().Step("aos-stop"); st.Confirmation == nil || st.Confirmation.HeldBy != nil {
		t.Fatalf("the demoted operator still holds the step: %+v", st.Confirmation)
	}
	// Vic, made an operator, stays a viewer in this session.
	if strings.Contains(pv.output()[markV:], "no longer") || srv.actorOf(presenceOf(t, srv, "Vic")).Role != engine.RoleViewer {
		t.Fatal("a session gained rights mid-way")
	}
	// Another look with nothing new journals nothing more.
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	got := accessRecords(t, e)
	if len(got) != 2 {
		t.Fatalf("journaled %d access changes, want 2: %+v", len(got), got)
	}
	byName := map[string]engine.AccessChanged{}
	for _, c := range got {
		byName[c.Actor.Name] = c
	}
	if c := byName["Ana"]; c.Removed || c.Role != engine.RoleViewer || c.Actor.Role != engine.RoleOperator {
		t.Fatalf("Ana's demotion: %+v", c)
	}
	if c := byName["Ben"]; !c.Removed || !c.Closed {
		t.Fatalf("Ben's removal: %+v", c)
	}
}

func presenceOf(t *testing.T, srv *Server, name string) *presence {
	t.Helper()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, p := range srv.sessions {
		if p.actor.Name == name {
			return p
		}
	}
	t.Fatalf("%s is not connected", name)
	return nil
}

// TestPolicyEngineActsWithTheRoleInForce: whatever actor a session's cockpit hands over, the
// engine hears the session's person with the team file's role of this moment — a demoted
// operator's confirmation is refused by the engine and journaled as a refusal.
func TestPolicyEngineActsWithTheRoleInForce(t *testing.T) {
	e := realEngine(t)
	ana := newTestKey(t)
	path := writeTeam(t, t.TempDir(), map[string]member{"Ana": {ana, engine.RoleOperator}})
	srv, _ := startServerWith(t, e, path, func(o *ServerOptions) {
		o.teamClock = clock.NewFake(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.opt.Team.Lookup(ana.signer.PublicKey())
	p := srv.newPresence(engine.Actor{Name: "Ana", Origin: "ssh 127.0.0.1", Fingerprint: m.Fingerprint, Role: engine.RoleOperator}, false)
	srv.register(p, nil)
	pe := &policyEngine{e: e, s: srv, p: p}
	for {
		if st, _ := e.Snapshot().Step("aos-stop"); st.State == engine.StateAwaiting {
			break
		}
		_, ch := e.Subscribe(ctx)
		<-ch
	}
	rewriteTeam(t, path, map[string]member{"Ana": {ana, engine.RoleViewer}})
	// The cockpit hands over an operator (as its session context said before): it does not count.
	forged := engine.Actor{Name: "Someone", Fingerprint: "SHA256:other", Role: engine.RoleOperator}
	if _, err := pe.Confirm("aos-stop", 0, forged, "STOP AOS"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a demoted operator's confirmation: %v", err)
	}
	if _, err := pe.Skip("aos-stop", forged, "because", "SKIP aos-stop"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a demoted operator's skip: %v", err)
	}
	rewriteTeam(t, path, map[string]member{})
	if _, err := pe.Confirm("aos-stop", 0, forged, "STOP AOS"); !errors.Is(err, ErrAccessWithdrawn) {
		t.Fatalf("a removed key's confirmation: %v", err)
	}
	recs, _, _ := journal.ReadAll(e.StateDir() + "/" + journal.FileName)
	var refused []string
	for _, r := range recs {
		var c engine.ConfirmRefused
		if r.Type == string(engine.RecConfirmRefused) && r.Decode(&c) == nil {
			refused = append(refused, c.Actor.Name+" "+string(c.Actor.Role)+" "+c.Actor.Fingerprint)
		}
	}
	if len(refused) != 1 || refused[0] != "Ana viewer "+m.Fingerprint {
		t.Fatalf("refusals journaled: %q", refused)
	}
	if got := accessRecords(t, e); len(got) != 2 {
		t.Fatalf("access changes %+v", got)
	}
}

// TestSSHUnauthenticatedConnectionsAreClosed: a connection that never authenticates is closed
// after the auth timeout (2 minutes by default; shorter here), however patient; an authenticated
// session outlives it.
func TestSSHUnauthenticatedConnectionsAreClosed(t *testing.T) {
	e := realEngine(t)
	vic := newTestKey(t)
	path := writeTeam(t, t.TempDir(), map[string]member{"Vic": {vic, engine.RoleViewer}})
	srv, addr := startServerWith(t, e, path, func(o *ServerOptions) { o.AuthTimeout = 300 * time.Millisecond })
	if def, _ := NewServer(e, ServerOptions{Addr: "127.0.0.1:0", HostKeyPath: t.TempDir() + "/k", Team: srv.opt.Team}); def.opt.AuthTimeout != 2*time.Minute {
		t.Fatalf("default auth timeout %s", def.opt.AuthTimeout)
	}
	pv := openPty(t, addr, vic, 120, 40)
	pv.waitOutput(t, "flow test")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	start := time.Now()
	// The client sends its version and nothing more; the server's version and key exchange
	// offer come back, then the connection ends.
	io.WriteString(c, "SSH-2.0-patient\r\n")
	_, err = io.Copy(io.Discard, c)
	if err != nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("the unauthenticated connection: %v after %s", err, time.Since(start))
	}
	// Vic's session, older than the timeout, still answers a key.
	m := pv.mark()
	fmt.Fprint(pv.in, "4")
	pv.waitOutputSince(t, m, "4 Logs")
}
