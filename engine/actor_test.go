package engine_test

import (
	"encoding/json"
	"errors"
	"testing"

	"cutover/engine"
)

var (
	jumpAna = engine.Account{User: "ana", UID: "1001", Host: "jump01"}
	jumpBen = engine.Account{User: "ben", UID: "1002", Host: "jump01"}
)

func TestIdentityIsTheAccountNotTheName(t *testing.T) {
	asAna := engine.LocalActor(jumpAna, "ana", "/dev/pts/1")
	asBob := engine.LocalActor(jumpAna, "bob", "/dev/pts/2")
	if asAna.ID() != asBob.ID() {
		t.Fatalf("one account under two names is two identities: %q and %q", asAna.ID(), asBob.ID())
	}
	if ben := engine.LocalActor(jumpBen, "ana", "/dev/pts/1"); ben.ID() == asAna.ID() {
		t.Fatalf("two accounts under one name are one identity: %q", ben.ID())
	}
	other := jumpAna
	other.Host = "jump02"
	if engine.LocalActor(other, "ana", "").ID() == asAna.ID() {
		t.Fatal("the same uid on another host is another account")
	}
	// Over SSH the key is the identity, whatever the name or the address.
	k1 := engine.Actor{Name: "Ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:k1", Role: engine.RoleOperator}
	k1b := engine.Actor{Name: "Ana Silva", Origin: "ssh 10.0.0.6", Fingerprint: "SHA256:k1", Role: engine.RoleOperator}
	if k1.ID() != k1b.ID() {
		t.Fatal("one key is one identity")
	}
	// A rehearsal stand-in is told apart from the account's owner, and from another stand-in.
	standIn := asAna
	standIn.Name, standIn.StandIn = "Ben", true
	if standIn.ID() == asAna.ID() {
		t.Fatal("a rehearsal stand-in is the owner")
	}
	if asAna.Place() != "local terminal on jump01" || standIn.Place() != asAna.Place() || k1.Place() != "ssh 10.0.0.5" {
		t.Fatalf("places: %q %q %q", asAna.Place(), standIn.Place(), k1.Place())
	}
}

func TestCurrentAccountIsThisProcess(t *testing.T) {
	t.Setenv("CUTOVER_OPERATOR", "someone else")
	a := engine.LocalOperator("", "")
	b := engine.LocalOperator("bob", "tty9")
	if a.Name != "someone else" || b.Name != "bob" {
		t.Fatalf("display names %q %q", a.Name, b.Name)
	}
	if a.ID() != b.ID() || a.UID == "" && a.User == "" {
		t.Fatalf("the local identity must be this process's account: %+v %+v", a, b)
	}
}

func TestOldJournalActorsStillRead(t *testing.T) {
	// An actor as cutover wrote it before accounts were recorded.
	var old engine.Actor
	if err := json.Unmarshal([]byte(`{"name":"ana","origin":"local terminal on jump01 (/dev/pts/2)","role":"operator"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.ID() != "ana@local terminal on jump01 (/dev/pts/2)" || old.Place() != "local terminal on jump01" {
		t.Fatalf("old actor: %q %q", old.ID(), old.Place())
	}
	// And the new fields round-trip.
	a := engine.LocalActor(jumpAna, "Ana", "/dev/pts/1")
	data, _ := json.Marshal(a)
	var back engine.Actor
	if err := json.Unmarshal(data, &back); err != nil || back != a {
		t.Fatalf("round trip %s: %+v %v", data, back, err)
	}
}

// TestAsTwiceCannotSatisfyTwoApprovals is the first complaint: the local cockpit restarted
// with --as ana, then --as bob, on the same terminal, satisfied approvals: 2.
func TestAsTwiceCannotSatisfyTwoApprovals(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: g, title: Go live, kind: gate, confirm: GO LIVE, approvals: 2}\n").start()
	st := h.waitStep("g", engine.StateAwaiting)
	if _, err := h.e.Confirm("g", st.Confirmation.Request, engine.LocalActor(jumpAna, "ana", "/dev/pts/1"), "GO LIVE"); err != nil {
		t.Fatal(err)
	}
	h.restart()
	st, _ = h.e.Snapshot().Step("g")
	if st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 1 {
		t.Fatalf("after the restart: %s, %+v", st.State, st.Confirmation)
	}
	_, err := h.e.Confirm("g", st.Confirmation.Request, engine.LocalActor(jumpAna, "bob", "/dev/pts/1"), "GO LIVE")
	if !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("--as bob on ana's account: %v", err)
	}
	if st, _ := h.e.Snapshot().Step("g"); st.State != engine.StateAwaiting {
		t.Fatalf("the gate went ahead on one person's two approvals: %s", st.State)
	}
	// Another account on the same jump box is another person.
	res, err := h.e.Confirm("g", st.Confirmation.Request, engine.LocalActor(jumpBen, "ben", "/dev/pts/3"), "GO LIVE")
	if err != nil || !res.Satisfied {
		t.Fatalf("a second account: %+v %v", res, err)
	}
}
