// Package journal is the cutover's crash-safe memory: an append-only JSON Lines file in the state
// directory, one record per state change, each line carrying the SHA-256 of the line before it and
// of its own content, fsynced before the change is acknowledged. A lock keeps a second process off
// the same directory.
//
// A line is a JSON object whose last member is "hash", the hex SHA-256 of the line with that member
// removed; "prev" is the hex SHA-256 of the whole previous line (64 zeros for the first). The head
// hash of a journal is the SHA-256 of its last line.
package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileName is the journal's name inside the state directory.
const FileName = "journal.jsonl"

// Genesis is the prev value of the first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

const hashSuffixLen = len(`,"hash":"`) + 64 + len(`"}`)

// Record is one journaled state change. Data is the type-specific payload.
type Record struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Step string          `json:"step,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	Prev string          `json:"prev"`
	Hash string          `json:"hash"`
}

// body is what the record hash covers: every member but the hash, in a fixed order.
type body struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Step string          `json:"step,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	Prev string          `json:"prev"`
}

// Decode unmarshals the record's payload. An error names the record's line (its sequence number,
// which verification checks is its line).
func (r Record) Decode(v any) error {
	if len(r.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("journal line %d (%q): %w", r.Seq, r.Type, err)
	}
	return nil
}

// Options tune a journal.
type Options struct {
	// NoSync skips fsync. Only benchmarks and throwaway tests may set it: without fsync a power
	// loss can lose acknowledged changes.
	NoSync bool
	// Command describes the holder in the lock file (for example "cutover run").
	Command string
	// Lock, when set, is the state directory's lock the caller took already (LockDir) so that
	// what it wrote before opening the journal was written under it. Open uses it instead of
	// taking the lock, and reports the holder it was taken over from; the lock stays the
	// caller's: neither a failed Open nor Close releases it.
	Lock *Lock
}

// Journal is an open journal holding the state directory's lock.
type Journal struct {
	mu     sync.Mutex
	dir    string
	path   string
	f      *os.File
	anchor *anchorFile
	lock   *Lock
	// borrowed: the lock is the caller's (Options.Lock), released by them, not by Close.
	borrowed bool
	seq      uint64
	head     string
	noSync   bool
	broken   error
}

// Torn describes an incomplete last line left by a crash in the middle of a write. It is dropped.
type Torn struct {
	Line  int
	Bytes int
}

// OpenReport is what Open found.
type OpenReport struct {
	// Records are the journal's records in order, for replay.
	Records []Record
	// Torn is set when the last line was incomplete and has been dropped.
	Torn *Torn
	// StaleLock is set when the lock was taken over from a process that no longer holds it.
	StaleLock *LockInfo
	// Created is true when the journal did not exist before.
	Created bool
	// Unanchored is set when a journal with records had no anchor (one written before anchoring,
	// or an anchor that was removed): where it ended could not be checked. It is anchored now.
	Unanchored bool
	// CrashLine is set when the last line was written and fsynced but the engine stopped before
	// anchoring it (the crash window between the two): the line is kept and anchored now.
	CrashLine uint64
}

// CorruptError says a journal line is not what was written: the first bad line and why.
type CorruptError struct {
	Path   string
	Line   int
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Reason)
}

