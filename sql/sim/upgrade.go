package sim

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// UpgradePhase is a phase of the data upgrade that runs in the sandbox
// (the Steps column of [DBUPGRADE].[DATAUPGRADESTATUS]).
type UpgradePhase int

const (
	// UpgradeNotStarted: the upgrade was not triggered.
	UpgradeNotStarted UpgradePhase = iota
	// UpgradePreReqs patches the SQL dictionary and syncs system tables.
	UpgradePreReqs
	// UpgradePreSync runs the first upgrade scripts in batch.
	UpgradePreSync
	// UpgradeDbSync is the first full database synchronization.
	UpgradeDbSync
	// UpgradePostSync runs the main data conversion scripts in batch.
	UpgradePostSync
	// UpgradeFinalDbSync synchronizes the remaining objects.
	UpgradeFinalDbSync
	// UpgradeCompleted: every phase finished.
	UpgradeCompleted
)

// String returns the phase as DATAUPGRADESTATUS.Steps spells it.
func (p UpgradePhase) String() string {
	switch p {
	case UpgradeNotStarted:
		return "NotStarted"
	case UpgradePreReqs:
		return "PreReqs"
	case UpgradePreSync:
		return "PreSync"
	case UpgradeDbSync:
		return "DbSync"
	case UpgradePostSync:
		return "PostSync"
	case UpgradeFinalDbSync:
		return "FinalDbSync"
	case UpgradeCompleted:
		return "Completed"
	}
	return fmt.Sprintf("UpgradePhase(%d)", int(p))
}

