package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// ServiceState is a Windows service state, numbered as the service
// control manager does (sc.exe query: 1 STOPPED, 2 START_PENDING,
// 3 STOP_PENDING, 4 RUNNING).
type ServiceState int

const (
	// ServiceStopped is SERVICE_STOPPED.
	ServiceStopped ServiceState = iota + 1
	// ServiceStartPending is SERVICE_START_PENDING.
	ServiceStartPending
	// ServiceStopPending is SERVICE_STOP_PENDING.
	ServiceStopPending
	// ServiceRunning is SERVICE_RUNNING.
	ServiceRunning
)

// String returns the sc.exe name of the state.
func (s ServiceState) String() string {
	switch s {
	case ServiceStopped:
		return "STOPPED"
	case ServiceStartPending:
		return "START_PENDING"
	case ServiceStopPending:
		return "STOP_PENDING"
	case ServiceRunning:
		return "RUNNING"
	}
	return fmt.Sprintf("ServiceState(%d)", int(s))
}

// BatchStatus is AX 2012's BatchStatus enum (BATCHJOB.STATUS, BATCH.STATUS).
type BatchStatus int

const (
	// BatchHold is "Withhold".
	BatchHold BatchStatus = iota
	// BatchWaiting is "Waiting".
	BatchWaiting
	// BatchExecuting is "Executing".
	BatchExecuting
	// BatchError is "Error".
	BatchError
	// BatchFinished is "Ended".
	BatchFinished
	// BatchReady is "Ready".
	BatchReady
	// BatchNotRun is "Didn't run".
	BatchNotRun
	// BatchCancelling is "Cancelling".
	BatchCancelling
	// BatchCanceled is "Canceled".
	BatchCanceled
)

// String returns the status name.
func (s BatchStatus) String() string {
	names := [...]string{"Withhold", "Waiting", "Executing", "Error", "Ended", "Ready", "Didn't run", "Cancelling", "Canceled"}
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("BatchStatus(%d)", int(s))
}

type aosTransition struct {
	t     float64
	state ServiceState
}

type aosState struct {
	cfg      AOSInstance
	serverID int
	trans    []aosTransition // in time order; running before the first
	// refuseStop makes StopAOS fail (RefuseStop), as a hung service does.
	refuseStop bool
	// drainAt is when the AOS was told to reject new clients (DrainAOS; -Inf: never). It drains
	// until it stops: a later start accepts clients again.
	drainAt float64
}

// Server session status values (SYSSERVERSESSIONS.STATUS, SysServerStatus). 0 and 1 are
// documented (a dead AOS's row, a running one); the number of Drain is not, and 2 is this
// simulator's choice.
const (
	serverDead  = 0
	serverAlive = 1
	serverDrain = 2
)

// Client session status values (SYSCLIENTSESSIONS.STATUS, the SessionStatus enum).
const (
	sessionRunning      = 1
	sessionMarkedAsKill = 2
)

// serverStatus is the AOS's SYSSERVERSESSIONS.STATUS at t. drainedRow keeps a stopped AOS's row in
// Drain (an AOS that died while it drained: SetLeftover).
func (a *aosState) serverStatus(t float64, drainedRow bool) int {
	switch {
	case !a.active(t) && drainedRow:
		return serverDrain
	case !a.active(t):
		return serverDead
	case a.drainAt <= t && a.drainAt >= a.runningSince(t):
		return serverDrain
	}
	return serverAlive
}

func (a *aosState) stateAt(t float64) ServiceState {
	s := ServiceRunning
	for _, tr := range a.trans {
		if tr.t > t {
			break
		}
		s = tr.state
	}
	return s
}

// runningSince is when the AOS last became Running at or before t
// (-6 days when it has run since before the world started).
func (a *aosState) runningSince(t float64) float64 {
	since := -6*86400 + float64(a.serverID)*95
	for _, tr := range a.trans {
		if tr.t > t {
			break
		}
		if tr.state == ServiceRunning {
			since = tr.t
		}
	}
	return since
}

// leftRunning is when the AOS last stopped running at or before t.
func (a *aosState) leftRunning(t float64) float64 {
	left := math.Inf(-1)
	for _, tr := range a.trans {
		if tr.t > t {
			break
		}
		if tr.state == ServiceStopPending {
			left = tr.t
		}
	}
	return left
}

// active: the AOS process serves (running or stopping).
func (a *aosState) active(t float64) bool {
	s := a.stateAt(t)
	return s == ServiceRunning || s == ServiceStopPending
}

