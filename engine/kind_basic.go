package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// ManualKind is a step a person does (hold the batch jobs, call the integration owners) and then
// marks done.
type ManualKind struct{}

// Name implements Kind.
func (ManualKind) Name() string { return "manual" }

// Mode implements Kind.
func (ManualKind) Mode() Mode { return ModeManual }

// Decode reads `with: {instructions, checklist}`.
func (ManualKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &manualAction{title: s.Title}
	where := fmt.Sprintf("step %q with", s.ID)
	d.Fields(with, where, map[string]runbook.Field{
		"instructions": func(v *yaml.Node) { a.instructions = d.NonEmpty(v, where, "instructions") },
		"checklist":    func(v *yaml.Node) { a.checklist = d.Strings(v, where, "checklist") },
	})
	return a
}

type manualAction struct {
	title        string
	instructions string
	checklist    []string
}

func (a *manualAction) Describe() string {
	var b strings.Builder
	if a.instructions != "" {
		b.WriteString(strings.TrimSpace(a.instructions))
	} else {
		b.WriteString("do by hand: " + a.title)
	}
	for _, c := range a.checklist {
		b.WriteString("\n  [ ] " + c)
	}
	b.WriteString("\nthen mark the step done")
	return b.String()
}

// GateKind is a go/no-go decision: the step succeeds when enough operators confirm it.
type GateKind struct{}

// Name implements Kind.
func (GateKind) Name() string { return "gate" }

// Mode implements Kind.
func (GateKind) Mode() Mode { return ModeGate }

// Decode reads `with: {question, checklist}`.
func (GateKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &gateAction{question: "Go for: " + s.Title + "?"}
	where := fmt.Sprintf("step %q with", s.ID)
	d.Fields(with, where, map[string]runbook.Field{
		"question":  func(v *yaml.Node) { a.question = d.NonEmpty(v, where, "question") },
		"checklist": func(v *yaml.Node) { a.checklist = d.Strings(v, where, "checklist") },
	})
	return a
}

type gateAction struct {
	question  string
	checklist []string
}

func (a *gateAction) Describe() string {
	var b strings.Builder
	b.WriteString(a.question)
	for _, c := range a.checklist {
		b.WriteString("\n  [ ] " + c)
	}
	return b.String()
}

// WaitKind waits for a duration or until a time (a soak period, a planned start).
type WaitKind struct{}

// Name implements Kind.
func (WaitKind) Name() string { return "wait" }

// Mode implements Kind.
func (WaitKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {duration}` or `with: {until}`.
func (WaitKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &waitAction{}
	where := fmt.Sprintf("step %q with", s.ID)
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind wait needs `with: {duration: 10m}` or `with: {until: 2026-12-05T22:00:00+01:00}`")
		return a
	}
	present := d.Fields(with, where, map[string]runbook.Field{
		"duration": func(v *yaml.Node) { a.duration = d.Duration(v, where, "duration") },
		"until":    func(v *yaml.Node) { a.until = d.Time(v, where, "until") },
	})
	_, hasD := present["duration"]
	_, hasU := present["until"]
	if hasD == hasU {
		d.Errorf(with, where, "give exactly one of duration or until")
	}
	return a
}

type waitAction struct {
	duration time.Duration
	until    time.Time
}

func (a *waitAction) Describe() string {
	if !a.until.IsZero() {
		return "wait until " + a.until.Format("2006-01-02 15:04 MST")
	}
	return "wait " + runbook.FormatDuration(a.duration)
}

// Rerunnable: waiting again is always safe.
func (a *waitAction) Rerunnable() bool { return true }

func (a *waitAction) Run(ctx context.Context, run *Run) error {
	deadline := a.until
	if deadline.IsZero() {
		deadline = run.Clock().Now().Add(a.duration)
	}
	if err := run.Record(map[string]string{"deadline": deadline.UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	return a.wait(ctx, run, deadline)
}

// Resume keeps the deadline recorded before the interruption.
func (a *waitAction) Resume(ctx context.Context, run *Run) error {
	deadline, err := time.Parse(time.RFC3339Nano, run.Ref()["deadline"])
	if err != nil {
		return a.Run(ctx, run)
	}
	run.Logf("still waiting until %s", deadline.Local().Format("15:04:05"))
	return a.wait(ctx, run, deadline)
}

func (a *waitAction) wait(ctx context.Context, run *Run, deadline time.Time) error {
	if err := clock.SleepUntil(ctx, run.Clock(), deadline); err != nil {
		return fmt.Errorf("wait interrupted: %w", err)
	}
	run.SetMessage("waited until " + deadline.Local().Format("15:04:05"))
	return nil
}