// Open creates the state directory if needed (0700), takes its lock, verifies the whole journal
// and returns its records for replay. An existing directory, journal or lock file with looser
// permissions is made private to its owner (0700 and 0600). A torn last line is dropped and
// reported; any other damage is a *CorruptError and the journal is not opened.
func Open(dir string, opts Options) (*Journal, OpenReport, error) {
	var rep OpenReport
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rep, fmt.Errorf("create state directory: %w", err)
	}
	if err := restrictPath(dir, 0o700); err != nil {
		return nil, rep, fmt.Errorf("restrict state directory: %w", err)
	}
	lock, borrowed := opts.Lock, opts.Lock != nil
	if borrowed {
		if err := lock.holds(dir); err != nil {
			return nil, rep, err
		}
		rep.StaleLock = lock.stale
	} else {
		var stale *LockInfo
		var err error
		if lock, stale, err = Acquire(dir, opts.Command); err != nil {
			return nil, rep, err
		}
		rep.StaleLock = stale
	}
	j := &Journal{dir: dir, path: filepath.Join(dir, FileName), lock: lock, borrowed: borrowed, head: Genesis, noSync: opts.NoSync}
	fail := func(err error) (*Journal, OpenReport, error) {
		if !borrowed {
			_ = lock.Release()
		}
		return nil, OpenReport{}, err
	}

	data, err := os.ReadFile(j.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		rep.Created = true
	case err != nil:
		return fail(fmt.Errorf("read journal: %w", err))
	}
	anchor, anchorStatus := readAnchorFor(j.path)
	scan, err := scanAll(j.path, data, anchor.Seq)
	if err != nil {
		return fail(err)
	}
	switch anchorStatus {
	case AnchorUnreadable:
		return fail(&TailError{Path: filepath.Join(dir, AnchorFileName), Lines: scan.seq,
			Reason: "the journal's anchor has no readable slot, so where the journal should end is unknown"})
	case AnchorMissing:
		rep.Unanchored = scan.seq > 0
	default:
		if te := checkTail(j.path, scan.seq, func(uint64) string { return scan.headAt }, anchor); te != nil {
			return fail(te)
		}
		if scan.seq == anchor.Seq+1 {
			rep.CrashLine = scan.seq
		}
	}
	rep.Records, rep.Torn = scan.records, scan.torn
	j.seq, j.head = scan.seq, scan.head
	if scan.torn != nil {
		if err := os.Truncate(j.path, int64(scan.goodBytes)); err != nil {
			return fail(fmt.Errorf("drop torn journal line: %w", err))
		}
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(fmt.Errorf("open journal: %w", err))
	}
	if err := restrictFile(f, 0o600); err != nil {
		_ = f.Close()
		return fail(fmt.Errorf("restrict journal: %w", err))
	}
	j.f = f
	af, err := openAnchor(dir, opts.NoSync)
	if err == nil {
		err = af.reset(Anchor{Seq: j.seq, Head: j.head})
		if err != nil {
			_ = af.close()
		}
	}
	if err != nil {
		_ = f.Close()
		return fail(err)
	}
	j.anchor = af
	if (rep.Created || anchorStatus == AnchorMissing) && !opts.NoSync {
		if err := syncDir(dir); err != nil {
			_ = f.Close()
			_ = af.close()
			return fail(err)
		}
	}
	return j, rep, nil
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Dir is the state directory.
func (j *Journal) Dir() string { return j.dir }

// Head is the SHA-256 of the last line (Genesis when empty).
func (j *Journal) Head() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.head
}

// ShortHash abbreviates a SHA-256 (a journal head, a runbook's hash) for people: its first 12
// hex digits and an ellipsis; a shorter text is returned as it is.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// Seq is the sequence number of the last record.
func (j *Journal) Seq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// Append writes one record and makes it durable before returning. Seq, Prev and Hash are filled
// in. After a failed write the journal refuses further appends: the engine must stop rather than
// carry on with state it could not record.
func (j *Journal) Append(rec Record) (Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return Record{}, fmt.Errorf("journal unusable after an earlier write failure: %w", j.broken)
	}
	if j.f == nil {
		return Record{}, errors.New("journal is closed")
	}
	rec.Seq = j.seq + 1
	rec.Prev = j.head
	line, hash, err := encode(rec)
	if err != nil {
		return Record{}, err
	}
	rec.Hash = hash
	if _, err := j.f.Write(line); err != nil {
		j.broken = err
		return Record{}, fmt.Errorf("write journal: %w", err)
	}
	if !j.noSync {
		if err := j.f.Sync(); err != nil {
			j.broken = err
			return Record{}, fmt.Errorf("fsync journal: %w", err)
		}
	}
	sum := sha256.Sum256(line[:len(line)-1])
	j.seq, j.head = rec.Seq, hex.EncodeToString(sum[:])
	// The line is durable; the anchor now says it was acknowledged. Should this write fail, the
	// journal leads its anchor by this one line, which a restart accepts as the crash window.
	if err := j.anchor.write(Anchor{Seq: j.seq, Head: j.head}); err != nil {
		j.broken = err
		return Record{}, err
	}
	return rec, nil
}

// Close closes the file, marks its anchor closed (nothing may follow the last line) and releases
// the lock (unless it is the caller's: Options.Lock).
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	if j.f != nil {
		errs = append(errs, j.f.Close())
		j.f = nil
	}
	if j.anchor != nil {
		if j.broken == nil {
			errs = append(errs, j.anchor.write(Anchor{Seq: j.seq, Head: j.head, Closed: true}))
		}
		errs = append(errs, j.anchor.close())
		j.anchor = nil
	}
	if j.lock != nil && !j.borrowed {
		errs = append(errs, j.lock.Release())
	}
	j.lock = nil
	return errors.Join(errs...)
}

