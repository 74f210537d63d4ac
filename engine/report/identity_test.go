package report_test

import (
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/report"
)

// TestApprovalsSharingAnOriginAreMarked: two approvals of one request from one place (one jump box,
// one address), or — in an old journal, from before accounts were recorded — by one person under
// two names at one terminal, are marked in the report; approvals from different places are not;
// a session losing its rights is an anomaly.
func TestApprovalsSharingAnOriginAreMarked(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name})
	w.add(0, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 1, RunbookHash: rb.Hash})
	// Two accounts on the jump box: two identities, one place.
	local1 := engine.LocalActor(engine.Account{User: "ana", UID: "1001", Host: "jump01"}, "Ana", "/dev/pts/1")
	local2 := engine.LocalActor(engine.Account{User: "dan", UID: "1004", Host: "jump01"}, "Dan", "/dev/pts/7")
	w.confirm("downtime-go", local1, local2)
	// An old journal's --as ana, then --as bob, on the same terminal.
	oldAna := engine.Actor{Name: "ana", Origin: "local terminal on jump01 (tty /dev/pts/2)", Role: engine.RoleOperator}
	oldBob := engine.Actor{Name: "bob", Origin: "local terminal on jump01 (tty /dev/pts/2)", Role: engine.RoleOperator}
	w.confirm("aos-stop", oldAna, oldBob)
	// Two keys from two addresses: nothing to mark.
	ben := engine.Actor{Name: "Ben", Origin: "ssh 10.0.0.7", Fingerprint: "SHA256:BenKey", Role: engine.RoleOperator}
	w.confirm("production-refresh", ana, ben)
	w.add(time.Minute, engine.RecAccessChanged, "", engine.AccessChanged{Actor: ben, Removed: true, Closed: true, Reason: "key removed from cutover-team.keys"})
	path, _ := w.close()
	r, md, doc := build(t, report.Options{Runbook: rb, Journal: path})

	marks := map[string][]string{}
	for _, a := range r.Confirmations.Approvals {
		marks[a.Step] = append(marks[a.Step], a.SharedOrigin)
	}
	if m := marks["downtime-go"]; len(m) != 2 || m[0] != "same origin as Dan's: local terminal on jump01" || m[1] != "same origin as Ana's: local terminal on jump01" {
		t.Errorf("two accounts on the jump box: %q", m)
	}
	if m := marks["aos-stop"]; len(m) != 2 || !strings.Contains(m[1], "same origin as ana's: local terminal on jump01") {
		t.Errorf("--as twice in an old journal: %q", m)
	}
	if m := marks["production-refresh"]; len(m) != 2 || m[0] != "" || m[1] != "" {
		t.Errorf("two keys from two addresses are not marked: %q", m)
	}
	mustContain(t, "Markdown", md, mdText("same origin as Dan's: local terminal on jump01"),
		mdText("Ben (ssh 10.0.0.7, SHA256:BenKey) lost access: session closed (key removed from cutover-team.keys)"))
	var found bool
	for _, a := range r.Anomalies {
		found = found || a.Kind == report.AnomalyAccess
	}
	if !found {
		t.Errorf("the access change is not an anomaly: %+v", r.Anomalies)
	}
	for _, n := range r.Notes {
		if strings.Contains(n, "could not be read") {
			t.Errorf("a record was left out: %s", n)
		}
	}
	parseHTML(t, doc)
}

// TestSameIdentityIsMarked: an approval journaled twice for one identity (as an older cutover
// could let through) names the identity.
func TestSameIdentityIsMarked(t *testing.T) {
	dir := t.TempDir()
	rb := parseRunbook(t, dir, testRunbook)
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{RunbookHash: rb.Hash, Name: rb.Name})
	k1 := engine.Actor{Name: "Ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:k1", Role: engine.RoleOperator}
	k1b := engine.Actor{Name: "Ana Silva", Origin: "ssh 10.9.9.9", Fingerprint: "SHA256:k1", Role: engine.RoleOperator}
	w.confirm("production-refresh", k1, k1b)
	path, _ := w.close()
	r, _, _ := build(t, report.Options{Runbook: rb, Journal: path})
	if a := r.Confirmations.Approvals; len(a) != 2 || a[1].SharedOrigin != "same identity as Ana's (SHA256:k1)" {
		t.Fatalf("%+v", a)
	}
}
