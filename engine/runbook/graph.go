package runbook

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"
)

// graph checks the dependencies: every `after:` names an existing step, no step waits for itself,
// and there are no cycles (each cycle is named step by step).
func (p *parser) graph() {
	rb := p.rb
	d := &p.d
	p.conditions()
	for _, s := range rb.Steps {
		where := fmt.Sprintf("step %q", s.ID)
		seen := map[string]bool{}
		for i, dep := range s.After {
			pos := s.Pos
			if i < len(s.afterPos) {
				pos = s.afterPos[i]
			}
			switch {
			case dep == s.ID:
				d.ErrorAt(pos, where, "after: a step cannot wait for itself")
			case seen[dep]:
				d.ErrorAt(pos, where, "after: %q is listed twice", dep)
			default:
				if _, ok := rb.byID[dep]; !ok {
					if hint := suggest(dep, stepIDs(rb)); hint != "" {
						d.ErrorAt(pos, where, "after: no step has id %q (did you mean %q?)", dep, hint)
					} else {
						d.ErrorAt(pos, where, "after: no step has id %q", dep)
					}
				}
			}
			seen[dep] = true
		}
	}
	// Depth-first search for back edges; each one closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(s *Step)
	visit = func(s *Step) {
		color[s.ID] = grey
		stack = append(stack, s.ID)
		for i, dep := range s.After {
			ds, ok := rb.byID[dep]
			if !ok || dep == s.ID {
				continue
			}
			switch color[dep] {
			case white:
				visit(ds)
			case grey:
				start := len(stack) - 1
				for stack[start] != dep {
					start--
				}
				cycle := append(append([]string(nil), stack[start:]...), dep)
				pos := s.Pos
				if i < len(s.afterPos) {
					pos = s.afterPos[i]
				}
				d.ErrorAt(pos, fmt.Sprintf("step %q", s.ID), "dependency cycle: %s (each waits for the next)", strings.Join(cycle, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		color[s.ID] = black
	}
	for _, s := range rb.Steps {
		if color[s.ID] == white {
			visit(s)
		}
	}
	p.rollbackOrder()
}

// conditions checks each `when: {failed: ID}` and adds its trigger to the step's after: list (the
// step cannot run before its trigger has finished, so the order, the cycle check, the plan and the
// cockpit all see the edge). Listing the trigger in after: as well changes nothing. The trigger
// must exist and must not be the step itself.
func (p *parser) conditions() {
	rb := p.rb
	d := &p.d
	for _, s := range rb.Steps {
		c := s.When
		if c == nil {
			continue
		}
		where := fmt.Sprintf("step %q", s.ID)
		switch _, ok := rb.byID[c.Failed]; {
		case c.Failed == s.ID:
			d.ErrorAt(c.Pos, where, "when: failed: a step cannot be the fallback of its own failure; name the step whose failure it answers")
			s.When = nil
			continue
		case !ok:
			if hint := suggest(c.Failed, stepIDs(rb)); hint != "" {
				d.ErrorAt(c.Pos, where, "when: failed: no step has id %q (did you mean %q?)", c.Failed, hint)
			} else {
				d.ErrorAt(c.Pos, where, "when: failed: no step has id %q", c.Failed)
			}
			s.When = nil
			continue
		}
		if !contains(s.After, c.Failed) {
			s.After = append(s.After, c.Failed)
			s.afterPos = append(s.afterPos, c.Pos)
		}
	}
}

// rollbackOrder checks that the point of no return waits, through its after: chain, for the step
// that makes the rollback point: otherwise the production refresh could start with no AX 2012
// backup to go back to. Neither may be conditional (`when:`): a step that runs only on another's
// failure cannot be what the rollback rests on.
func (p *parser) rollbackOrder() {
	dt := p.rb.Downtime
	if dt == nil {
		return
	}
	for _, ref := range []struct{ key, id string }{{"point_of_no_return", dt.PointOfNoReturn}, {"rollback_point", dt.RollbackPoint}} {
		if s, ok := p.rb.byID[ref.id]; ok && s.When != nil {
			p.d.ErrorAt(dt.posOf(ref.key), "downtime", "%s: %q runs only if %q fails (when:); name a step every run goes through", ref.key, ref.id, s.When.Failed)
		}
	}
	if dt.RollbackPoint == "" || dt.PointOfNoReturn == "" {
		return
	}
	pnr, ok1 := p.rb.byID[dt.PointOfNoReturn]
	_, ok2 := p.rb.byID[dt.RollbackPoint]
	if !ok1 || !ok2 {
		return // named already
	}
	if dt.RollbackPoint == dt.PointOfNoReturn {
		p.d.ErrorAt(dt.posOf("rollback_point"), "downtime", "rollback_point: %q is the point of no return itself: name the backup step that comes before it", dt.RollbackPoint)
		return
	}
	if !p.rb.DependsOn(pnr.ID, dt.RollbackPoint) {
		p.d.ErrorAt(dt.posOf("rollback_point"), "downtime", "rollback_point: the point of no return %q does not wait for %q: add it to the after: chain of %q, or the refresh could start with no rollback point", dt.PointOfNoReturn, dt.RollbackPoint, dt.PointOfNoReturn)
	}
}

// DependsOn reports whether step id waits, directly or through other steps, for step dep.
func (rb *Runbook) DependsOn(id, dep string) bool {
	s, ok := rb.byID[id]
	if !ok {
		return false
	}
	ups, _ := rb.Upstream(s)
	return slices.Contains(ups, dep)
}

// Upstream lists the steps s waits for, directly or through other steps, nearest first (each
// once, a name in after: included even when no step has it); known is false when a step on the
// way is not in the runbook, as while a kind's decoder reads a step before the ones it names.
func (rb *Runbook) Upstream(s *Step) (ids []string, known bool) {
	known = true
	seen := map[string]bool{}
	queue := append([]string(nil), s.After...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		st, ok := rb.byID[id]
		if !ok {
			known = false
			continue
		}
		queue = append(queue, st.After...)
	}
	return ids, known
}

func stepIDs(rb *Runbook) []string {
	ids := make([]string, 0, len(rb.Steps))
	for _, s := range rb.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// Summary is what `cutover check` reports about a valid runbook.
type Summary struct {
	Steps        int
	PerPhase     []PhaseCount
	Destructive  []string
	Approvals    []StepApprovals
	CriticalPath []string
	// CriticalDuration is the planned duration of the longest dependency chain.
	CriticalDuration time.Duration
	// Unplanned counts steps without a planned duration (they count as zero).
	Unplanned int
	// DowntimePath and DowntimeDuration are the critical path from the step that begins the
	// downtime (when the runbook names one).
	DowntimePath     []string
	DowntimeDuration time.Duration
	// Conditional lists the steps that run only on another step's failure (`when:`); the plan
	// counts them as zero (a run without failures never runs them).
	Conditional []StepCondition
}

// StepCondition names a conditional step and the step whose failure it answers.
type StepCondition struct {
	ID     string
	Failed string
}

// PhaseCount is the number of steps in one phase.
type PhaseCount struct {
	Phase string
	Steps int
}

// StepApprovals names a step that needs confirmation and how many operators must give it.
type StepApprovals struct {
	ID        string
	Approvals int
}

// Summarize computes the check summary. isGate tells which kinds are gates (always confirmed).
func (r *Runbook) Summarize(isGate func(kind string) bool) Summary {
	sum := Summary{Steps: len(r.Steps)}
	counts := map[string]int{}
	for _, s := range r.Steps {
		counts[s.Phase]++
		if s.Destructive {
			sum.Destructive = append(sum.Destructive, s.ID)
		}
		if s.NeedsConfirmation(isGate(s.Kind)) {
			sum.Approvals = append(sum.Approvals, StepApprovals{ID: s.ID, Approvals: s.RequiredApprovals()})
		}
		if s.Planned == 0 && s.When == nil {
			sum.Unplanned++
		}
		if s.When != nil {
			sum.Conditional = append(sum.Conditional, StepCondition{ID: s.ID, Failed: s.When.Failed})
		}
	}
	for _, ph := range r.Phases {
		sum.PerPhase = append(sum.PerPhase, PhaseCount{Phase: ph, Steps: counts[ph]})
	}
	planned := (*Step).Expected
	sum.CriticalPath, sum.CriticalDuration = r.CriticalPath(planned)
	if r.Downtime != nil && r.Downtime.BeginsWith != "" {
		sum.DowntimePath, sum.DowntimeDuration = r.criticalPathFrom(r.Downtime.BeginsWith, planned)
	}
	return sum
}

// CriticalPath returns the longest chain of dependent steps by the given duration and its length.
// The runbook must be acyclic (Parse guarantees it).
func (r *Runbook) CriticalPath(dur func(*Step) time.Duration) ([]string, time.Duration) {
	return r.criticalPathFrom("", dur)
}

// criticalPathFrom is CriticalPath restricted to the steps that (transitively) follow from, and
// from itself; from == "" means every step.
func (r *Runbook) criticalPathFrom(from string, dur func(*Step) time.Duration) ([]string, time.Duration) {
	finish := map[string]time.Duration{}
	prev := map[string]string{}
	in := func(id string) bool { return true }
	if from != "" {
		reach := map[string]bool{from: true}
		for _, id := range r.TopoOrder() {
			for _, dep := range r.byID[id].After {
				if reach[dep] {
					reach[id] = true
				}
			}
		}
		in = func(id string) bool { return reach[id] }
	}
	for _, id := range r.TopoOrder() {
		if !in(id) {
			continue
		}
		s := r.byID[id]
		var start time.Duration
		for _, dep := range s.After {
			if !in(dep) {
				continue
			}
			if f := finish[dep]; prev[id] == "" || f > start {
				start, prev[id] = f, dep
			}
		}
		finish[id] = start + dur(s)
	}
	var end string
	var best time.Duration = -1
	for _, s := range r.Steps {
		if _, ok := finish[s.ID]; ok && finish[s.ID] > best {
			end, best = s.ID, finish[s.ID]
		}
	}
	var path []string
	for id := end; id != ""; id = prev[id] {
		path = append(path, id)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, max(best, 0)
}

// TopoOrder lists step ids so that every step follows the steps it waits for; among independent
// steps the runbook's order is kept.
func (r *Runbook) TopoOrder() []string {
	index := map[string]int{}
	for i, s := range r.Steps {
		index[s.ID] = i
	}
	indeg := map[string]int{}
	children := map[string][]string{}
	for _, s := range r.Steps {
		for _, dep := range s.After {
			if _, ok := r.byID[dep]; ok {
				indeg[s.ID]++
				children[dep] = append(children[dep], s.ID)
			}
		}
	}
	ready := &indexHeap{}
	for i, s := range r.Steps {
		if indeg[s.ID] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]string, 0, len(r.Steps))
	for ready.Len() > 0 {
		id := r.Steps[heap.Pop(ready).(int)].ID
		out = append(out, id)
		for _, c := range children[id] {
			if indeg[c]--; indeg[c] == 0 {
				heap.Push(ready, index[c])
			}
		}
	}
	return out
}

// indexHeap is a min-heap of step positions in the runbook.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