// encode renders a record as one line (with its newline) and returns the record hash.
func encode(rec Record) ([]byte, string, error) {
	b, err := json.Marshal(body{Seq: rec.Seq, Time: rec.Time.UTC(), Type: rec.Type, Step: rec.Step, Data: rec.Data, Prev: rec.Prev})
	if err != nil {
		return nil, "", fmt.Errorf("encode journal record: %w", err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(b)+hashSuffixLen+1)
	line = append(line, b[:len(b)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, hash...)
	line = append(line, '"', '}', '\n')
	return line, hash, nil
}

type scanResult struct {
	records   []Record
	torn      *Torn
	goodBytes int
	seq       uint64
	head      string
	// headAt is the hash of line `at` (Genesis for 0, empty when the journal is shorter).
	headAt string
}

// scanAll verifies every complete line and notes a torn tail; it also keeps the hash of line at.
func scanAll(path string, data []byte, at uint64) (scanResult, error) {
	res := scanResult{head: Genesis}
	if at == 0 {
		res.headAt = Genesis
	}
	lineNo := 0
	for off := 0; off < len(data); {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			res.torn = &Torn{Line: lineNo + 1, Bytes: len(data) - off}
			break
		}
		lineNo++
		line := data[off : off+nl]
		rec, err := checkLine(line, lineNo, res.head)
		if err != nil {
			return res, &CorruptError{Path: path, Line: lineNo, Reason: err.Error()}
		}
		sum := sha256.Sum256(line)
		res.head = hex.EncodeToString(sum[:])
		res.seq = rec.Seq
		if rec.Seq == at {
			res.headAt = res.head
		}
		res.records = append(res.records, rec)
		off += nl + 1
		res.goodBytes = off
	}
	return res, nil
}

// checkLine verifies one line against its own hash and the previous line's.
func checkLine(line []byte, lineNo int, prevHead string) (Record, error) {
	var rec Record
	if len(line) < hashSuffixLen+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
		return rec, errors.New("malformed: the line does not end with its hash (it was edited or is not a cutover journal line)")
	}
	want := string(line[len(line)-hashSuffixLen+len(`,"hash":"`) : len(line)-2])
	b := make([]byte, 0, len(line)-hashSuffixLen+1)
	b = append(b, line[:len(line)-hashSuffixLen]...)
	b = append(b, '}')
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != want {
		return rec, errors.New("modified: the line's content does not match its hash (it was edited after it was written)")
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("not valid JSON: %v", err)
	}
	if rec.Prev != prevHead {
		if lineNo == 1 {
			return rec, errors.New("chain broken: the first line does not start the chain (lines were removed from the start)")
		}
		return rec, fmt.Errorf("chain broken: the line does not follow line %d (a line before it was removed, inserted, reordered or edited)", lineNo-1)
	}
	if rec.Seq != uint64(lineNo) {
		return rec, fmt.Errorf("sequence number %d where %d was expected", rec.Seq, lineNo)
	}
	return rec, nil
}

// Report is the result of verifying a journal file.
type Report struct {
	Path    string
	Records int
	Head    string
	First   time.Time
	Last    time.Time
	Torn    *Torn
	// Bad is the first bad line, or nil when the journal verifies.
	Bad *CorruptError
	// Anchor is the journal's anchor as read beside it, and AnchorStatus what became of it.
	Anchor       Anchor
	AnchorStatus AnchorStatus
	// Tail says how the journal does not end where its anchor says (AnchorMismatch).
	Tail *TailError
	// CrashLine is set when the last line is one after a not-closed anchor: written as the engine
	// stopped (the crash window), accepted on the next start.
	CrashLine uint64
}

// OK reports whether the journal verified (a torn last line is tolerated): every line chained and
// the journal ending at its anchor. A journal without an anchor is OK here (a copy of the file
// alone, or one written before anchoring); callers that expect the anchor check AnchorStatus.
func (r Report) OK() bool { return r.Bad == nil && r.Tail == nil && r.AnchorStatus != AnchorUnreadable }

// Verify checks a journal file without taking the lock, reading it as a stream, and compares where
// it ends with the anchor beside it (AnchorFileName in the same directory).
func Verify(path string) (Report, error) {
	rep := Report{Path: path, Head: Genesis}
	rep.Anchor, rep.AnchorStatus = readAnchorFor(path)
	headAt := ""
	if rep.Anchor.Seq == 0 {
		headAt = Genesis
	}
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	lineNo := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] != '\n' {
			rep.Torn = &Torn{Line: lineNo + 1, Bytes: len(line)}
			break
		}
		if len(line) > 0 {
			lineNo++
			line = line[:len(line)-1]
			rec, cerr := checkLine(line, lineNo, rep.Head)
			if cerr != nil {
				rep.Bad = &CorruptError{Path: path, Line: lineNo, Reason: cerr.Error()}
				return rep, nil
			}
			sum := sha256.Sum256(line)
			rep.Head = hex.EncodeToString(sum[:])
			rep.Records++
			if rec.Seq == rep.Anchor.Seq {
				headAt = rep.Head
			}
			if rep.First.IsZero() {
				rep.First = rec.Time
			}
			rep.Last = rec.Time
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("read journal: %w", err)
		}
	}
	rep.checkTail(headAt)
	return rep, nil
}

