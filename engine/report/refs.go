// An attempt's journaled references (step.external), in words: what the report shows of them.

package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
)

// external notes an attempt's references: LCS operation ids and states among them. Every
// reference is told in words; a key the report does not know (a newer cutover's) is shown with
// its underscores as spaces and a time as the report's times are.
func (b *builder) external(rec journal.Record, st *stepInfo, p engine.External) {
	ref := p.Ref
	keys := make([]string, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	// The operation id before its state, then the rest by name.
	rank := map[string]int{"intent": 0, "guided_since": 1, "known_at": 2, "activity": 3, "status": 4}
	sort.Slice(keys, func(i, j int) bool {
		ri, iok := rank[keys[i]]
		rj, jok := rank[keys[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	event := func(what string) { b.lcsEvent(st, rec, p.Attempt, what) }
	for _, k := range keys {
		v := ref[k]
		switch k {
		case "activity":
			st.hasOp = true
			st.lcs.Operations = append(st.lcs.Operations, LCSOperation{ID: v, Attempt: p.Attempt, At: rec.Time.UTC()})
			event("LCS operation " + v)
		case "status":
			if n := len(st.lcs.Operations); n > 0 {
				op := &st.lcs.Operations[n-1]
				if len(op.States) == 0 || op.States[len(op.States)-1] != v {
					op.States = append(op.States, v)
				}
				op.Final = v
			}
			event("operation state " + v)
		case "intent":
			event("refresh requested from LCS (journaled before the request, so a restart looks for it instead of starting another)")
		case "guided_since":
			event("waiting for the refresh started in the LCS portal" + prefixed(" after the confirmation at ", refTime(v)))
		case "known_at":
			// Journaled together: the refreshes that had ended when the operators confirmed.
			var ended []string
			for _, id := range strings.Split(ref["ended_before"], ",") {
				if id = strings.TrimSpace(id); id != "" {
					ended = append(ended, id)
				}
			}
			what := "environment history read in LCS" + prefixed(" at ", refTime(v)) + ": "
			switch len(ended) {
			case 0:
				what += "no refresh had ended before the confirmation"
			case 1:
				what += "1 refresh had ended before the confirmation and is not this one: " + ended[0]
			default:
				what += fmt.Sprintf("%d refreshes had ended before the confirmation and are not this one: %s", len(ended), strings.Join(ended, ", "))
			}
			event(what)
		case "ended_before":
			if _, ok := ref["known_at"]; !ok {
				event("refreshes that had ended before the confirmation: " + orDash(v))
			}
		default:
			event(refWords(k) + ": " + orDash(refValue(v)))
		}
	}
}

// refWords is a reference's key in words: underscores and colons become spaces.
func refWords(k string) string {
	return strings.TrimSpace(strings.NewReplacer("_", " ", ":", " ").Replace(k))
}

// refTime is a journaled time as the report writes times ("" when v is not a time).
func refTime(v string) string {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return ""
	}
	return ts(t)
}

// refValue is a reference's value for people: a time as the report writes times, anything
// else as journaled.
func refValue(v string) string {
	if t := refTime(v); t != "" {
		return t
	}
	return v
}
