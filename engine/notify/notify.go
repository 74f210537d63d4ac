package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// Engine is what the notifier needs of the engine (*engine.Engine has it all).
type Engine interface {
	Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event)
	Snapshot() engine.Snapshot
	Now() time.Time
	Validation() *engine.Validation
	Replication() *engine.ReplicationView
	ExpectedOutage(source string) string
	Notified(milestone, target string) bool
	RecordDelivery(d engine.NotifyDelivery, sent bool) error
}

// Options tune a Notifier.
type Options struct {
	// Clock is the engine's clock: confirmation waits and retry backoff are measured on it (the
	// real clock when nil).
	Clock clock.Clock
	// Client sends the requests (a client with a 15 s timeout that does not follow redirects
	// when nil).
	Client *http.Client
	// LookupEnv reads the targets' url_env (os.LookupEnv when nil).
	LookupEnv func(string) (string, bool)
	// Private words are replaced by "•••" in every message (Runbook.PrivateWords).
	Private []string
	// Location is the zone of the times in messages (time.Local when nil).
	Location *time.Location
	// QueueLimit bounds each target's undelivered messages (default 256); past it the oldest is
	// journaled as failed.
	QueueLimit int
	// MaxBackoff caps the wait between tries (default 10 minutes of the engine's clock).
	MaxBackoff time.Duration
}

// Target is a notification target with its URL resolved.
type Target struct {
	runbook.NotifyTarget
	url string
}

// ResolveTargets reads each target's URL from its environment variable and checks it. The error
// names the variable, never the URL.
func ResolveTargets(n *runbook.Notify, lookupEnv func(string) (string, bool)) ([]Target, error) {
	if n == nil {
		return nil, nil
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var out []Target
	var errs []error
	for _, t := range n.Targets {
		v, ok := lookupEnv(t.URLEnv)
		v = strings.TrimSpace(v)
		switch {
		case !ok || v == "":
			errs = append(errs, fmt.Errorf("notify target %s: environment variable %s is not set", t.Name, t.URLEnv))
			continue
		default:
			if err := runbook.CheckWebhookURL(v); err != nil {
				errs = append(errs, fmt.Errorf("notify target %s: the URL in %s %w", t.Name, t.URLEnv, err))
				continue
			}
		}
		out = append(out, Target{NotifyTarget: t, url: v})
	}
	return out, errors.Join(errs...)
}

// DefaultClient sends notifications: a 15-second timeout per try and no redirects (a webhook
// that redirects is misconfigured, and following would turn the POST into a GET).
func DefaultClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Notifier watches an engine and delivers its milestones to the targets.
type Notifier struct {
	e       Engine
	n       *runbook.Notify
	targets []*worker
	opts    Options
	redact  *strings.Replacer

	mu      sync.Mutex
	run     GenericRun      // the run, for generic documents
	queued  map[string]bool // notifyKey of every milestone queued or delivered in this process
	pending int
	changed chan struct{}
	started bool
}

// New prepares a notifier for the runbook's notify section over an engine. It resolves every
// target's URL; an unset or bad variable is an error (cutover check reports it first).
func New(e Engine, n *runbook.Notify, opts Options) (*Notifier, error) {
	if n == nil || len(n.Targets) == 0 {
		return nil, errors.New("notify: the runbook declares no notification targets")
	}
	targets, err := ResolveTargets(n, opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Client == nil {
		opts.Client = DefaultClient()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = 256
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Minute
	}
	nt := &Notifier{e: e, n: n, opts: opts, redact: Redactor(opts.Private), queued: map[string]bool{}, changed: make(chan struct{}, 1)}
	for _, t := range targets {
		nt.targets = append(nt.targets, &worker{nt: nt, t: t, wake: make(chan struct{}, 1)})
	}
	return nt, nil
}

// Redactor replaces each private word by "•••" (the longest first).
func Redactor(words []string) *strings.Replacer {
	sorted := append([]string(nil), words...)
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	var pairs []string
	for _, w := range sorted {
		if w != "" {
			pairs = append(pairs, w, "•••")
		}
	}
	return strings.NewReplacer(pairs...)
}

func notifyKey(milestone, target string) string { return milestone + "\x00" + target }

// Run watches the engine until ctx ends or the engine stops, and delivers each milestone to the
// targets that want it. Deliveries go on in the background; Flush waits for them.
func (n *Notifier) Run(ctx context.Context) {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return
	}
	n.started = true
	n.mu.Unlock()
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	defer func() { stopWorkers(); wg.Wait() }()
	for _, w := range n.targets {
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(wctx) }()
	}
	for ctx.Err() == nil {
		if !n.watch(ctx) {
			return
		}
	}
}

