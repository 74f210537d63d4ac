package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// Kind is a kind of step: manual, gate, command, wait, and the cutover-specific kinds. A kind
// decodes and checks a step's `with:` block when the runbook is loaded, and produces the Action
// that runs the step.
type Kind interface {
	// Name is the word used in `kind:`.
	Name() string
	// Mode says how steps of this kind complete.
	Mode() Mode
	// Decode checks a step's settings and returns its action. Problems go through d, positioned.
	Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action
}

// Action is a decoded step: it can say exactly what it will do.
type Action interface {
	// Describe says what the step will do, for logs and the confirmation dialog.
	Describe() string
}

// VarDescriber is an Action whose description depends on the run's placeholders ({state_dir},
// {step}…); front ends see the expanded text.
type VarDescriber interface {
	DescribeWith(vars map[string]string) string
}

// describe is what the step will do, with placeholders expanded where the action supports it.
func (e *Engine) describe(def *runbook.Step, attempt int) string {
	a := def.Spec.(Action)
	if vd, ok := a.(VarDescriber); ok {
		vars := e.templateVars(def.ID, attempt)
		vars["self"] = "cutover"
		return vd.DescribeWith(vars)
	}
	return a.Describe()
}

// stopNoter is an Action whose work goes on outside cutover when the step is stopped (an LCS
// operation, a data upgrade running in the environment): stopEffect says what stopping does.
type stopNoter interface{ stopEffect() string }

// defaultStopEffect is what stopping a running step does when its action says nothing else.
const defaultStopEffect = "cutover stops it (a command it runs is killed, a query it sent is cancelled) and the step fails."

// stopEffect is what stopping the step does (StepView.StopEffect).
func stopEffect(spec any) string {
	if s, ok := spec.(stopNoter); ok {
		return s.stopEffect()
	}
	return defaultStopEffect
}

// Runner is an Action that does work (ModeAuto kinds). Run returns nil on success; the error
// otherwise says what went wrong. Wrap it with Permanent when retrying cannot help.
type Runner interface {
	Action
	Run(ctx context.Context, run *Run) error
}

// Resumer is a Runner that can pick up an attempt a crash or stop interrupted, from the references
// it recorded with Run.Record (a deadline, an operation id). Steps whose action is not a Resumer are
// re-run when idempotent and otherwise marked interrupted.
type Resumer interface {
	Runner
	Resume(ctx context.Context, run *Run) error
}

// Previewer is an Action that looks at the world before its confirmation is requested, so the
// operators confirm what is true now (for example the users still connected to AX before the AOS
// are stopped). The preview is shown with the request and journaled with it: its text in the
// request's text, its lists in full beside it (ConfirmList).
type Previewer interface {
	Preview(ctx context.Context, run *Run) (Preview, error)
}

// Rerunnable is an Action that is always safe to run again after an interruption (a wait, a
// read-only check), whatever the step's idempotent setting says.
type Rerunnable interface {
	Rerunnable() bool
}

// Cleaner is a Runner that leaves something behind when interrupted (a process group); Cleanup is
// called with the attempt's recorded references before the step is re-run or marked interrupted,
// and returns a note for the log ("" when there was nothing to clean) and whether everything the
// attempt left is gone: when it is not, the step is not re-run but waits for an operator.
type Cleaner interface {
	Runner
	Cleanup(ref map[string]string) (note string, clean bool)
}

// RollbackPointVerifier is implemented by a step kind — or by the action it decodes, when the
// answer depends on the step's with: — whose success proves the AX 2012 rollback point: the step
// itself found and checked the backup the documented rollback restores ("restore the database by
// using the backup that was made when AX 2012 was turned off": upgrade-cutover-testing.md § Roll
// back to AX 2012). backup.verify (kind_backup.go) does, reading msdb.dbo.backupset for a full
// backup with checksums, not damaged, started after the AOS stopped. The rollback view calls the
// rollback point verified only when its step succeeded by itself with such a kind; marked done by
// hand, or made by a kind that does not check (manual, wait, command), it is made, not verified.
type RollbackPointVerifier interface {
	VerifiesRollbackPoint() bool
}

