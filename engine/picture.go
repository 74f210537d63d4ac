// The cockpit's picture across restarts: the replication monitor's newest picture is kept in the
// state directory, so that a new engine on the same directory (after a quit, a crash, a dropped
// SSH session's cockpit reopened) shows it at once — every figure with the time it was read, its
// trends and rates — until its own first poll answers. The log ring comes back from the tail of
// the log file (logtail.go) and the newest validation from the files its journal record names
// (recount.go), so the picture file holds only what has no other home.
//
// The picture is a cache, never evidence: the journal stays the record, a missing or unreadable
// picture starts the cockpit blank with a warning, and the step kinds never judge a restored
// picture (monitor.measured).

package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// PictureFileName is the replication picture's file inside the state directory.
const PictureFileName = "picture.json"

// pictureVersion is the picture file's format; another version is not read (a cache: the next
// poll makes a new one).
const pictureVersion = 1

// PictureEvery is how often (engine time) the picture is written while the monitor polls; it is
// also written when the engine stops.
const PictureEvery = 30 * time.Second

// pictureMinGap is the least real time between two writes: a demo's fast clock must not turn the
// cadence into a stream of multi-megabyte writes.
const pictureMinGap = 5 * time.Second

// maxPictureBytes bounds what is read back (10,000 tables take about 4 MB).
const maxPictureBytes = 256 << 20

// pictureFile is the file's content.
type pictureFile struct {
	Version int `json:"version"`
	// Saved is when it was written (engine time).
	Saved       time.Time        `json:"saved"`
	Replication *ReplicationView `json:"replication"`
}

// encodePicture writes a picture as the file holds it.
func encodePicture(w io.Writer, v *ReplicationView, saved time.Time) error {
	return json.NewEncoder(w).Encode(pictureFile{Version: pictureVersion, Saved: saved, Replication: v})
}

// decodePicture reads a picture file and checks it is one a monitor could have taken; anything
// else is an error (the caller starts blank). monitor.restore puts the tables in order.
func decodePicture(b []byte) (*ReplicationView, error) {
	var f pictureFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	if f.Version != pictureVersion {
		return nil, fmt.Errorf("format %d, this version of cutover reads %d", f.Version, pictureVersion)
	}
	v := f.Replication
	switch {
	case v == nil:
		return nil, errors.New("it holds no replication picture")
	case v.At.IsZero():
		return nil, errors.New("the picture has no time")
	case v.Cycles <= 0:
		return nil, errors.New("the picture was never polled")
	}
	if err := checkFigures(v); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(v.Tables))
	for i := range v.Tables {
		t := &v.Tables[i]
		key := TableKey(t.Table)
		switch {
		case key == "":
			return nil, fmt.Errorf("table %d has no name", i+1)
		case seen[key]:
			return nil, fmt.Errorf("table %s is listed twice", t.Table)
		case t.Pending < 0 || t.Source < 0 || t.Target < 0:
			return nil, fmt.Errorf("table %s has a negative count", t.Table)
		case badRate(t.Rate) || t.ETA < 0:
			return nil, fmt.Errorf("table %s has an impossible rate or ETA", t.Table)
		}
		seen[key] = true
	}
	return v, nil
}

// checkFigures refuses the picture-wide figures no poll produces.
func checkFigures(v *ReplicationView) error {
	switch {
	case v.TotalPending < 0:
		return errors.New("negative backlog")
	case badRate(v.DrainRate) || v.ETA < 0 || v.AgentsCacheAge < 0:
		return errors.New("impossible drain rate, ETA or agent cache age")
	}
	for _, p := range v.Trend {
		if p.Pending < 0 || p.At.IsZero() {
			return errors.New("impossible trend point")
		}
	}
	for _, h := range v.Health {
		switch h.Name {
		case SourceAX, SourceDistributor, SourceTarget:
		default:
			return fmt.Errorf("unknown source %q", h.Name)
		}
	}
	return nil
}

func badRate(r float64) bool { return math.IsNaN(r) || math.IsInf(r, 0) }