// ParseUpgradePhase parses a phase name (case-insensitive).
func ParseUpgradePhase(s string) (UpgradePhase, error) {
	for p := UpgradeNotStarted; p <= UpgradeCompleted; p++ {
		if strings.EqualFold(p.String(), s) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown upgrade phase %q", ErrInvalidConfig, s)
}

// UpgradeState is the data upgrade's state, as a later LCS simulator maps
// it to environment states (Data upgrade in progress, Failed, Deployed).
type UpgradeState struct {
	// Phase is the phase now (UpgradeCompleted when done).
	Phase UpgradePhase
	// Step is the sub-step now (AdditiveDbSync, WaitForBatch, SyncSchema, ...).
	Step string
	// Percent is the share of the upgrade's work done, 0..100.
	Percent float64
	// Triggered: TriggerUpgrade was called.
	Triggered bool
	// Failed: the upgrade stopped with an error; ResumeUpgrade continues.
	Failed bool
	// Stalled: the upgrade was paused with PauseUpgrade (no activity).
	Stalled bool
	// Done: every phase completed.
	Done bool
	// Error is the failure's error text.
	Error string
	// Started is when the upgrade was first triggered; Finished when it
	// completed (zero values otherwise).
	Started, Finished time.Time
}

type upStep struct {
	phase    UpgradePhase
	name     string
	s, e     float64 // offsets in upgrade work seconds
	umbrella bool    // spans other steps (ExecuteScripts)
	sync     string  // DBSyncExecStats.SyncStep, when a database sync
	batch    int     // 1: the PreSync batch job's tasks, 2: the PostSync one
}

type upRun struct {
	t0, u0 float64
	stopAt float64 // +Inf while the run goes on
	failed bool    // stopped by the failure (else paused)
}

type upError struct {
	at                    float64
	class, method, errMsg string
	company               string
	// script is set for an upgrade script's failure, which RELEASEUPDATESCRIPTSERRORLOG records; a
	// database synchronization's failure is not a script's.
	script bool
}

// postSyncError is the PostSync failure the upgrade-failure scenario raises: the documented
// example row of RELEASEUPDATESCRIPTSERRORLOG in migration-upgrade/pre-post-upgrade-scripts.md
// (Scenario 3), verbatim.
var postSyncError = upError{class: "ReleaseUpdateDB10_CaseManagement", method: "updateCaseCategoryTypeMajor", company: "DAT", script: true,
	errMsg: " Cannot edit a record in Case category Security by Role (CaseCategoryRole). Category type: None.\nThe record already exists. Batch task failed: Cannot edit a record in Case category Security by Role (CaseCategoryRole). Category type: None.\nThe record already exists."}

type upgradeState struct {
	steps     []upStep
	total     float64
	failStep  int // leaf step that fails under the scenario, -1: none
	failU     float64
	failed    bool // the failure happened (only once)
	runs      []upRun
	errs      []upError
	batchJobs [3]int // tasks per batch job (index 1, 2)
}

func (u *upgradeState) init(total time.Duration, failAt UpgradePhase) {
	type leaf struct {
		name   string
		weight float64
		sync   string
		batch  int
		open   bool // starts the ExecuteScripts umbrella
		close  bool // ends it
	}
	phases := []struct {
		phase  UpgradePhase
		weight float64
		leaves []leaf
	}{
		{UpgradePreReqs, 0.12, []leaf{
			{name: "DisableDbLogTriggers", weight: .002}, {name: "CreateSqlSequences", weight: .06},
			{name: "UpdateKernelSchema", weight: .002}, {name: "PatchSqlDictionaryPass1", weight: .01},
			{name: "PatchSqlDictionaryPass2", weight: .004}, {name: "PatchUserInfo", weight: .002},
			{name: "PatchSqlSystemVariables", weight: .002}, {name: "ResetAdminUser", weight: .002},
			{name: "ClearSysLastValue", weight: .002}, {name: "EnableSafeMode", weight: .002},
			{name: "AdditiveDbSync", weight: .84, sync: "PreReqs-AdditiveDbSync"},
			{name: "PartialDbSync", weight: .06, sync: "PreReqs-PartialDbSync"}, {name: "DisableSafeMode", weight: .002},
		}},
		{UpgradePreSync, 0.12, []leaf{
			{name: "CleanupDataUpgradeTables", weight: .12}, {name: "EnableSysDeletedObjects", weight: .12},
			{name: "SaveBatchConfiguration", weight: .12},
			// Spelled as the servicing code writes it.
			{name: "DisaleBatchPriorityScheduling", weight: .12},
			{name: "ConfigureBatch", weight: .005, open: true}, {name: "StartAos", weight: .10},
			{name: "ScheduleScripts", weight: .06}, {name: "StartBatch", weight: .01},
			{name: "WaitForBatch", weight: .30, batch: 1}, {name: "StopBatch", weight: .045, close: true},
		}},
		{UpgradeDbSync, 0.30, []leaf{
			{name: "EnableSafeMode", weight: .002}, {name: "SyncSchema", weight: .996, sync: "DbSync-SyncSchema"},
			{name: "DisableSafeMode", weight: .002},
		}},
		{UpgradePostSync, 0.36, []leaf{
			{name: "StartAos", weight: .02, open: true}, {name: "ScheduleScripts", weight: .02},
			{name: "StartBatch", weight: .01}, {name: "WaitForBatch", weight: .85, batch: 2},
			{name: "StopBatch", weight: .01, close: true}, {name: "ImportIsvLicenses", weight: .005},
			{name: "DisableSysDeletedObjects", weight: .03}, {name: "EnableBatchPriorityScheduling", weight: .03},
			{name: "RestoreBatchConfiguration", weight: .025},
		}},
		{UpgradeFinalDbSync, 0.10, []leaf{
			{name: "EnableSafeMode", weight: .002}, {name: "SyncSchema", weight: .99, sync: "FinalDbSync-SyncSchema"},
			{name: "DisableSafeMode", weight: .002}, {name: "EnableDbLogTriggers", weight: .002},
			{name: "DisableDataUpgradeFlag", weight: .004},
		}},
	}
	u.total = total.Seconds()
	u.failStep = -1
	u.batchJobs = [3]int{0, 420, 2380}
	at := 0.0
	for _, ph := range phases {
		var sum float64
		for _, l := range ph.leaves {
			sum += l.weight
		}
		umbrella := -1
		for _, l := range ph.leaves {
			d := max(0.05, u.total*ph.weight*l.weight/sum)
			if l.open {
				umbrella = len(u.steps)
				u.steps = append(u.steps, upStep{phase: ph.phase, name: "ExecuteScripts", s: at, umbrella: true})
			}
			u.steps = append(u.steps, upStep{phase: ph.phase, name: l.name, s: at, e: at + d, sync: l.sync, batch: l.batch})
			if ph.phase == failAt && (l.batch > 0 || l.sync == "DbSync-SyncSchema" || l.sync == "FinalDbSync-SyncSchema" || l.sync == "PreReqs-AdditiveDbSync") {
				u.failStep = len(u.steps) - 1
				u.failU = at + 0.6*d
			}
			at += d
			if l.close && umbrella >= 0 {
				u.steps[umbrella].e = at
			}
		}
	}
	u.total = at
}

// reach is how far run r got by time t.
func (u *upgradeState) reach(r upRun, t float64) float64 {
	return min(u.total, r.u0+max(0, min(t, r.stopAt)-r.t0))
}

func (u *upgradeState) current(t float64) (st UpgradeState, leaf int) {
	leaf = -1
	if len(u.runs) == 0 {
		return UpgradeState{Phase: UpgradeNotStarted}, leaf
	}
	r := u.runs[len(u.runs)-1]
	x := u.reach(r, t)
	st.Triggered = true
	st.Percent = math.Min(100, 100*x/u.total)
	if x >= u.total {
		st.Phase, st.Done, st.Percent = UpgradeCompleted, true, 100
		return st, leaf
	}
	for i, s := range u.steps {
		if !s.umbrella && s.s <= x && x < s.e {
			leaf = i
			st.Phase, st.Step = s.phase, s.name
			break
		}
	}
	if t >= r.stopAt {
		st.Failed, st.Stalled = r.failed, !r.failed
		if r.failed && len(u.errs) > 0 {
			st.Error = u.errs[len(u.errs)-1].errMsg
		}
	}
	return st, leaf
}

// doneAt is when the upgrade completed (+Inf: not yet).
func (u *upgradeState) doneAt(t float64) float64 {
	if len(u.runs) == 0 {
		return math.Inf(1)
	}
	r := u.runs[len(u.runs)-1]
	end := r.t0 + (u.total - r.u0)
	if end <= t && end <= r.stopAt {
		return end
	}
	return math.Inf(1)
}

func (u *upgradeState) startRun(t, from float64) {
	r := upRun{t0: t, u0: from, stopAt: math.Inf(1)}
	if u.failStep >= 0 && !u.failed && from <= u.failU {
		r.stopAt, r.failed = t+(u.failU-from), true
		u.failed = true
		s := u.steps[u.failStep]
		var e upError
		switch {
		case s.batch == 1:
			// No failure example is documented for PreSync: this one is the simulator's.
			e = upError{class: "ReleaseUpdateDB72_Invent", method: "updateInventDimPreSync", company: "DAT", script: true,
				errMsg: "Cannot insert duplicate key row in object 'dbo.INVENTDIM' with unique index 'I_698DIMIDIDX'. The duplicate key value is (DAT, 000123_INV)."}
		case s.batch == 2:
			e = postSyncError
		default:
			e = upError{class: "SysSqlSync", method: s.sync,
				errMsg: "Database synchronization failed: The CREATE UNIQUE INDEX statement terminated because a duplicate key was found for the object name 'dbo.GENERALJOURNALACCOUNTENTRY' and the index name 'I_7458LEDGERDIMENSIONIDX'."}
		}
		e.at = r.stopAt
		u.errs = append(u.errs, e)
	}
	u.runs = append(u.runs, r)
}

// stepTimes finds when step i last started and how it stands at t.
// ok is false when it never started.
func (u *upgradeState) stepTimes(i int, t float64) (start, end float64, status string, ok bool) {
	s := u.steps[i]
	startRun, lastRun := -1, -1
	for k, r := range u.runs {
		if t < r.t0 {
			continue
		}
		x := u.reach(r, t)
		started := r.u0 <= s.s && (s.s < x || s.s == r.u0)
		if started {
			startRun = k
		}
		if r.u0 < s.e && (started || (r.u0 > s.s && x >= r.u0)) {
			lastRun = k
		}
	}
	if startRun < 0 || lastRun < 0 {
		return 0, 0, "", false
	}
	sr := u.runs[startRun]
	start = sr.t0 + (s.s - sr.u0)
	lr := u.runs[lastRun]
	switch x := u.reach(lr, t); {
	case x >= s.e:
		return start, lr.t0 + (s.e - lr.u0), "Completed", true
	case t >= lr.stopAt && lr.failed:
		return start, lr.stopAt, "Failed", true
	}
	return start, math.NaN(), "InProgress", true
}

// batchTasks is the BatchStatus histogram of batch job b (1 PreSync, 2 PostSync) at t, and
// whether the job is executing (BATCHJOB.STATUS 2) then.
func (u *upgradeState) batchTasks(b int, t float64) (hist map[BatchStatus]int, executing, exists bool) {
	wait, sched := -1, -1
	for i, s := range u.steps {
		if s.batch == b {
			wait = i
			sched = i - 2 // ScheduleScripts precedes StartBatch
		}
	}
	if wait < 0 {
		return nil, false, false
	}
	if _, end, st, ok := u.stepTimes(sched, t); !ok || st != "Completed" || end > t {
		return nil, false, false
	}
	n := u.batchJobs[b]
	s := u.steps[wait]
	var done float64
	running, failed := false, false
	for _, r := range u.runs {
		x := u.reach(r, t)
		from := max(s.s, r.u0)
		if r.u0 >= s.e || x <= from {
			continue
		}
		f := min(1, (x-from)/(s.e-from))
		done += f * (float64(n) - done)
		running = x < s.e && t < r.stopAt
		failed = x < s.e && t >= r.stopAt && r.failed
	}
	hist = map[BatchStatus]int{}
	fin := int(math.Floor(done + 1e-9))
	if fin >= n {
		hist[BatchFinished] = n
		return hist, false, true
	}
	left := n - fin
	if fin > 0 {
		hist[BatchFinished] = fin
	}
	if failed {
		hist[BatchError] = 1
		left--
	}
	if running {
		ex := min(8, left)
		hist[BatchExecuting] = ex
		left -= ex
		rd := min(16, left)
		if rd > 0 {
			hist[BatchReady] = rd
		}
		left -= rd
	}
	if left > 0 {
		hist[BatchWaiting] = left
	}
	return hist, running, true
}

// begun reports whether a step matching pick started by t (the tables a step creates exist
// from then on).
func (u *upgradeState) begun(t float64, pick func(upStep) bool) bool {
	for i, s := range u.steps {
		if pick(s) && !s.umbrella {
			if _, _, _, ok := u.stepTimes(i, t); ok {
				return true
			}
		}
	}
	return false
}

// rawSync is a synchronization's DBSyncExecStats.SyncStep: the raw names monitor-upgrade.md's
// "Synchronize Steps" query maps to PreReqs-AdditiveSync, PreReqs-PartialSync, DbSync-SyncSchema
// and FinalDBSync-SyncSchema.
func rawSync(label string) string {
	switch label {
	case "PreReqs-AdditiveDbSync":
		return "LegacyIds, AdditiveTableSync"
	case "PreReqs-PartialDbSync":
		return "PartialList, LegacyIds"
	}
	return "FullAll"
}

// lastActivity is the newest request of the servicing host SERVICING1
// (NaN: never).
func (u *upgradeState) lastActivity(t float64) float64 {
	if len(u.runs) == 0 {
		return math.NaN()
	}
	r := u.runs[len(u.runs)-1]
	end := min(t, r.stopAt, r.t0+(u.total-r.u0))
	return max(u.runs[0].t0, end-2)
}

// TriggerUpgrade runs the toolkit's "Data Synchronise: Trigger
// Transformation": the upgrade starts in the sandbox and runs through the
// phases on the simulated clock.
func (w *World) TriggerUpgrade() error {
	w.lock()
	defer w.mu.Unlock()
	if len(w.upg.runs) > 0 {
		return fmt.Errorf("trigger upgrade: %w: already triggered", ErrUpgradeState)
	}
	w.upg.startRun(w.t, 0)
	w.note(ActTriggerUpgrade)
	return nil
}

// ResumeUpgrade continues a failed upgrade from the start of the failed
// sub-step (the toolkit's Resume), or a stalled one from where it stopped.
func (w *World) ResumeUpgrade() error {
	w.lock()
	defer w.mu.Unlock()
	u := &w.upg
	st, leaf := u.current(w.t)
	switch {
	case st.Failed:
		u.startRun(w.t, u.steps[leaf].s)
	case st.Stalled:
		u.startRun(w.t, u.reach(u.runs[len(u.runs)-1], w.t))
	default:
		return fmt.Errorf("resume upgrade: %w: not failed or stalled", ErrUpgradeState)
	}
	w.note(ActResumeUpgrade)
	return nil
}

// PauseUpgrade stalls a running upgrade: no progress and no activity from
// SERVICING1 until ResumeUpgrade (to exercise the 30-minute stall rule).
func (w *World) PauseUpgrade() error {
	w.lock()
	defer w.mu.Unlock()
	u := &w.upg
	st, _ := u.current(w.t)
	if !st.Triggered || st.Done || st.Failed || st.Stalled {
		return fmt.Errorf("pause upgrade: %w: not running", ErrUpgradeState)
	}
	r := &u.runs[len(u.runs)-1]
	r.stopAt, r.failed = w.t, false
	w.note(ActPauseUpgrade)
	return nil
}

// UpgradeState returns the data upgrade's state.
func (w *World) UpgradeState() UpgradeState {
	w.lock()
	defer w.mu.Unlock()
	u := &w.upg
	st, _ := u.current(w.t)
	if st.Triggered {
		st.Started = w.timeAt(u.runs[0].t0)
	}
	if d := u.doneAt(w.t); !math.IsInf(d, 1) {
		st.Finished = w.timeAt(d)
	}
	return st
}