// rollbackVerifierKind is the kind that checks the rollback backup. It counts as a
// RollbackPointVerifier by its name too, so the rule holds whichever of the kind and this
// interface is built first; a kind or action that implements the interface answers for itself.
const rollbackVerifierKind = "backup.verify"

// verifiesRollbackPoint reports whether a step of kind k whose decoded settings are spec checks
// the backup it stands for (RollbackPointVerifier).
func verifiesRollbackPoint(k Kind, spec any) bool {
	if v, ok := spec.(RollbackPointVerifier); ok {
		return v.VerifiesRollbackPoint()
	}
	if v, ok := k.(RollbackPointVerifier); ok {
		return v.VerifiesRollbackPoint()
	}
	return k != nil && k.Name() == rollbackVerifierKind
}

// StepVerifiesRollbackPoint reports whether the runbook step checks the backup it stands for: its
// kind (looked up in kinds; every kind this build knows when nil) or its decoded action is a
// RollbackPointVerifier. `cutover check` and the report use it; the engine shows it on each step
// (StepView.VerifiesBackup).
func StepVerifiesRollbackPoint(s *runbook.Step, kinds *Registry) bool {
	if s == nil {
		return false
	}
	if kinds == nil {
		kinds = NewRegistry(AllKinds()...)
	}
	k, ok := kinds.Kind(s.Kind)
	if !ok {
		return s.Kind == rollbackVerifierKind
	}
	return verifiesRollbackPoint(k, s.Spec)
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the step fails at once instead of using its retries.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// PermanentError is implemented by errors a port returns that know whether waiting can fix them
// (an LCS refusal, a sign-in refused): IsPermanent asks them, so no step has to wrap them itself.
type PermanentError interface {
	error
	Permanent() bool
}

// IsPermanent reports whether waiting cannot fix err: it was wrapped by Permanent, or it says so
// itself (PermanentError).
func IsPermanent(err error) bool {
	var p permanent
	if errors.As(err, &p) {
		return true
	}
	var pe PermanentError
	return errors.As(err, &pe) && pe.Permanent()
}

// retryAt marks an error whose retry should wait until a known time.
type retryAt struct {
	err error
	at  time.Time
}

func (r retryAt) Error() string { return r.err.Error() }
func (r retryAt) Unwrap() error { return r.err }

// RetryAt wraps err so that, when the step has retries left, the next attempt waits until at
// (a quota that frees up, a window that opens) instead of the usual backoff.
func RetryAt(err error, at time.Time) error {
	if err == nil {
		return nil
	}
	return retryAt{err, at}
}

// Registry is the set of known step kinds. It satisfies runbook.Kinds.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// NewRegistry returns a registry holding the given kinds.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		r.Register(k)
	}
	return r
}

// AllKinds returns every kind this build knows: the general ones (manual, gate, command, wait)
// and the cutover ones. NewRegistry(AllKinds()...) is the registry a runbook is loaded with.
func AllKinds() []Kind {
	return append([]Kind{ManualKind{}, GateKind{}, CommandKind{}, WaitKind{}}, AOSStopKind{}, ReplicationHealthyKind{}, ReplicationDrainKind{},
		LCSEnvStateKind{}, LCSQuotaKind{}, LCSRefreshKind{}, RefreshCheckKind{}, ValidateCountsKind{}, ToolkitKind{}, UpgradeWatchKind{},
		PreflightKind{}, SmokeHTTPKind{}, SmokeSQLKind{}, BackupVerifyKind{}, SQLRestoreKind{}, AOSStartKind{})
}

// Register adds a kind, replacing one of the same name.
func (r *Registry) Register(k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[k.Name()] = k
}

