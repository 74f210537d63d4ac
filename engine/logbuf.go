package engine

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// LogLevel is a log line's severity.
type LogLevel int

// Log levels.
const (
	LevelDebug LogLevel = iota
	LevelInfo
	LevelWarn
	LevelError
)

var levelWords = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

// String is the level in capitals.
func (l LogLevel) String() string {
	if int(l) < len(levelWords) && l >= 0 {
		return levelWords[l]
	}
	return "LEVEL?"
}

// MarshalText writes the level as its word.
func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// LogLine is one line of the cutover log.
type LogLine struct {
	Seq   uint64
	Time  time.Time
	Level LogLevel
	// Step is the step the line belongs to ("" for the engine itself).
	Step string
	// Stream is "stdout" or "stderr" for a command's output, "" otherwise.
	Stream string
	// State marks the line that narrates a journaled state change (front ends that show the
	// change itself skip it).
	State bool
	Msg   string
}

// String formats a line as it appears in the log file.
func (l LogLine) String() string {
	var b strings.Builder
	b.WriteString(l.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	fmt.Fprintf(&b, " %-5s", l.Level)
	if l.Step != "" {
		b.WriteString(" [" + l.Step)
		if l.Stream != "" {
			b.WriteString(" " + l.Stream)
		}
		b.WriteString("]")
	}
	b.WriteString(" " + l.Msg)
	return b.String()
}

// DefaultLogRing is how many lines the engine keeps in memory for front ends.
const DefaultLogRing = 10000

// LogFileName is the log's name inside the state directory.
const LogFileName = "cutover.log"

// logBook keeps the newest lines in a ring for front ends and appends every line to the log file
// in the state directory. It never writes to stdout: a TUI may own it.
type logBook struct {
	mu      sync.Mutex
	ring    []LogLine
	start   int
	n       int
	seq     uint64
	file    *os.File
	fileErr error
	publish func(LogBatch)
	now     func() time.Time
}

func newLogBook(size int, now func() time.Time) *logBook {
	if size <= 0 {
		size = DefaultLogRing
	}
	return &logBook{ring: make([]LogLine, size), now: now}
}

// openFile starts appending to path (0600).
func (lb *logBook) openFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	lb.mu.Lock()
	lb.file = f
	lb.mu.Unlock()
	return nil
}

// add appends one line (several if msg has newlines).
func (lb *logBook) add(level LogLevel, step, stream, msg string) {
	lb.addLine(level, step, stream, false, msg)
}

// addLine appends lines, marking state-change narration.
func (lb *logBook) addLine(level LogLevel, step, stream string, state bool, msg string) {
	msg = strings.TrimRight(msg, "\r\n")
	parts := strings.Split(msg, "\n")
	lb.mu.Lock()
	lines := make([]LogLine, 0, len(parts))
	now := lb.now()
	var text strings.Builder
	for _, p := range parts {
		lb.seq++
		l := LogLine{Seq: lb.seq, Time: now, Level: level, Step: step, Stream: stream, State: state, Msg: strings.TrimRight(p, "\r")}
		lb.push(l)
		lines = append(lines, l)
		text.WriteString(l.String())
		text.WriteByte('\n')
	}
	// One write per call, unbuffered: a crash must not lose what was already said.
	if lb.file != nil && lb.fileErr == nil {
		if _, err := lb.file.WriteString(text.String()); err != nil {
			lb.fileErr = err
		}
	}
	// Published before the lock is let go, so batches reach subscribers in the order of their
	// sequence numbers (front ends keep a line only when its number is above the newest they
	// hold). Publishing never waits: the bus coalesces log batches.
	if lb.publish != nil {
		lb.publish(LogBatch{Lines: lines})
	}
	lb.mu.Unlock()
}

// restore puts lines read back from the log file (older than anything said since) at the ring's
// start, numbered from 1; lines already in the ring are numbered after them. It is called as the
// engine opens, before any front end reads the ring.
func (lb *logBook) restore(lines []LogLine) {
	if len(lines) == 0 {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	since := make([]LogLine, 0, lb.n)
	for i := 0; i < lb.n; i++ {
		since = append(since, lb.ring[(lb.start+i)%len(lb.ring)])
	}
	lb.start, lb.n, lb.seq = 0, 0, 0
	for _, l := range append(lastN(lines, len(lb.ring)), since...) {
		lb.seq++
		l.Seq = lb.seq
		lb.push(l)
	}
}

func (lb *logBook) push(l LogLine) {
	if lb.n < len(lb.ring) {
		lb.ring[(lb.start+lb.n)%len(lb.ring)] = l
		lb.n++
		return
	}
	lb.ring[lb.start] = l
	lb.start = (lb.start + 1) % len(lb.ring)
}

// tail returns up to n of the newest lines matching keep (all lines when keep is nil).
func (lb *logBook) tail(n int, keep func(LogLine) bool) []LogLine {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []LogLine
	for i := lb.n - 1; i >= 0 && len(out) < n; i-- {
		l := lb.ring[(lb.start+i)%len(lb.ring)]
		if keep == nil || keep(l) {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (lb *logBook) close() error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	err := lb.fileErr
	if lb.file != nil {
		if cerr := lb.file.Close(); err == nil {
			err = cerr
		}
		lb.file = nil
	}
	return err
}