func (w *World) nextAOSEvent() float64 {
	next := math.Inf(1)
	for _, a := range w.aos {
		for _, tr := range a.trans {
			if tr.t > w.t {
				next = min(next, tr.t)
				break
			}
		}
	}
	return next
}

type batchJob struct {
	recID     int64
	caption   string
	createdBy string
	// fixed jobs keep status fixed with start fixedStart; recurring ones
	// (period > 0) run every period for dur seconds on the batch AOS.
	fixed       BatchStatus
	fixedStart  float64
	period      float64
	dur         float64
	phase       float64
	tasks       int
	killedAt    float64 // +Inf unless the AOS was stopped under it
	killedStart float64
}

type clientSession struct {
	sessionID int
	aos       int // index into w.aos
	user      string
	typ       int // 0 user (rich client), 1 Business Connector, 2 worker
	computer  string
	login     float64 // before the world started
	back      float64 // seconds after an AOS restart until the user is back
	status    int     // SYSCLIENTSESSIONS.STATUS of a leftover row (0: the AOS's own session)
}

func (w *World) generateAX(rng *rand.Rand) {
	for i, c := range w.cfg.AOS {
		w.aos = append(w.aos, &aosState{cfg: c, serverID: i + 1, drainAt: math.Inf(-1)})
	}
	type rec struct {
		caption      string
		period, dur  float64
		tasks        int
		fixed        BatchStatus
		fixedStartAt float64
	}
	recs := []rec{
		{caption: "Sales order invoicing", period: 300, dur: 70, tasks: 4},
		{caption: "Inventory recalculation", period: 1800, dur: 420, tasks: 2},
		{caption: "Master planning - net requirements", period: 3600, dur: 1500, tasks: 6},
		{caption: "Post ledger journals", period: 600, dur: 90, tasks: 2},
		{caption: "AIF inbound processing", period: 60, dur: 20, tasks: 1},
		{caption: "AIF outbound processing", period: 60, dur: 15, tasks: 1},
		{caption: "Workflow message processing", period: 60, dur: 10, tasks: 1},
		{caption: "E-mail distributor batch", period: 120, dur: 15, tasks: 1},
		{caption: "Release sales orders to warehouse", period: 900, dur: 180, tasks: 3},
		{caption: "Vendor invoice posting", period: 1200, dur: 240, tasks: 2},
		{caption: "Bank statement import", period: 3600, dur: 300, tasks: 1},
		{caption: "Retail scheduler - P-job", period: 900, dur: 120, tasks: 2},
		{caption: "Inventory closing", fixed: BatchHold, fixedStartAt: -9 * 86400},
		{caption: "Purge database log", fixed: BatchHold, fixedStartAt: -30 * 86400},
		{caption: "Year-end close FY2024", fixed: BatchHold, fixedStartAt: -60 * 86400},
		{caption: "Import exchange rates", fixed: BatchFinished, fixedStartAt: -5 * 3600},
		{caption: "Recalculate cost price", fixed: BatchFinished, fixedStartAt: -26 * 3600},
		{caption: "Delete batch job history", fixed: BatchFinished, fixedStartAt: -3 * 86400},
		{caption: "Export to legacy WMS", fixed: BatchError, fixedStartAt: -7 * 3600},
		{caption: "Sales tax settlement", fixed: BatchError, fixedStartAt: -2 * 86400},
		{caption: "Nightly statistics update", fixed: BatchWaiting, fixedStartAt: 11 * 3600},
		{caption: "Consolidation (nightly)", fixed: BatchWaiting, fixedStartAt: 12 * 3600},
		{caption: "OLAP cube processing", fixed: BatchWaiting, fixedStartAt: 13 * 3600},
	}
	users := userNames()
	for i, r := range recs {
		j := batchJob{recID: 5637144576 + int64(i)*3, caption: r.caption, createdBy: "Admin",
			fixed: r.fixed, fixedStart: r.fixedStartAt, period: r.period, dur: r.dur, tasks: r.tasks,
			killedAt: math.Inf(1)}
		if r.period > 0 {
			j.phase = math.Floor(rng.Float64() * r.period)
		}
		if i%4 == 3 {
			j.createdBy = users[rng.IntN(len(users))]
		}
		w.jobs = append(w.jobs, j)
	}
	// Client sessions: users on the interactive AOS, Business Connector
	// sessions, and batch workers on the batch AOS.
	var interactive, batch []int
	for i, a := range w.aos {
		if a.cfg.Batch {
			batch = append(batch, i)
		} else {
			interactive = append(interactive, i)
		}
	}
	if len(interactive) == 0 {
		interactive = batch
	}
	id := 2
	add := func(aos int, user string, typ int, computer string) {
		w.clients = append(w.clients, clientSession{sessionID: id, aos: aos, user: user, typ: typ, computer: computer,
			login: -5*3600 + math.Floor(rng.Float64()*4.5*3600), back: 60 + math.Floor(rng.Float64()*1800)})
		id += 1 + rng.IntN(3)
	}
	for k, u := range users {
		add(interactive[k%len(interactive)], u, 0, fmt.Sprintf("WKS-%04d", 100+rng.IntN(9000)))
	}
	for k := range 3 {
		add(interactive[k%len(interactive)], "bcproxy", 1, "AX-EP01")
	}
	for _, b := range batch {
		for range 8 {
			add(b, "Admin", 2, w.aos[b].cfg.Host)
		}
	}
	var rows [4]int64
	rows[0] = int64(len(w.aos))
	rows[1] = int64(len(w.clients)) + 412 // plus ended sessions kept by AX
	rows[2] = int64(len(w.jobs))
	for _, j := range w.jobs {
		rows[3] += int64(max(1, j.tasks))
	}
	for k, name := range []string{"SYSSERVERSESSIONS", "SYSCLIENTSESSIONS", "BATCHJOB", "BATCH"} {
		if i, ok := w.byName[name]; ok {
			w.tables[i].baseRows = rows[k]
		}
	}
}