// Kind returns the kind with the given name.
func (r *Registry) Kind(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Lookup implements runbook.Kinds.
func (r *Registry) Lookup(name string) (runbook.KindDecoder, bool) {
	k, ok := r.Kind(name)
	if !ok {
		return nil, false
	}
	return kindDecoder{k}, true
}

// Names lists the kinds alphabetically.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// IsGate reports whether steps of the named kind are gates.
func (r *Registry) IsGate(name string) bool {
	k, ok := r.Kind(name)
	return ok && k.Mode() == ModeGate
}

type kindDecoder struct{ k Kind }

func (kd kindDecoder) DecodeWith(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) any {
	a := kd.k.Decode(d, s, with)
	if a == nil {
		return nil
	}
	if kd.k.Mode() == ModeAuto {
		if _, ok := a.(Runner); !ok {
			d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind %s cannot run (internal error: its action is not a Runner)", kd.k.Name())
			return nil
		}
	}
	return a
}

// Run is what a running step sees of the engine: its step, its attempt, logging, progress, the
// clock, and the journal for external references.
type Run struct {
	Step    *runbook.Step
	Attempt int
	// Started is when this attempt started, as journaled (the same after a restart).
	Started time.Time
	e       *Engine
	ref     map[string]string
	message string
	// earlier and earlierOf are what the newest earlier attempt that recorded anything recorded.
	earlier   map[string]string
	earlierOf int
}

// SetMessage sets the one-line result shown when the step succeeds ("3 AOS stopped").
func (r *Run) SetMessage(msg string) { r.message = msg }

// Clock is the engine's clock.
func (r *Run) Clock() clock.Clock { return r.e.clock }

// Ports are the engine's connections to the world.
func (r *Run) Ports() Ports { return r.e.opts.Ports }

// Replication is the newest picture the replication monitor took (nil without a monitor): never
// the one restored from the state directory, a cache shown until the first poll answers.
func (r *Run) Replication() *ReplicationView { return r.e.measuredReplication() }

// StateDir is the state directory (for result files).
func (r *Run) StateDir() string { return r.e.stateDir }

// Logf writes an info line for the step.
func (r *Run) Logf(format string, args ...any) {
	r.e.logs.add(LevelInfo, r.Step.ID, "", fmt.Sprintf(format, args...))
}

// Warnf writes a warning line for the step.
func (r *Run) Warnf(format string, args ...any) {
	r.e.logs.add(LevelWarn, r.Step.ID, "", fmt.Sprintf(format, args...))
}

// Output writes one line the step's process printed on stream ("stdout" or "stderr").
func (r *Run) Output(stream, line string) {
	r.e.logs.add(LevelInfo, r.Step.ID, stream, line)
	r.e.noteOutput(r.Step.ID, r.Attempt, line)
}

// Progress reports how far the step has got (delivered to front ends, newest wins).
func (r *Run) Progress(p Progress) {
	r.e.bus.Publish(StepProgress{Step: r.Step.ID, At: r.e.clock.Now(), Progress: p})
}

// Record journals references to something started outside the engine (a process, an LCS
// operation, a deadline) before the step waits for it. It returns once the record is durable.
func (r *Run) Record(ref map[string]string) error {
	if err := r.e.recordExternal(r.Step.ID, r.Attempt, ref); err != nil {
		return err
	}
	if r.ref == nil {
		r.ref = map[string]string{}
	}
	for k, v := range ref {
		r.ref[k] = v
	}
	return nil
}

// Ref returns the references recorded for this attempt (including those replayed after a restart).
func (r *Run) Ref() map[string]string {
	out := maps.Clone(r.ref)
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// Earlier returns the references the newest earlier attempt of this step that recorded any
// recorded, and that attempt's number (0 and nil when none did): a retry can follow an operation
// an earlier attempt started instead of starting a second one.
func (r *Run) Earlier() (attempt int, ref map[string]string) {
	if r.earlierOf == 0 {
		return 0, nil
	}
	return r.earlierOf, maps.Clone(r.earlier)
}

// Vars are the placeholders available to argv templates: {step}, {attempt}, {state_dir},
// {runbook_dir} and {self} (this cutover executable).
func (r *Run) Vars() map[string]string {
	return r.e.templateVars(r.Step.ID, r.Attempt)
}

// TemplateVarNames lists the placeholders Run.Vars provides, for load-time template checks.
func TemplateVarNames() []string {
	return []string{"step", "attempt", "state_dir", "runbook_dir", "self"}
}

func (e *Engine) templateVars(step string, attempt int) map[string]string {
	return map[string]string{
		"step":        step,
		"attempt":     strconv.Itoa(attempt),
		"state_dir":   e.stateDir,
		"runbook_dir": e.rb.Dir,
		"self":        e.self,
	}
}
