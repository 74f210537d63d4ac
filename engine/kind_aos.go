package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// AOSStopKind stops every configured AX 2012 AOS: it first shows who is still connected, then asks
// each service to stop, waits for each to report stopped and for AX to show no active server
// sessions. A service already stopped counts as done, so running it again after a crash is safe.
type AOSStopKind struct{}

// Name implements Kind.
func (AOSStopKind) Name() string { return "aos.stop" }

// Mode implements Kind.
func (AOSStopKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {hosts, timeout, poll}` (decodeAOS); the step must be destructive.
func (AOSStopKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &aosStopAction{}
	aos := decodeAOS(d, s, with, "aos.stop", &a.aosSettings, func(aos *runbook.AOS) time.Duration { return aos.StopTimeout })
	if aos != nil && !s.Destructive {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "aos.stop stops the production AOS services: mark the step destructive: true so it needs a typed confirmation")
	}
	return a
}

// aosSettings are what aos.stop and aos.start read from `with:`.
type aosSettings struct {
	instances []aosInstance
	timeout   time.Duration
	poll      time.Duration
}

// decodeAOS reads `with: {hosts, timeout, poll}` into a: the aos section's instances on hosts
// (all of them without hosts), the timeout (the section's, from sectionTimeout, else 15 minutes)
// and the poll interval (5s). It returns the aos section, or nil when the runbook has none.
func decodeAOS(d *runbook.Decoder, s *runbook.Step, with *yaml.Node, kind string, a *aosSettings, sectionTimeout func(*runbook.AOS) time.Duration) *runbook.AOS {
	where := fmt.Sprintf("step %q", s.ID)
	a.poll = 5 * time.Second
	var hosts []string
	var hostsNode *yaml.Node
	d.Fields(with, where+" with", map[string]runbook.Field{
		"hosts":   func(v *yaml.Node) { hosts, hostsNode = d.Strings(v, where+" with", "hosts"), v },
		"timeout": func(v *yaml.Node) { a.timeout = d.Duration(v, where+" with", "timeout") },
		"poll":    func(v *yaml.Node) { a.poll = d.Duration(v, where+" with", "poll") },
	})
	rb := d.Runbook()
	if rb == nil || rb.AOS == nil || len(rb.AOS.Instances) == 0 {
		d.ErrorAt(s.Pos, where, "kind %s needs an aos: section listing the instances (host and service) and how to control them", kind)
		return nil
	}
	if a.timeout == 0 && sectionTimeout != nil {
		a.timeout = sectionTimeout(rb.AOS)
	}
	if a.timeout == 0 {
		a.timeout = 15 * time.Minute
	}
	if a.poll <= 0 {
		a.poll = 5 * time.Second
	}
	want := map[string]bool{}
	for _, h := range hosts {
		want[strings.ToUpper(h)] = true
	}
	for _, in := range rb.AOS.Instances {
		if len(want) == 0 || want[strings.ToUpper(in.Host)] {
			a.instances = append(a.instances, aosInstance{host: in.Host, service: in.Service})
			delete(want, strings.ToUpper(in.Host))
		}
	}
	for h := range want {
		d.Errorf(hostsNode, where+" with", "hosts: %s is not one of the aos instances", h)
	}
	return rb.AOS
}

type aosInstance struct{ host, service string }

func (i aosInstance) String() string { return i.service + " on " + i.host }

type aosStopAction struct{ aosSettings }

func (a *aosStopAction) Describe() string {
	names := make([]string, len(a.instances))
	for i, in := range a.instances {
		names[i] = in.String()
	}
	return fmt.Sprintf("stop %s; wait up to %s for each to report stopped and for AX to show no active server session",
		strings.Join(names, ", "), runbook.FormatDuration(a.timeout))
}

// Rerunnable: asking a stopped service to stop again changes nothing.
func (a *aosStopAction) Rerunnable() bool { return true }

// Preview says what state each AOS is in and what still runs, for the confirmation, with the
// users still connected to AX as a list in full (the request's text names the first few).
func (a *aosStopAction) Preview(ctx context.Context, run *Run) (Preview, error) {
	var b strings.Builder
	ports := run.Ports()
	if ports.Services != nil {
		for _, in := range a.instances {
			st, _, err := ports.Services.State(ctx, in.host, in.service)
			if err != nil {
				fmt.Fprintf(&b, "%s: state unknown (%v)\n", in, err)
				continue
			}
			fmt.Fprintf(&b, "%s: %s\n", in, st)
		}
	}
	if ports.AX == nil {
		b.WriteString("AX sessions: not checked (no AX source connection)")
		return Preview{Text: b.String()}, nil
	}
	act, err := ports.AX.Activity(ctx)
	if err != nil {
		return Preview{Text: strings.TrimRight(b.String(), "\n")}, fmt.Errorf("list AX sessions: %w", err)
	}
	b.WriteString(describeJobs(act))
	return Preview{Text: strings.TrimRight(b.String(), "\n"), Lists: []ConfirmList{connectedUsers(act)}}, nil
}

// connectedUsers is who is still in AX, longest connected first, every one of them: the
// confirmation's text names the first few, its dialog scrolls through the rest.
func connectedUsers(act AXActivity) ConfirmList {
	const name = "users still connected"
	if len(act.Users) == 0 {
		return ConfirmList{Name: name, Head: name + ": none"}
	}
	l := ConfirmList{Name: name, Head: fmt.Sprintf("%s: %d%s", name, len(act.Users), endingText(act.EndingUsers()))}
	users := append([]AXUser(nil), act.Users...)
	sort.SliceStable(users, func(i, j int) bool { return users[i].Since.Before(users[j].Since) })
	for _, u := range users {
		mark := ""
		if u.Ending {
			mark = " (" + orDash(u.Status) + ", still ending)"
		}
		l.Items = append(l.Items, fmt.Sprintf("%s on %s since %s%s", u.User, orDash(u.Computer), u.Since.Local().Format("15:04"), mark))
	}
	return l
}

// describeJobs says which AX batch jobs are still executing or cancelling.
func describeJobs(act AXActivity) string {
	var b strings.Builder
	var executing, cancelling []string
	for _, j := range act.Jobs {
		switch {
		case j.Cancelling:
			cancelling = append(cancelling, j.Caption)
		case j.Executing:
			executing = append(executing, j.Caption)
		}
	}
	if len(executing) == 0 {
		b.WriteString("batch jobs executing: none\n")
	} else {
		fmt.Fprintf(&b, "batch jobs executing: %d (%s) — a running batch job can keep an AOS from stopping\n", len(executing), strings.Join(executing, ", "))
	}
	if len(cancelling) > 0 {
		fmt.Fprintf(&b, "batch jobs cancelling: %d (%s) — still ending\n", len(cancelling), strings.Join(cancelling, ", "))
	}
	return b.String()
}

// endingText is " (n marked for kill, still ending)", or "" for none.
func endingText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d marked for kill, still ending)", n)
}

// serverList names AOS server sessions, with the state of those not plainly alive.
func serverList(servers []AXServer) string {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ServerID
		if !s.Alive {
			ids[i] += " (" + orDash(s.Status) + ")"
		}
	}
	return strings.Join(ids, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *aosStopAction) Run(ctx context.Context, run *Run) error {
	ports := run.Ports()
	if ports.Services == nil {
		return Permanent(errors.New("no service controller: configure the aos section's control (command templates or scm)"))
	}
	if err := onEveryAOS(ctx, run, a.instances, "stopped", "still running", a.stopOne); err != nil {
		return err
	}
	if ports.AX == nil {
		run.Warnf("AX sessions not checked: no AX source connection configured")
		run.SetMessage(fmt.Sprintf("%d AOS stopped", len(a.instances)))
		return nil
	}
	// The AOS are down; AX must agree (no active server session).
	deadline := run.Clock().Now().Add(a.timeout)
	var lastList string
	for {
		act, err := ports.AX.Activity(ctx)
		switch {
		case err != nil:
			run.Warnf("reading AX sessions: %v", err)
		case len(act.Servers) == 0:
			run.SetMessage(fmt.Sprintf("%d AOS stopped; AX shows no active server session (%d client rows left)", len(a.instances), len(act.Users)))
			return nil
		default:
			msg := "waiting for AX to clear server sessions: " + serverList(act.Servers)
			if msg != lastList {
				run.Logf("%s", msg)
				lastList = msg
			}
			run.Progress(Progress{Percent: -1, Message: msg})
		}
		if !run.Clock().Now().Before(deadline) {
			still := ""
			if err == nil {
				still = ": " + serverList(act.Servers)
			}
			return fmt.Errorf("every AOS service reports stopped, but AX still shows server sessions after %s%s (stale rows after a crash? check SYSSERVERSESSIONS)", runbook.FormatDuration(a.timeout), still)
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return err
		}
	}
}

// stopOne stops one AOS and waits for it to report stopped.
func (a *aosStopAction) stopOne(ctx context.Context, run *Run, in aosInstance) (ServiceState, error) {
	svc := run.Ports().Services
	st, _, err := svc.State(ctx, in.host, in.service)
	if err == nil && st == ServiceStopped {
		run.Logf("%s: already stopped", in)
		return st, nil
	}
	if err != nil {
		run.Warnf("%s: state unknown before stopping: %v", in, err)
	}
	if err := svc.Stop(ctx, in.host, in.service); err != nil {
		return st, fmt.Errorf("%s: %w", in, err)
	}
	run.Logf("%s: stop requested", in)
	deadline := run.Clock().Now().Add(a.timeout)
	for {
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return st, err
		}
		st, _, err = svc.State(ctx, in.host, in.service)
		switch {
		case err != nil:
			run.Warnf("%s: %v", in, err)
		case st == ServiceStopped:
			run.Logf("%s: stopped", in)
			return st, nil
		}
		if !run.Clock().Now().Before(deadline) {
			return st, fmt.Errorf("%s did not stop within %s", in, runbook.FormatDuration(a.timeout))
		}
	}
}

// AOSStartKind starts every configured AX 2012 AOS again — the rollback's "turn AX 2012 back on"
// (migration-upgrade/upgrade-cutover-testing.md, "Roll back to AX 2012") — and waits for each
// service to report running and for AX to show its server session alive: "each running AOS has a
// row with the STATUS column equal to 1" in SYSSERVERSESSIONS (query.AXServerSessions names the
// documents). A service already running counts as started, so running it again is safe.
type AOSStartKind struct{}

// Name implements Kind.
func (AOSStartKind) Name() string { return "aos.start" }

// Mode implements Kind.
func (AOSStartKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {hosts, timeout, poll}` (decodeAOS); command control needs a start template.
func (AOSStartKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	a := &aosStartAction{}
	aos := decodeAOS(d, s, with, "aos.start", &a.aosSettings, nil)
	if aos != nil && aos.Control == "command" && len(aos.Start) == 0 {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind aos.start needs the aos section's start template (for sc.exe: start: [sc.exe, '\\\\{host}', start, '{service}'])")
	}
	return a
}

type aosStartAction struct{ aosSettings }

func (a *aosStartAction) Describe() string {
	names := make([]string, len(a.instances))
	for i, in := range a.instances {
		names[i] = in.String()
	}
	return fmt.Sprintf("start %s; wait up to %s for each to report running and for AX to show its server session alive",
		strings.Join(names, ", "), runbook.FormatDuration(a.timeout))
}

// Rerunnable: asking a running service to start changes nothing.
func (a *aosStartAction) Rerunnable() bool { return true }

func (a *aosStartAction) Run(ctx context.Context, run *Run) error {
	ports := run.Ports()
	if ports.Services == nil {
		return Permanent(errors.New("no service controller: configure the aos section's control (command templates or scm)"))
	}
	if err := onEveryAOS(ctx, run, a.instances, "running", "not running", a.startOne); err != nil {
		return err
	}
	if ports.AX == nil {
		run.Warnf("AX server sessions not checked: no AX source connection configured")
		run.SetMessage(fmt.Sprintf("%d AOS running", len(a.instances)))
		return nil
	}
	deadline := run.Clock().Now().Add(a.timeout)
	var last string
	for {
		act, err := ports.AX.Activity(ctx)
		var msg string
		switch {
		case err != nil:
			msg = "could not read AX's server sessions: " + err.Error()
		default:
			missing := aosSessionsMissing(a.instances, act.Servers)
			if len(missing) == 0 {
				run.SetMessage(fmt.Sprintf("%d AOS running; AX shows their server sessions alive: %s", len(a.instances), serverList(aliveServers(act.Servers))))
				return nil
			}
			names := make([]string, len(missing))
			for i, in := range missing {
				names[i] = in.String()
			}
			msg = "waiting for AX to show the server session of " + strings.Join(names, ", ")
			if len(act.Servers) > 0 {
				msg += " (AX shows " + serverList(act.Servers) + ")"
			}
		}
		if msg != last {
			run.Logf("%s", msg)
			last = msg
		}
		run.Progress(Progress{Percent: -1, Message: msg})
		if !run.Clock().Now().Before(deadline) {
			return fmt.Errorf("every AOS service reports running, but after %s: %s", runbook.FormatDuration(a.timeout), msg)
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return err
		}
	}
}

// startOne starts one AOS (after any stop still under way) and waits for it to report running.
func (a *aosStartAction) startOne(ctx context.Context, run *Run, in aosInstance) (ServiceState, error) {
	svc := run.Ports().Services
	deadline := run.Clock().Now().Add(a.timeout)
	st, _, err := svc.State(ctx, in.host, in.service)
	for err == nil && st == ServiceStopPending {
		if !run.Clock().Now().Before(deadline) {
			return st, fmt.Errorf("%s is still stopping after %s", in, runbook.FormatDuration(a.timeout))
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return st, err
		}
		st, _, err = svc.State(ctx, in.host, in.service)
	}
	if err == nil && st == ServiceRunning {
		run.Logf("%s: already running", in)
		return st, nil
	}
	if err != nil {
		run.Warnf("%s: state unknown before starting: %v", in, err)
	}
	if err := svc.Start(ctx, in.host, in.service); err != nil {
		return st, fmt.Errorf("%s: %w", in, err)
	}
	run.Logf("%s: start requested", in)
	for {
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return st, err
		}
		st, _, err = svc.State(ctx, in.host, in.service)
		switch {
		case err != nil:
			run.Warnf("%s: %v", in, err)
		case st == ServiceRunning:
			run.Logf("%s: running", in)
			return st, nil
		}
		if !run.Clock().Now().Before(deadline) {
			return st, fmt.Errorf("%s did not report running within %s", in, runbook.FormatDuration(a.timeout))
		}
	}
}