func (w *World) aosByName(host, service string) (*aosState, error) {
	for _, a := range w.aos {
		if strings.EqualFold(a.cfg.Host, host) && strings.EqualFold(a.cfg.Service, service) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s", ErrUnknownAOS, host, service)
}

func (w *World) batchAOS() *aosState {
	for _, a := range w.aos {
		if a.cfg.Batch {
			return a
		}
	}
	return nil
}

// jobStatus is a batch job's status and STARTDATETIME at t.
func (w *World) jobStatus(j *batchJob, t float64) (BatchStatus, float64) {
	if j.period == 0 {
		return j.fixed, j.fixedStart
	}
	if j.killedAt <= t {
		return BatchError, j.killedStart
	}
	b := w.batchAOS()
	k := math.Floor((t - j.phase) / j.period)
	s := j.phase + k*j.period
	if b == nil {
		return BatchWaiting, s + j.period
	}
	if t < s+j.dur && b.stateAt(s) == ServiceRunning {
		return BatchExecuting, s
	}
	if b.stateAt(t) == ServiceRunning {
		return BatchWaiting, s + j.period
	}
	left := b.leftRunning(t)
	missed := j.phase + math.Ceil((left-j.phase)/j.period)*j.period
	return BatchWaiting, missed
}

func (w *World) executingTasks(t float64) int {
	n := w.leftover.tasks
	for i := range w.jobs {
		if st, _ := w.jobStatus(&w.jobs[i], t); st == BatchExecuting {
			n += w.jobs[i].tasks
		}
	}
	return n
}

// runningTasks counts the BATCH rows still running at t, by status: the tasks of executing jobs
// and the leftovers (SetLeftover), executing and cancelling.
func (w *World) runningTasks(t float64) map[BatchStatus]int {
	out := map[BatchStatus]int{}
	if n := w.executingTasks(t); n > 0 {
		out[BatchExecuting] = n
	}
	if n := w.leftover.cancellingTasks; n > 0 {
		out[BatchCancelling] = n
	}
	return out
}

// StopAOS asks an AOS service to stop (sc.exe stop). It is STOP_PENDING for
// Config.AOSStopDelay; the batch AOS also waits for the batch tasks it
// runs (at most Config.MaxStopWait, after which those jobs end in Error).
// Stopping a stopping AOS does nothing.
func (w *World) StopAOS(host, service string) error {
	w.lock()
	defer w.mu.Unlock()
	a, err := w.aosByName(host, service)
	if err != nil {
		return err
	}
	switch a.stateAt(w.t) {
	case ServiceStopped:
		return fmt.Errorf("stop %s %s: %w", host, service, ErrServiceNotRunning)
	case ServiceStopPending:
		return nil
	case ServiceStartPending:
		return fmt.Errorf("stop %s %s: %w", host, service, ErrServicePending)
	}
	if a.refuseStop {
		return fmt.Errorf("stop %s %s: %w", a.cfg.Host, a.cfg.Service, ErrStopRefused)
	}
	delay := w.cfg.AOSStopDelay.Seconds()
	if a.cfg.Batch {
		var wait float64
		for i := range w.jobs {
			j := &w.jobs[i]
			if st, s := w.jobStatus(j, w.t); st == BatchExecuting {
				wait = max(wait, s+j.dur-w.t)
			}
		}
		maxWait := w.cfg.MaxStopWait.Seconds()
		if wait > maxWait {
			for i := range w.jobs {
				j := &w.jobs[i]
				if st, s := w.jobStatus(j, w.t); st == BatchExecuting && s+j.dur-w.t > maxWait {
					j.killedAt, j.killedStart = w.t+delay+maxWait, s
				}
			}
			wait = maxWait
		}
		delay += wait
	}
	a.trans = append(a.trans, aosTransition{w.t, ServiceStopPending}, aosTransition{w.t + delay, ServiceStopped})
	w.note(ActStopAOS, host, service)
	return nil
}

// DrainAOS is "Reject new clients" on the Online users form's Server instances tab (AX 2012, "Drain
// users from an AOS"): the AOS runs on, its users and batch with it, but its SYSSERVERSESSIONS row
// shows Drain until it stops. A later start accepts clients again. Only a running AOS can drain.
func (w *World) DrainAOS(host, service string) error {
	w.lock()
	defer w.mu.Unlock()
	a, err := w.aosByName(host, service)
	if err != nil {
		return err
	}
	if st := a.stateAt(w.t); st != ServiceRunning {
		return fmt.Errorf("drain %s %s: %w", host, service, ErrServiceNotRunning)
	}
	a.drainAt = w.t
	w.note(ActDrainAOS, host, service)
	return nil
}

// RefuseStop makes every AOS service on host refuse to stop (refuse true) or obey again (false),
// as a service hung in its shutdown does: StopAOS then fails with an error wrapping
// ErrStopRefused that names the host and service, and the service keeps RUNNING (writes, users
// and batch go on). A stop already under way is not affected. The host is matched without regard
// to case; an unknown host is ErrUnknownAOS. It is a fault, not an Action: it is neither recorded
// nor replayed.
func (w *World) RefuseStop(host string, refuse bool) error {
	w.lock()
	defer w.mu.Unlock()
	found := false
	for _, a := range w.aos {
		if strings.EqualFold(a.cfg.Host, host) {
			a.refuseStop, found = refuse, true
		}
	}
	if !found {
		return fmt.Errorf("%w: no AOS on host %s", ErrUnknownAOS, host)
	}
	return nil
}

// StartAOS starts a stopped AOS service; it is START_PENDING for
// Config.AOSStartDelay, then RUNNING (writes resume, users come back).
func (w *World) StartAOS(host, service string) error {
	w.lock()
	defer w.mu.Unlock()
	a, err := w.aosByName(host, service)
	if err != nil {
		return err
	}
	switch a.stateAt(w.t) {
	case ServiceRunning:
		return fmt.Errorf("start %s %s: %w", host, service, ErrServiceRunning)
	case ServiceStartPending:
		return nil
	case ServiceStopPending:
		return fmt.Errorf("start %s %s: %w", host, service, ErrServicePending)
	}
	a.trans = append(a.trans, aosTransition{w.t, ServiceStartPending}, aosTransition{w.t + w.cfg.AOSStartDelay.Seconds(), ServiceRunning})
	w.note(ActStartAOS, host, service)
	return nil
}

// AOSState is the state of an AOS service.
func (w *World) AOSState(host, service string) (ServiceState, error) {
	w.lock()
	defer w.mu.Unlock()
	a, err := w.aosByName(host, service)
	if err != nil {
		return 0, err
	}
	return a.stateAt(w.t), nil
}

// AOSStatus is one AOS service and its state.
type AOSStatus struct {
	AOSInstance
	State ServiceState
	// Until is when a pending state ends (zero otherwise).
	Until time.Time
	// RefusesStop is set while the service refuses to stop (RefuseStop).
	RefusesStop bool
}

// AOS lists the AOS services with their states.
func (w *World) AOS() []AOSStatus {
	w.lock()
	defer w.mu.Unlock()
	out := make([]AOSStatus, len(w.aos))
	for i, a := range w.aos {
		out[i] = AOSStatus{AOSInstance: a.cfg, State: a.stateAt(w.t), RefusesStop: a.refuseStop}
		for _, tr := range a.trans {
			if tr.t > w.t {
				out[i].Until = w.timeAt(tr.t)
				break
			}
		}
	}
	return out
}

// AXActivity summarises what the AX application is doing now, counted as cutover must count it:
// what is still there, whatever its state.
type AXActivity struct {
	// RunningAOS counts SYSSERVERSESSIONS rows with a STATUS other than 0 (alive or draining).
	RunningAOS int
	// DrainingAOS counts those in Drain.
	DrainingAOS int
	// ClientSessions counts SYSCLIENTSESSIONS rows still there (running or marked for kill).
	ClientSessions int
	// EndingSessions counts those marked for kill.
	EndingSessions int
	// ExecutingTasks counts BATCH rows still running (executing or cancelling).
	ExecutingTasks int
	// CancellingTasks counts those cancelling.
	CancellingTasks int
	// LastWrite is the newest write to the AX database (zero: none since
	// the world started).
	LastWrite time.Time
}

// Activity returns the AX activity now.
func (w *World) Activity() AXActivity {
	w.lock()
	defer w.mu.Unlock()
	var a AXActivity
	for i, s := range w.aos {
		switch s.serverStatus(w.t, i < w.leftover.drainedRows) {
		case serverAlive:
			a.RunningAOS++
		case serverDrain:
			a.RunningAOS++
			a.DrainingAOS++
		}
	}
	for _, c := range w.clients {
		if w.clientActive(c) {
			a.ClientSessions++
		}
	}
	a.ClientSessions += len(w.leftover.clients)
	for _, c := range w.leftover.clients {
		if c.status == sessionMarkedAsKill {
			a.EndingSessions++
		}
	}
	for st, n := range w.runningTasks(w.t) {
		a.ExecutingTasks += n
		if st == BatchCancelling {
			a.CancellingTasks += n
		}
	}
	if !math.IsInf(w.repl.lastWrite, -1) {
		a.LastWrite = w.timeAt(w.repl.lastWrite)
	}
	return a
}

func (w *World) clientActive(c clientSession) bool {
	a := w.aos[c.aos]
	if !a.active(w.t) {
		return false
	}
	since := a.runningSince(w.t)
	return since < 0 || w.t >= since+c.back
}

func (w *World) clientLogin(c clientSession) float64 {
	since := w.aos[c.aos].runningSince(w.t)
	if since < 0 {
		return c.login
	}
	return since + c.back
}

// Leftover is AX activity no AOS owns any more, as an AOS killed in the middle of its work leaves
// it: rows of the AX tables that stay in their state whatever the AOS do.
type Leftover struct {
	// Clients are SYSCLIENTSESSIONS rows still running (STATUS 1).
	Clients int
	// EndingClients are rows marked for kill (STATUS 2, "Ending - Waiting for AOS"): the AOS that
	// was to end them is gone.
	EndingClients int
	// Tasks are BATCH rows still executing (STATUS 2).
	Tasks int
	// CancellingTasks are BATCH rows still cancelling (STATUS 7), with their job (BATCHJOB STATUS 7).
	CancellingTasks int
	// DrainedRows keeps the SYSSERVERSESSIONS rows of the first DrainedRows AOS in Drain once they
	// are stopped, as an AOS killed while it drained leaves its row.
	DrainedRows int
}

// SetLeftover leaves the activity l behind, replacing what an earlier call left, until it is
// called again with a zero Leftover. It is a fault, not an Action: it is neither recorded nor
// replayed.
func (w *World) SetLeftover(l Leftover) {
	w.lock()
	defer w.mu.Unlock()
	w.leftover.clients = w.leftover.clients[:0]
	add := func(n, status int) {
		for range max(n, 0) {
			i := len(w.leftover.clients)
			w.leftover.clients = append(w.leftover.clients, clientSession{sessionID: 90001 + i, aos: -1, status: status,
				user: fmt.Sprintf("ghost%02d", i+1), computer: fmt.Sprintf("WKS-9%03d", i+1), login: w.t - 3600})
		}
	}
	add(l.Clients, sessionRunning)
	add(l.EndingClients, sessionMarkedAsKill)
	w.leftover.tasks = max(l.Tasks, 0)
	w.leftover.cancellingTasks = max(l.CancellingTasks, 0)
	w.leftover.drainedRows = max(l.DrainedRows, 0)
}

// SetLeftoverActivity leaves clients rows of SYSCLIENTSESSIONS marked running (STATUS 1) and tasks
// rows of BATCH marked executing (STATUS 2) behind: SetLeftover with those two counts.
func (w *World) SetLeftoverActivity(clients, tasks int) {
	w.SetLeftover(Leftover{Clients: clients, Tasks: tasks})
}
