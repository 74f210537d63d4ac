// The report's evidence sections: the record-count validations and recounts, the replication
// drain curve, the LCS operations.

package report

import (
	"fmt"
	"strconv"
	"strings"

	"cutover/engine"
	"cutover/engine/runbook"
)

func (r *Report) validationBlocks() []block {
	if len(r.Validations) == 0 && len(r.Recounts) == 0 {
		return []block{none("the journal has no record-count validation")}
	}
	var out []block
	for _, v := range r.Validations {
		verdict := "FAILED"
		if v.Passed {
			verdict = "passed"
		}
		out = append(out, sub(fmt.Sprintf("%s, attempt %d at %s: %s", orDash(v.Step), v.Attempt, ts(v.At), verdict)))
		var classes []string
		for _, c := range v.Classes {
			classes = append(classes, engine.FormatCount(int64(c.Count))+" "+c.Class)
		}
		line := fmt.Sprintf("%s table(s): %s; %d exact recount(s) during the validation.", engine.FormatCount(int64(v.Tables)), orDash(strings.Join(classes, ", ")), v.Recounts)
		if len(v.Files) > 0 {
			line += " Every table's counts: " + strings.Join(v.Files, ", ") + "."
		}
		b := para("%s", line)
		if !v.Passed {
			b.Class = emBad
		}
		out = append(out, b)
		if len(v.Notable) == 0 {
			out = append(out, para("Every table matched or was ignored."))
			continue
		}
		t := block{Kind: blockTable, Head: []string{"Table", "Class", "Source", "Target", "Δ", "Pending", "Exact", "Status", "Resolution"},
			Cols: []string{colID, colID, colNum, colNum, colNum, colNum, colID, "", ""}}
		for _, n := range v.Notable {
			cl := emGood
			switch n.Status {
			case Unresolved, Waived:
				cl = emBad
			case CarriedOver:
				cl = emWarn
			}
			res := n.Resolution
			if n.Error != "" {
				res += " (count error: " + n.Error + ")"
			}
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{n.Table, n.Class, engine.FormatCount(n.Source), engine.FormatCount(n.Target),
				strconv.FormatInt(n.Delta, 10), engine.FormatCount(n.Pending), yesNo(n.Exact), n.Status, res}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Recounts"))
	if len(r.Recounts) == 0 {
		return append(out, none("no table was recounted by an operator"))
	}
	t := block{Kind: blockTable, Head: []string{"When", "Step", "Table", "Who", "Before", "After", "Source", "Target", "Δ"},
		Cols: []string{colTime, colID, colID, "", colID, "", colNum, colNum, colNum}}
	for _, rc := range r.Recounts {
		after := rc.After
		if rc.Error != "" {
			after += " (error: " + rc.Error + ")"
		}
		t.Rows = append(t.Rows, row{Cells: []string{ts(rc.At), orDash(rc.Step), rc.Table, rc.Actor.Name + prefixed(", ", rc.Actor.Fingerprint),
			rc.Before, after, engine.FormatCount(rc.Source), engine.FormatCount(rc.Target), strconv.FormatInt(rc.Delta, 10)}})
	}
	return append(out, t)
}

func (r *Report) drainBlocks() []block {
	d := r.Drain
	if len(d.Samples) == 0 {
		return []block{none("the journal has no replication samples")}
	}
	fig := func(s Sample) string {
		return fmt.Sprintf("%s commands pending at %s (drain %s)", engine.FormatCount(s.Pending), ts(s.At), rate(s.DrainRate))
	}
	out := []block{
		{Kind: blockKV, KV: []kv{
			{Key: "Samples", Value: fmt.Sprintf("%d, from %s to %s", len(d.Samples), ts(d.First.At), ts(d.Last.At))},
			{Key: "First", Value: fig(d.First)},
			{Key: "Peak", Value: fig(d.Peak)},
			{Key: "Last", Value: fig(d.Last)},
		}},
		{Kind: blockChart, Chart: d.Chart},
	}
	t := block{Kind: blockTable, Head: []string{"Time", "Pending", "Drain rate", "ETA", "Tables"},
		Cols: []string{colTime, colNum, colNum, colNum, colNum}}
	for _, s := range d.Rows {
		eta := "—"
		if s.ETA > 0 {
			eta = runbook.FormatDuration(s.ETA)
		}
		t.Rows = append(t.Rows, row{Cells: []string{ts(s.At), engine.FormatCount(s.Pending), rate(s.DrainRate), eta, engine.FormatCount(int64(s.Tables))}})
	}
	if len(d.Rows) < len(d.Samples) {
		out = append(out, para("%d of the %d samples, evenly spaced:", len(d.Rows), len(d.Samples)))
	}
	return append(out, t)
}

func (r *Report) lcsBlocks() []block {
	if len(r.LCS) == 0 {
		return []block{none("no step ran a Lifecycle Services operation")}
	}
	var out []block
	for _, s := range r.LCS {
		title := s.Step
		if s.Title != "" {
			title += ": " + s.Title
		}
		if s.Kind != "" {
			title += " (" + s.Kind + ")"
		}
		out = append(out, sub(title))
		b := para("Outcome: %s%s", s.Outcome, prefixed(" — ", s.Message))
		b.Class = outcomeClass(s.Outcome)
		out = append(out, b)
		if len(s.Operations) > 0 {
			t := block{Kind: blockTable, Head: []string{"Operation (activity id)", "Attempt", "Journaled", "States", "Last state"},
				Cols: []string{colID, colNum, colTime, "", colID}}
			for _, op := range s.Operations {
				t.Rows = append(t.Rows, row{Cells: []string{op.ID, strconv.Itoa(op.Attempt), ts(op.At), orDash(strings.Join(op.States, " → ")), orDash(op.Final)}})
			}
			out = append(out, t)
		}
		if len(s.Events) > 0 {
			t := block{Kind: blockTable, Head: []string{"When", "Attempt", "What"}, Cols: []string{colTime, colNum, ""}}
			for _, e := range s.Events {
				t.Rows = append(t.Rows, row{Cells: []string{ts(e.At), strconv.Itoa(e.Attempt), e.What}})
			}
			out = append(out, t)
		}
	}
	return out
}
