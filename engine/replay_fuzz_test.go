package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// fuzzRunbook has a step of each kind whose state replay rebuilds differently.
const fuzzRunbook = `name: fuzz
steps:
  - {id: a, title: A, kind: manual}
  - {id: g, title: G, kind: gate, approvals: 2, after: a}
  - {id: c, title: C, kind: command, retries: 2, idempotent: true, confirm: RUN IT, with: {argv: [/bin/true]}}
  - {id: w, title: W, kind: wait, after: [g, c], with: {duration: 10m}}
  - {id: r, title: R, kind: gate, approvals: 2, when: {failed: c}}
`

// fuzzTypes are the record types a fuzzed line can have: every known one and one that is not.
var fuzzTypes = []RecordType{
	RecRunOpened, RecEngineStarted, RecEngineStopped, RecRunbookChanged, RecRunPaused, RecRunResumed,
	RecRunFinished, RecAwaiting, RecApproved, RecConfirmRefused, RecDeclined, RecStarted, RecExternal,
	RecSucceeded, RecFailed, RecInterrupted, RecSkipped, RecDoneByHand, RecRetry, RecSourceHealth,
	RecReplicationSample, RecValidation, RecRecount,
	RecOverrideRequested, RecOverrideApproved, RecOverrideRefused, RecOverrideWithdrawn,
	RecAccessChanged, RecNotifySent, RecNotifyFailed, RecNotNeeded, RecConditionLapsed, "step.from-the-future",
}

// fuzzSteps are the step names a fuzzed line can carry: none, the runbook's, and one it lacks.
var fuzzSteps = []string{"", "a", "g", "c", "w", "r", "gone"}

