// The report's closing sections: anomalies, notifications and the journal's integrity.

package report

import (
	"fmt"
	"strconv"
	"strings"
)

func (r *Report) anomalyBlocks() []block {
	if len(r.Anomalies) == 0 {
		return []block{none("no retries, failures, interruptions, skips, steps done by hand, source outages, runbook changes or pauses")}
	}
	t := block{Kind: blockTable, Head: []string{"When", "Kind", "Step", "Actor", "Detail"}, Cols: []string{colTime, colID, colID, "", ""}}
	counts := map[string]int{}
	var kinds []string
	for _, a := range r.Anomalies {
		if counts[a.Kind] == 0 {
			kinds = append(kinds, a.Kind)
		}
		counts[a.Kind]++
		cl := emWarn
		switch a.Kind {
		case AnomalyFailure, AnomalyAborted, AnomalyNoGo, AnomalyCrash:
			cl = emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(a.At), a.Kind, orDash(a.Step), orDash(a.Actor), a.Detail}})
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	noun := "anomalies"
	if len(r.Anomalies) == 1 {
		noun = "anomaly"
	}
	return []block{para("%d %s: %s.", len(r.Anomalies), noun, strings.Join(parts, ", ")), t}
}

func (r *Report) notificationBlocks() []block {
	if len(r.Notifications) == 0 {
		return []block{none("no milestone was announced (the runbook names no notification targets, or none was due)")}
	}
	t := block{Kind: blockTable, Head: []string{"When", "Target", "Milestone", "Message", "Outcome"}, Cols: []string{colTime, "", colID, "", ""}}
	sent, failed := 0, 0
	for _, n := range r.Notifications {
		tries := "1 try"
		if n.Tries != 1 {
			tries = fmt.Sprintf("%d tries", n.Tries)
		}
		outcome, cl := "sent ("+tries+")", ""
		if n.Sent {
			sent++
		} else {
			failed++
			outcome, cl = "FAILED after "+tries+": "+n.Error, emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(n.At), n.Target + " (" + n.Format + ")", n.Event, n.Title, outcome}})
	}
	summary := para("%d message(s) delivered, %d failed.", sent, failed)
	if failed > 0 {
		summary.Class = emBad
	}
	return []block{summary, t}
}

func (r *Report) integrityBlocks() []block {
	in := r.Integrity
	var out []block
	result, cl := "verified: every line's own hash and its link to the line before match", emGood
	switch {
	case !in.Verified && in.BadLine == 0 && in.TailReason != "":
		result, cl = fmt.Sprintf("FAILED: %s. Every line it holds chains correctly, but it does not end where its anchor says.", in.TailReason), emBad
		out = append(out, block{Kind: blockAlert, Text: in.Banner()})
	case !in.Verified:
		result, cl = fmt.Sprintf("FAILED at line %d: %s. This report covers only the %d record(s) before it; nothing from line %d on is evidence.", in.BadLine, in.BadReason, in.Records, in.BadLine), emBad
		out = append(out, block{Kind: blockAlert, Text: in.Banner()})
	case in.Anchored:
		result += "; it ends where its anchor says the last acknowledged line is"
	}
	rb := fmt.Sprintf("%s (sha256 %s)", orDash(in.RunbookFile), orDash(in.RunbookHash))
	rbc := ""
	switch {
	case in.CurrentHash == "":
		rb += "; the journal records no runbook"
	case in.RunbookMatches:
		rb += "; the same file the run last used"
	default:
		rb += fmt.Sprintf("; NOT the file the run last used (sha256 %s)", in.CurrentHash)
		rbc = emWarn
	}
	if in.OpenedWith != "" && in.OpenedWith != in.CurrentHash {
		rb += fmt.Sprintf("; the run was opened with sha256 %s", in.OpenedWith)
	}
	kvs := []kv{
		{Key: "Journal", Value: in.Path},
		{Key: "Verification", Value: result, Class: cl},
		{Key: "Records verified", Value: strconv.Itoa(in.Records)},
		{Key: "First record", Value: ts(in.First)},
		{Key: "Last record", Value: ts(in.Last)},
		{Key: "Head hash", Value: in.Head},
	}
	if in.TornLine > 0 {
		kvs = append(kvs, kv{Key: "Incomplete last line", Value: fmt.Sprintf("line %d (%d bytes), left out: a crash during a write, or a write in progress", in.TornLine, in.TornBytes), Class: emWarn})
	}
	kvs = append(kvs, kv{Key: "Runbook", Value: rb, Class: rbc})
	out = append(out, block{Kind: blockKV, KV: kvs})
	return append(out, para("Anyone can check this: cutover journal verify recomputes every hash; the head hash above identifies exactly the journal this report was made from."))
}