// loadPicture reads the picture file in dir: nil and no error when there is none.
func loadPicture(dir string) (*ReplicationView, error) {
	f, err := os.Open(filepath.Join(dir, PictureFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPictureBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPictureBytes {
		return nil, fmt.Errorf("larger than %d MB", maxPictureBytes>>20)
	}
	return decodePicture(b)
}

// restore seeds a monitor that has not polled yet with a restored picture: each table's figures
// with their read times, the trends, the smoothed rates (the next backlog read measures the drain
// across the gap), the agents. The sources' health is not carried over — no one knows it until
// they are read — beyond their last good read and error. The picture is published until the first
// poll; it returns nil when the monitor polled already.
func (m *monitor) restore(v *ReplicationView) *ReplicationView {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cycles > 0 || m.retired {
		return nil
	}
	m.own(len(v.Tables))
	for _, t := range v.Tables {
		i := m.table(t.Table)
		lag := t
		lag.Ignored = m.ignore[TableKey(t.Table)] // the runbook's ignore list decides
		lag.Trend = nil
		m.lags[i] = lag
		ts := &m.states[i]
		ts.trend = lastN(t.Trend, m.cfg.TableTrendPoints)
		// The restored reading is the one the next backlog read measures the drain from.
		ts.havePrev = !t.PendingAt.IsZero()
		ts.sawBacklog = ts.havePrev && t.Rate != 0
	}
	m.trend = lastN(v.Trend, m.cfg.TrendPoints)
	m.pendingAt = v.PendingAt
	if !v.PendingAt.IsZero() {
		m.prevTotal, m.prevTotalAt = v.TotalPending, v.PendingAt
	}
	m.rate, m.haveRate = v.DrainRate, v.DrainRate != 0
	m.agents, m.agentsAt, m.agentsCache = append([]Agent(nil), v.Agents...), v.AgentsAt, v.AgentsCacheAge
	for _, h := range v.Health {
		if mh := m.health[h.Name]; mh != nil {
			mh.LastOK, mh.LastError = h.LastOK, h.LastError
		}
	}
	view := m.buildView(v.At)
	view.Restored = true
	m.view = view
	return view
}

// firstWait is how long the first poll waits: a restored picture younger than one poll interval
// is as fresh as polling keeps the picture, so the first poll comes when the previous engine's
// next would have (a quick restart, or a crash loop, adds no poll to the servers' load; that
// first poll reads the backlog too); an older one, or none, is polled at once. The refresh key
// polls at once.
func (m *monitor) firstWait(now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.view.Restored {
		return 0
	}
	return min(m.view.At.Add(m.cfg.Interval).Sub(now), m.cfg.Interval)
}

// lastN copies the newest n values of s.
func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return append([]T(nil), s...)
}

// pictureSaver writes the monitor's pictures to the state directory at a bounded cadence: at most
// once per PictureEvery of engine time and pictureMinGap of real time, and whenever forced (the
// engine stopping). A picture no poll took (a restored one, or none yet) is never written.
type pictureSaver struct {
	path string
	// realNow is the wall clock the minimum gap is measured on (time.Now; a test's own).
	realNow func() time.Time
	warn    func(msg string)

	mu       sync.Mutex
	savedAt  time.Time // engine time of the last picture written
	savedRun time.Time // real time of the last write
	failed   bool
}

// save writes v unless it is too soon (force writes anyway). A failure is logged once, until a
// write succeeds again: the picture is a cache, the run goes on.
func (s *pictureSaver) save(v *ReplicationView, now time.Time, force bool) {
	if v == nil || v.Restored || v.Cycles == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	real := s.realNow()
	if !force && !s.savedAt.IsZero() && (now.Sub(s.savedAt) < PictureEvery || real.Sub(s.savedRun) < pictureMinGap) {
		return
	}
	err := journal.WriteAtomic(s.path, 0o600, func(w io.Writer) error { return encodePicture(w, v, now) })
	if err != nil {
		if !s.failed {
			s.warn(fmt.Sprintf("could not keep the replication picture for a restart (%v); the run is not affected", err))
		}
		s.failed = true
		return
	}
	s.failed = false
	s.savedAt, s.savedRun = now, real
}

// restoredNote says what a restored picture shows, for the log.
func restoredNote(v *ReplicationView, now time.Time) string {
	what := fmt.Sprintf("%d tables", len(v.Tables))
	if !v.Retired.IsZero() {
		what += ", replication removed"
	}
	return fmt.Sprintf("showing the replication picture the previous engine read %s ago (%s, from %s) until the first poll answers",
		runbook.FormatDuration(max(now.Sub(v.At), 0)), what, PictureFileName)
}

// restored is what the previous engine left for the cockpit, read back as the engine opens.
type restored struct {
	logs       []LogLine
	logsErr    error
	picture    *ReplicationView
	pictureErr error
}

// readBack reads the log file's tail and the replication picture (only with a monitor to show
// it). Neither failing stops the engine: it starts blank and says why.
func (e *Engine) readBack() restored {
	var r restored
	isStep := func(id string) bool { _, ok := e.rb.Step(id); return ok }
	r.logs, r.logsErr = readLogTail(filepath.Join(e.stateDir, LogFileName), len(e.logs.ring), isStep)
	e.logs.restore(r.logs)
	if e.monitor != nil {
		r.picture, r.pictureErr = loadPicture(e.stateDir)
	}
	return r
}

// restoreLocked publishes the restored picture and logs what came back and what could not.
func (e *Engine) restoreLocked(r restored) {
	if r.logsErr != nil {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("could not read the previous engine's log lines back from %s (%v): the log starts here", LogFileName, r.logsErr))
	}
	if r.pictureErr != nil {
		e.logs.add(LevelWarn, "", "", fmt.Sprintf("the replication picture in %s could not be read (%v): the replication pane starts blank until the first poll answers", PictureFileName, r.pictureErr))
	}
	if r.picture == nil || e.monitor == nil {
		return
	}
	if v := e.monitor.restore(r.picture); v != nil {
		e.logs.add(LevelInfo, "", "", restoredNote(v, e.clock.Now()))
		e.bus.Publish(ReplicationUpdated{View: v})
	}
}