// checkTail compares where a journal that verified line by line ends with its anchor; headAt is
// the hash of its line Anchor.Seq.
func (r *Report) checkTail(headAt string) {
	if r.AnchorStatus != AnchorOK || r.Bad != nil {
		return
	}
	r.Tail = checkTail(r.Path, uint64(r.Records), func(uint64) string { return headAt }, r.Anchor)
	switch {
	case r.Tail != nil:
		r.AnchorStatus = AnchorMismatch
	case uint64(r.Records) == r.Anchor.Seq+1:
		r.CrashLine = uint64(r.Records)
	}
}

// ReadAll reads and verifies a journal without taking the lock (for reports and baselines). A bad
// line is a *CorruptError; a torn tail is dropped.
func ReadAll(path string) ([]Record, *Torn, error) {
	c, err := Read(path)
	if err != nil {
		return nil, nil, err
	}
	return c.Records, c.Torn, nil
}

// Contents is a journal as read without its lock: the verified records, the torn tail left out,
// and the position a live engine would report (the last sequence number and the head hash).
type Contents struct {
	Records []Record
	Torn    *Torn
	Seq     uint64
	Head    string
}

// Read is ReadAll with the journal's position: what a process that does not hold the lock (a
// status glance) needs to describe the journal exactly as its holder does. A missing file is an
// error wrapping os.ErrNotExist; a bad line is a *CorruptError.
func Read(path string) (Contents, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Contents{}, fmt.Errorf("read journal: %w", err)
	}
	res, err := scanAll(path, data, 0)
	if err != nil {
		return Contents{}, err
	}
	return Contents{Records: res.records, Torn: res.torn, Seq: res.seq, Head: res.head}, nil
}

// Describe explains a journal problem in the words an operator needs, including how to continue.
func Describe(err error) string {
	var ce *CorruptError
	var te *TailError
	var path string
	var b strings.Builder
	switch {
	case errors.As(err, &ce):
		path = ce.Path
		fmt.Fprintf(&b, "the journal cannot be trusted: %s\n", ce.Error())
	case errors.As(err, &te):
		path = te.Path
		fmt.Fprintf(&b, "the journal cannot be trusted: %s\n", te.Error())
	default:
		return err.Error()
	}
	b.WriteString("cutover will not resume from a journal that was changed after it was written.\n")
	b.WriteString("To continue:\n")
	fmt.Fprintf(&b, "  - inspect it: cutover journal verify --state %s\n", filepath.Dir(path))
	b.WriteString("  - restore the journal from a backup copy, or\n")
	if te != nil {
		fmt.Fprintf(&b, "  - if you know why it ends there (you restored it yourself), move %s aside to accept it as it is, or\n", filepath.Join(filepath.Dir(path), AnchorFileName))
	}
	b.WriteString("  - keep the evidence: move the state directory aside and start again with --state NEWDIR,\n")
	b.WriteString("    marking the steps that were already done with `cutover step done ID --reason ...`.")
	return b.String()
}

// ReadEvidence reads a journal without its lock for evidence (the go-live report). Unlike Read,
// a line that fails verification does not make it return nothing: it returns the records that
// verify — every record before the first bad line, with the position they end at — together with
// the verification Report that Verify gives for the same bytes (Bad names the first bad line; Torn
// an incomplete last line, which is left out). Only a file that cannot be read is an error.
func ReadEvidence(path string) (Contents, Report, error) {
	rep := Report{Path: path, Head: Genesis}
	data, err := os.ReadFile(path)
	if err != nil {
		return Contents{Head: Genesis}, rep, fmt.Errorf("read journal: %w", err)
	}
	rep.Anchor, rep.AnchorStatus = readAnchorFor(path)
	res, err := scanAll(path, data, rep.Anchor.Seq)
	var ce *CorruptError
	if err != nil && !errors.As(err, &ce) {
		return Contents{Head: Genesis}, rep, err
	}
	c := Contents{Records: res.records, Torn: res.torn, Seq: res.seq, Head: res.head}
	rep.Records, rep.Head, rep.Torn, rep.Bad = len(res.records), res.head, res.torn, ce
	if ce != nil {
		// Verify stops at the bad line and does not look at what follows it.
		c.Torn, rep.Torn = nil, nil
	}
	if n := len(res.records); n > 0 {
		rep.First, rep.Last = res.records[0].Time, res.records[n-1].Time
	}
	rep.checkTail(res.headAt)
	return c, rep, nil
}