// watch follows one subscription; it returns true when it must subscribe again (a Resync).
func (n *Notifier) watch(ctx context.Context) bool {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	snap, events := n.e.Subscribe(sctx)
	d := newDetector(snap, n.opts.Location)
	n.mu.Lock()
	n.run = GenericRun{Name: n.redact.Replace(snap.Run.Name), Environment: n.redact.Replace(snap.Run.Environment), Rehearsal: snap.Run.Rehearsal}
	n.mu.Unlock()
	now := n.e.Now()
	// A source already failing when the watch begins (the notifier started late, or subscribed
	// again) is announced as if its change were seen: the subscription only tells changes.
	n.sources(d, n.e.Replication())
	if v := n.e.Validation(); v != nil {
		if st, ok := snap.Step(v.Step); ok {
			if m, ok := d.validation(v, st, v.At, false); ok {
				n.offer(d, m, now)
			}
		}
	}
	for {
		next := n.scan(d, n.e.Now())
		var due <-chan time.Time
		var timer clock.Timer
		if !next.IsZero() {
			timer = n.opts.Clock.NewTimer(next.Sub(n.opts.Clock.Now()))
			due = timer.C()
		}
		select {
		case ev, ok := <-events:
			if timer != nil {
				timer.Stop()
			}
			if !ok {
				return false
			}
			if _, resync := ev.(engine.Resync); resync {
				return true
			}
			n.event(d, ev)
		case <-due:
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return false
		}
	}
}

// event folds one engine event and offers what it makes happen.
func (n *Notifier) event(d *detector, ev engine.Event) {
	d.apply(ev)
	now := n.e.Now()
	switch ev := ev.(type) {
	case engine.StepChanged:
		if ev.Record == engine.RecValidation || ev.Record == engine.RecRecount {
			if m, ok := d.validation(n.e.Validation(), ev.Step, ev.At, ev.Record == engine.RecRecount); ok {
				n.offer(d, m, now)
			}
		}
	case engine.SourceHealthChanged:
		if m, ok := d.health(ev.Health, ev.ExpectedBy); ok {
			n.offer(d, m, now)
		}
	case engine.ReplicationUpdated:
		// Each picture carries the sources' health: a change told before this watch subscribed
		// (the picture is published after it) is announced from here; the same outage has the
		// same milestone key, so nothing goes out twice.
		n.sources(d, ev.View)
	}
}

// sources offers the milestones of the sources' health in a picture: a loss not announced yet,
// or a return after an announced loss.
func (n *Notifier) sources(d *detector, v *engine.ReplicationView) {
	if v == nil {
		return
	}
	for _, h := range v.Health {
		if h.State != engine.HealthFailing && !d.lost[h.Name] {
			continue
		}
		expected := ""
		if h.State == engine.HealthFailing {
			expected = n.e.ExpectedOutage(h.Name)
		}
		if m, ok := d.health(h, expected); ok {
			n.offer(d, m, n.e.Now())
		}
	}
}