// fuzzRecords turns fuzz input into journal records: one a line, the line's first byte choosing
// the type, its second the step, the rest being the payload (a JSON string when it is not JSON).
func fuzzRecords(data []byte) []journal.Record {
	var recs []journal.Record
	for i, line := range strings.Split(string(data), "\n") {
		if len(line) < 2 {
			continue
		}
		rec := journal.Record{
			Time: t0fuzz.Add(time.Duration(i) * time.Second),
			Type: string(fuzzTypes[int(line[0])%len(fuzzTypes)]),
			Step: fuzzSteps[int(line[1])%len(fuzzSteps)],
		}
		if p := line[2:]; p != "" {
			if json.Valid([]byte(p)) {
				rec.Data = json.RawMessage(p)
			} else {
				rec.Data, _ = json.Marshal(p)
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

var t0fuzz = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

// fuzzLine encodes one record for a seed: the type, the step and the payload.
func fuzzLine(t RecordType, step, payload string) string {
	ti, si := -1, -1
	for i, x := range fuzzTypes {
		if x == t {
			ti = i
		}
	}
	for i, x := range fuzzSteps {
		if x == step {
			si = i
		}
	}
	if ti < 0 || si < 0 {
		panic(fmt.Sprintf("fuzz seed: unknown type %q or step %q", t, step))
	}
	return string([]byte{byte(ti), byte(si)}) + payload
}

// FuzzReplay writes a valid, hash-chained journal of fuzzed records with the journal's own writer
// and replays it the ways cutover does: into a run state record by record, through Inspect (the
// status glance) and through Open (a resuming engine). Nothing may panic; a record that cannot be
// replayed stops the replay with an error naming its line, and every path agrees on that.
func FuzzReplay(f *testing.F) {
	open := fuzzLine(RecRunOpened, "", `{"runbook":"cutover.yaml","runbook_hash":"x","name":"fuzz","steps":5}`)
	started := fuzzLine(RecEngineStarted, "", `{"host":"h","pid":1,"runbook_hash":"x","resumed":false}`)
	seeds := [][]string{
		{open, started,
			fuzzLine(RecStarted, "a", `{"attempt":1,"action":"do it"}`),
			fuzzLine(RecSucceeded, "a", `{"attempt":1,"actor":{"name":"Ana","origin":"ssh","role":"operator"}}`),
			fuzzLine(RecAwaiting, "g", `{"action":"go?","needed":2}`),
			fuzzLine(RecApproved, "g", `{"request":5,"actor":{"name":"Ana"},"count":1,"needed":2}`),
			fuzzLine(RecApproved, "g", `{"request":5,"actor":{"name":"Ben"},"count":2,"needed":2}`),
			fuzzLine(RecSucceeded, "g", `{"attempt":1}`),
			fuzzLine(RecAwaiting, "c", `{"action":"run","needed":1}`),
			fuzzLine(RecApproved, "c", `{"request":9,"actor":{"name":"Ana"},"auto":true}`),
			fuzzLine(RecStarted, "c", `{"attempt":1}`),
			fuzzLine(RecExternal, "c", `{"attempt":1,"ref":{"pid":"4242","pgid":"4242"}}`),
			fuzzLine(RecFailed, "c", `{"attempt":1,"error":"exit 1","retry_at":"2026-12-05T18:10:00Z","output":["x"]}`),
			fuzzLine(RecRetry, "c", `{"actor":{"name":"Ana"},"reason":"now"}`),
			fuzzLine(RecStarted, "c", `{"attempt":2}`),
			fuzzLine(RecInterrupted, "c", `{"attempt":2,"reason":"crash","rerun":true}`),
			fuzzLine(RecRunPaused, "", `{"actor":{"name":"Ana"},"reason":"lunch"}`),
			fuzzLine(RecRunResumed, "", `{"actor":{"name":"Ana"}}`),
			fuzzLine(RecSkipped, "w", `{"actor":{"name":"Ana"},"reason":"no soak"}`),
			fuzzLine(RecEngineStopped, "", `{"reason":"test","in_flight":["c"]}`),
		},
		{open, started,
			fuzzLine(RecDeclined, "g", `{"request":3,"actor":{"name":"Ben"},"reason":"no"}`),
			fuzzLine(RecDoneByHand, "c", `{"actor":{"name":"Ana"}}`),
			fuzzLine(RecSourceHealth, "", `{"source":"ax","state":"failing","error":"reset"}`),
			fuzzLine(RecReplicationSample, "", `{"pending":10,"drain_rate":1.5,"tables":2}`),
			fuzzLine(RecValidation, "c", `{"attempt":1,"passed":true,"tables":1,"classes":{},"recounts":0,"files":["v.csv"]}`),
			fuzzLine(RecRunbookChanged, "", `{"old_hash":"x","new_hash":"y"}`),
			fuzzLine(RecRunFinished, "", `{"succeeded":3,"skipped":1}`),
		},
		{open, started,
			fuzzLine(RecAwaiting, "g", `{"action":"go?","needed":2}`),
			fuzzLine(RecOverrideRefused, "g", `{"action":"skip","actor":{"name":"Ana"},"reason":"no phrase typed"}`),
			fuzzLine(RecOverrideRequested, "g", `{"action":"skip","actor":{"name":"Ana"},"reason":"decided","needed":2}`),
			fuzzLine(RecOverrideApproved, "g", `{"request":5,"action":"skip","actor":{"name":"Ana"},"count":1,"needed":2}`),
			fuzzLine(RecOverrideWithdrawn, "g", `{"request":5,"action":"skip","actor":{"name":"Ben"}}`),
			fuzzLine(RecOverrideRequested, "g", `{"action":"done","actor":{"name":"Ben"},"reason":"by hand","needed":2}`),
			fuzzLine(RecOverrideApproved, "g", `{"request":8,"action":"done","actor":{"name":"Ben"},"count":1,"needed":2}`),
			fuzzLine(RecOverrideApproved, "g", `{"request":8,"action":"done","actor":{"name":"Ana"},"count":2,"needed":2}`),
			fuzzLine(RecDoneByHand, "g", `{"actor":{"name":"Ben"},"reason":"by hand","override":8,"approvals":[{"actor":{"name":"Ben"}},{"actor":{"name":"Ana"}}]}`),
			fuzzLine(RecRetry, "c", `{"actor":{"name":"Ana"},"reconfirm":true}`),
		},
		{open, started,
			fuzzLine(RecStarted, "c", `{"attempt":1}`),
			fuzzLine(RecFailed, "c", `{"attempt":1,"error":"exit 1"}`),
			fuzzLine(RecAwaiting, "r", `{"action":"roll back","needed":2}`),
			fuzzLine(RecApproved, "r", `{"request":6,"actor":{"name":"Ana"},"count":1,"needed":2}`),
			fuzzLine(RecRetry, "c", `{"actor":{"name":"Ben"}}`),
			fuzzLine(RecConditionLapsed, "r", `{"trigger":"c","trigger_state":"ready","request":6,"actor":{"name":"Ben"}}`),
			fuzzLine(RecSucceeded, "c", `{"attempt":2}`),
			fuzzLine(RecNotNeeded, "r", `{"trigger":"c","outcome":"succeeded"}`),
			fuzzLine(RecRunFinished, "", `{"succeeded":3,"skipped":1,"not_needed":1}`),
		},
		{open, fuzzLine(RecNotNeeded, "", `{"trigger":"c"}`)},
		{open, fuzzLine(RecConditionLapsed, "r", `{"trigger":7}`)},
		{open, fuzzLine(RecOverrideRequested, "a", `{"action":"explode","actor":{"name":"Ana"},"needed":1}`)},
		{open, fuzzLine(RecStarted, "gone", `{"attempt":1}`)},
		{open, fuzzLine("step.from-the-future", "", `{}`)},
		{open, fuzzLine(RecFailed, "c", `{"attempt":"one"}`)},
		{open, fuzzLine(RecAwaiting, "", `{"action":"go?","needed":1}`)},
	}
	for _, s := range seeds {
		f.Add([]byte(strings.Join(s, "\n")))
	}
	reg := NewRegistry(AllKinds()...)
	rbPath := filepath.Join(f.TempDir(), "cutover.yaml")
	if err := os.WriteFile(rbPath, []byte(fuzzRunbook), 0o600); err != nil {
		f.Fatal(err)
	}
	rb, err := runbook.Load(rbPath, runbook.Options{Kinds: reg})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		recs := fuzzRecords(data)
		dir := t.TempDir()
		j, _, err := journal.Open(dir, journal.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if _, err := j.Append(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		c, err := journal.Read(filepath.Join(dir, journal.FileName))
		if err != nil || len(c.Records) != len(recs) || c.Torn != nil {
			t.Fatalf("the journal written does not read back: %d of %d records, torn %v, %v", len(c.Records), len(recs), c.Torn, err)
		}

		// Record by record, as Open and Inspect do.
		e, err := New(rb, Options{StateDir: dir, Kinds: reg})
		if err != nil {
			t.Fatal(err)
		}
		badLine := 0
		var replayErr error
		for i, rec := range c.Records {
			if err := e.st.apply(rec); err != nil {
				badLine, replayErr = i+1, err
				break
			}
		}
		if replayErr != nil && !strings.Contains(replayErr.Error(), fmt.Sprintf("journal line %d ", badLine)) {
			t.Fatalf("the error for line %d does not name it: %v", badLine, replayErr)
		}
		_ = e.Snapshot()

		// The status glance.
		ins, err := Inspect(rb, dir, reg)
		switch {
		case replayErr == nil && err != nil:
			t.Fatalf("Inspect failed on a journal that replays: %v", err)
		case replayErr != nil && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("journal line %d ", badLine))):
			t.Fatalf("Inspect on a journal whose line %d is bad: %v", badLine, err)
		case ins != nil:
			_ = ins.Snapshot.Steps
		}

		// A resuming engine: replay, then what it shows. It is never started, so nothing runs.
		e2, err := New(rb, Options{StateDir: dir, Kinds: reg, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		err = e2.Open()
		switch {
		case replayErr == nil && err != nil:
			t.Fatalf("Open failed on a journal that replays: %v", err)
		case replayErr != nil && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("journal line %d ", badLine))):
			t.Fatalf("Open on a journal whose line %d is bad: %v", badLine, err)
		}
		if err == nil {
			_ = e2.Snapshot()
			if err := e2.Stop("fuzz"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