// aliveServers are the AOS server sessions AX shows alive (STATUS 1).
func aliveServers(servers []AXServer) []AXServer {
	var out []AXServer
	for _, s := range servers {
		if s.Alive {
			out = append(out, s)
		}
	}
	return out
}

// aosSessionsMissing lists the instances AX does not show alive. SYSSERVERSESSIONS names an AOS by
// AOSID (host@port in practice) and INSTANCE_NAME (the number after the service's '$'); neither form
// is documented, so an instance is matched on its host (and instance number, when both are known)
// where the rows name hosts, and otherwise only the number of alive rows is compared.
func aosSessionsMissing(instances []aosInstance, servers []AXServer) []aosInstance {
	alive := aliveServers(servers)
	named := slices.ContainsFunc(alive, func(s AXServer) bool { return strings.Contains(s.AOSID, "@") })
	if !named {
		if len(alive) >= len(instances) {
			return nil
		}
		return instances[len(alive):]
	}
	short := func(h string) string { return strings.ToUpper(strings.SplitN(strings.TrimPrefix(h, `\\`), ".", 2)[0]) }
	used := make([]bool, len(alive))
	var missing []aosInstance
	for _, in := range instances {
		num := ""
		if i := strings.LastIndexByte(in.service, '$'); i >= 0 {
			num = in.service[i+1:]
		}
		found := false
		for i, s := range alive {
			host, _, _ := strings.Cut(s.AOSID, "@")
			if used[i] || short(host) != short(in.host) || (num != "" && s.Instance != "" && !strings.EqualFold(s.Instance, num)) {
				continue
			}
			used[i], found = true, true
			break
		}
		if !found {
			missing = append(missing, in)
		}
	}
	return missing
}

// onEveryAOS asks every instance at once (do: stop or start it and follow its state), reporting
// progress as each one is done ("3 of 4 AOS stopped": done names the state reached). The error
// names each instance that is not (with its state, after failed: "still running: …").
func onEveryAOS(ctx context.Context, run *Run, instances []aosInstance, done, failed string,
	do func(context.Context, *Run, aosInstance) (ServiceState, error)) error {
	type outcome struct {
		in    aosInstance
		state ServiceState
		err   error
	}
	results := make([]outcome, len(instances))
	var wg sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	for i, in := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := do(ctx, run, in)
			results[i] = outcome{in: in, state: st, err: err}
			if err == nil {
				mu.Lock()
				finished++
				run.Progress(Progress{Percent: 100 * float64(finished) / float64(len(instances)), Message: fmt.Sprintf("%d of %d AOS %s", finished, len(instances), done)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var left []string
	var errs []error
	for _, r := range results {
		if r.err != nil {
			left = append(left, fmt.Sprintf("%s (%s)", r.in, r.state))
			errs = append(errs, r.err)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("%s: %s: %w", failed, strings.Join(left, ", "), errors.Join(errs...))
	}
	return nil
}