// scan offers every milestone the snapshot shows and every confirmation that has waited long
// enough; it returns when the next wait will be long enough (zero: none).
func (n *Notifier) scan(d *detector, now time.Time) time.Time {
	for _, m := range d.state(now) {
		n.offer(d, m, now)
	}
	var next time.Time
	waits := map[time.Duration]bool{}
	for _, w := range n.targets {
		waits[w.t.ConfirmationWait] = true
	}
	for wait := range waits {
		ms, due := d.waiting(now, wait)
		for _, m := range ms {
			n.offerTo(d, m, now, func(t Target) bool { return t.ConfirmationWait == wait })
		}
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

func (n *Notifier) offer(d *detector, m Milestone, now time.Time) {
	n.offerTo(d, m, now, nil)
}

// offerTo queues a milestone for every target that wants it and has not had it.
func (n *Notifier) offerTo(d *detector, m Milestone, now time.Time, also func(Target) bool) {
	var facts []Fact
	for _, w := range n.targets {
		if !w.t.Wants(m.Event) || (also != nil && !also(w.t)) {
			continue
		}
		key := notifyKey(m.Key, w.t.Name)
		// Checked and marked at once: the watcher and a flush's catch-up may offer the same
		// milestone together.
		n.mu.Lock()
		dup := n.queued[key]
		n.queued[key] = true
		n.mu.Unlock()
		if dup || n.e.Notified(m.Key, w.t.Name) {
			continue
		}
		if facts == nil {
			facts = append(append([]Fact(nil), m.Facts...), d.runFacts(now)...)
			m.Facts = facts
			m = n.redacted(m)
		}
		n.mu.Lock()
		n.pending++
		n.mu.Unlock()
		w.push(m)
	}
}

// redacted hides the private words in everything a message says.
func (n *Notifier) redacted(m Milestone) Milestone {
	m.Title, m.Text, m.Step = n.redact.Replace(m.Title), n.redact.Replace(m.Text), n.redact.Replace(m.Step)
	facts := make([]Fact, len(m.Facts))
	for i, f := range m.Facts {
		facts[i] = Fact{n.redact.Replace(f.Name), n.redact.Replace(f.Value)}
	}
	m.Facts = facts
	return m
}

// done counts a delivery finished (sent, failed or abandoned at shutdown).
func (n *Notifier) done() {
	n.mu.Lock()
	n.pending--
	n.mu.Unlock()
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// catchUp offers what the engine's state shows now: the milestones of a run's last moments (the
// point of no return passed, the run completed) whose events the watcher may not have folded yet
// when the run ends and Flush is called.
func (n *Notifier) catchUp() {
	d := newDetector(n.e.Snapshot(), n.opts.Location)
	now := n.e.Now()
	for _, m := range d.state(now) {
		n.offer(d, m, now)
	}
}

// Pending is how many deliveries are queued or under way.
func (n *Notifier) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pending
}

// Flush waits until every queued delivery was sent or given up (true), or ctx ends (false).
// Run must still be running: its workers deliver.
func (n *Notifier) Flush(ctx context.Context) bool {
	n.catchUp()
	for {
		if n.Pending() <= 0 {
			return true
		}
		select {
		case <-n.changed:
		case <-ctx.Done():
			return n.Pending() <= 0
		}
	}
}

// worker delivers one target's messages in order.
type worker struct {
	nt   *Notifier
	t    Target
	mu   sync.Mutex
	q    []Milestone
	wake chan struct{}
}

func (w *worker) push(m Milestone) {
	w.mu.Lock()
	var dropped *Milestone
	if len(w.q) >= w.nt.opts.QueueLimit {
		d := w.q[0]
		dropped = &d
		w.q = w.q[1:]
	}
	w.q = append(w.q, m)
	w.mu.Unlock()
	if dropped != nil {
		w.nt.record(w.t, *dropped, 0, errors.New("dropped unsent: too many notifications queued for this target"))
		w.nt.done()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) pop() (Milestone, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.q) == 0 {
		return Milestone{}, false
	}
	m := w.q[0]
	w.q = w.q[1:]
	return m, true
}

func (w *worker) loop(ctx context.Context) {
	for {
		m, ok := w.pop()
		if !ok {
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				w.abandon()
				return
			}
		}
		tries, err := w.nt.deliver(ctx, w.t, m)
		if ctx.Err() != nil {
			// Stopping: not journaled, so the next start sends it again.
			w.nt.done()
			w.abandon()
			return
		}
		w.nt.record(w.t, m, tries, err)
		w.nt.done()
	}
}

// abandon drops what is left at shutdown (unjournaled: sent again after a restart).
func (w *worker) abandon() {
	w.mu.Lock()
	n := len(w.q)
	w.q = nil
	w.mu.Unlock()
	for range n {
		w.nt.done()
	}
}

// record journals a delivery's outcome.
func (n *Notifier) record(t Target, m Milestone, tries int, err error) {
	d := engine.NotifyDelivery{Milestone: m.Key, Event: string(m.Event), Target: t.Name, Format: string(t.Type), Title: m.Title, Step: m.Step, Tries: tries}
	if err != nil {
		d.Error = n.redact.Replace(err.Error())
	}
	// The engine may have stopped meanwhile: then the outcome is lost and the milestone is sent
	// again after a restart.
	_ = n.e.RecordDelivery(d, err == nil)
}

// deliver sends one message with retries: a network error, 408, 429 and 5xx are tried again
// after the backoff (or the Retry-After the receiver asks for, when longer); any other answer
// outside 2xx fails at once.
func (n *Notifier) deliver(ctx context.Context, t Target, m Milestone) (int, error) {
	n.mu.Lock()
	run := n.run
	n.mu.Unlock()
	body, err := payload(t.Type, m, run)
	if err != nil {
		return 0, err
	}
	tries := max(n.n.Tries, 1)
	wait := n.n.Backoff
	if wait <= 0 {
		wait = 30 * time.Second
	}
	var last error
	for try := 1; try <= tries; try++ {
		retry, after, err := n.post(ctx, t, body)
		if err == nil {
			return try, nil
		}
		last = err
		if !retry || try == tries || ctx.Err() != nil {
			return try, err
		}
		if err := clock.Sleep(ctx, n.opts.Clock, max(wait, after)); err != nil {
			return try, last
		}
		wait = min(wait*2, n.opts.MaxBackoff)
	}
	return tries, last
}

// post makes one try. retry says whether another may succeed; after is the receiver's
// Retry-After.
func (n *Notifier) post(ctx context.Context, t Target, body []byte) (retry bool, after time.Duration, err error) {
	return Post(ctx, n.opts.Client, t, body)
}

// Post sends one notification body to a target once and judges the answer. The error never
// contains the target's URL (it is a credential).
func Post(ctx context.Context, c *http.Client, t Target, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("the webhook URL cannot be used")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cutover-notify")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return true, 0, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	answer := strings.TrimSpace(string(text))
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
			after = time.Duration(secs) * time.Second
		}
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		// Teams' connectors answered throttling with 200 and this text in the body
		// (connectors-using.md, "Rate limiting for connectors"): try again.
		if t.Type == runbook.FormatTeams && strings.Contains(answer, "HTTP error 429") {
			return true, after, errors.New("throttled by Teams (HTTP error 429 in the answer)")
		}
		return false, 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return true, after, fmt.Errorf("HTTP %d%s", code, detail(answer))
	}
	return false, 0, fmt.Errorf("refused: HTTP %d%s", code, detail(answer))
}

func detail(answer string) string {
	if answer == "" {
		return ""
	}
	return ": " + oneLine(answer, 200)
}

// TestResult is one target's answer to `cutover notify test`.
type TestResult struct {
	Target string
	Format runbook.NotifyFormat
	Err    error
}

// SendTest sends a test message to each target once (no retries, nothing journaled) and returns
// how each answered: `cutover notify test`.
func SendTest(ctx context.Context, rb *runbook.Runbook, opts Options) ([]TestResult, error) {
	targets, err := ResolveTargets(rb.Notify, opts.LookupEnv)
	if len(targets) == 0 && err == nil {
		return nil, errors.New("the runbook declares no notification targets (add a notify: section)")
	}
	if opts.Client == nil {
		opts.Client = DefaultClient()
	}
	now := time.Now()
	if opts.Clock != nil {
		now = opts.Clock.Now()
	}
	redact := Redactor(opts.Private)
	run := GenericRun{Name: rb.Name, Environment: rb.Environment, Rehearsal: rb.Rehearsal}
	var out []TestResult
	for _, t := range targets {
		m := Milestone{Key: "test/" + strconv.FormatInt(now.UnixMilli(), 10), Event: "test", At: now, Severity: SeverityInfo, Test: true,
			Title: "Test message from cutover: " + rb.Name,
			Text:  fmt.Sprintf("This is a test of the notification target %q (%s). On the night, the milestones of the run arrive here.", t.Name, t.Type),
			Facts: []Fact{{"Run", rb.Name}, {"Environment", rb.Environment}, {"Target", t.Name}}}
		m.Title, m.Text = redact.Replace(m.Title), redact.Replace(m.Text)
		for i := range m.Facts {
			m.Facts[i].Value = redact.Replace(m.Facts[i].Value)
		}
		body, perr := payload(t.Type, m, run)
		if perr == nil {
			_, _, perr = Post(ctx, opts.Client, t, body)
		}
		if perr != nil {
			perr = errors.New(redact.Replace(perr.Error()))
		}
		out = append(out, TestResult{Target: t.Name, Format: t.Type, Err: perr})
	}
	return out, err
}
