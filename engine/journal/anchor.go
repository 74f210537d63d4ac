package journal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// AnchorFileName is the tail anchor's name inside the state directory.
//
// The hash chain proves that no line was edited, inserted or removed in the middle of the journal,
// but not where the journal ends: a journal whose last lines were cut off, or that gained a
// correctly chained line, still verifies line by line. The anchor closes that gap. After every
// acknowledged append (the line fsynced) the journal writes the line's sequence number and hash
// beside it and fsyncs that too; on Close it writes them once more marked "closed". A journal that
// ends before its anchor lost acknowledged lines; a journal that goes on after a closed anchor
// gained lines its engine never wrote. After a crash the journal may lead its anchor by exactly one
// line: the crash fell between the line's fsync and the anchor's.
//
// The file holds two fixed-size slots, written alternately in place (line N into slot N mod 2)
// with a CRC each, so a write torn by a crash leaves the other slot whole: the anchor is never lost
// to the very crash it must survive.
const AnchorFileName = "journal.anchor"

const (
	anchorMagic   = "cutover-journal-anchor v1"
	anchorSlotLen = 160
)

// Anchor is the last acknowledged position of a journal.
type Anchor struct {
	// Seq is the sequence number of the last acknowledged line (0: none).
	Seq uint64
	// Head is the SHA-256 of that line (Genesis when Seq is 0).
	Head string
	// Closed is true when the engine closed the journal cleanly after that line: nothing may follow.
	Closed bool
}

// encodeSlot renders one slot: the fields, a CRC of them, padded with spaces and ended by a newline
// so the file stays readable text.
func (a Anchor) encodeSlot() []byte {
	closed := 0
	if a.Closed {
		closed = 1
	}
	body := fmt.Sprintf("%s seq=%d head=%s closed=%d", anchorMagic, a.Seq, a.Head, closed)
	line := fmt.Sprintf("%s crc=%08x", body, crc32.ChecksumIEEE([]byte(body)))
	b := make([]byte, anchorSlotLen)
	for i := range b {
		b[i] = ' '
	}
	copy(b, line)
	b[anchorSlotLen-1] = '\n'
	return b
}

// decodeSlot parses one slot; ok is false for an empty, torn or foreign slot.
func decodeSlot(b []byte) (Anchor, bool) {
	s := strings.TrimRight(string(b), " \n\x00")
	i := strings.LastIndex(s, " crc=")
	if i < 0 {
		return Anchor{}, false
	}
	body, sum := s[:i], s[i+len(" crc="):]
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE([]byte(body)) {
		return Anchor{}, false
	}
	rest, ok := strings.CutPrefix(body, anchorMagic+" ")
	if !ok {
		return Anchor{}, false
	}
	var a Anchor
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "seq":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Anchor{}, false
			}
			a.Seq = n
		case "head":
			a.Head = v
		case "closed":
			a.Closed = v == "1"
		}
	}
	if len(a.Head) != len(Genesis) {
		return Anchor{}, false
	}
	return a, true
}

// ReadAnchor reads a state directory's anchor: the whole slot with the highest sequence number
// (for equal numbers the closed one). A missing file is an error wrapping os.ErrNotExist; a file
// with no whole slot is an error too.
func ReadAnchor(dir string) (Anchor, error) {
	path := filepath.Join(dir, AnchorFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		return Anchor{}, fmt.Errorf("read journal anchor: %w", err)
	}
	var best Anchor
	found := false
	for off := 0; off+anchorSlotLen <= len(b); off += anchorSlotLen {
		a, ok := decodeSlot(b[off : off+anchorSlotLen])
		if !ok {
			continue
		}
		if !found || a.Seq > best.Seq || (a.Seq == best.Seq && a.Closed) {
			best, found = a, true
		}
	}
	if !found {
		return Anchor{}, fmt.Errorf("%s: no readable anchor slot", path)
	}
	return best, nil
}

// anchorFile is the open anchor of a journal being written.
type anchorFile struct {
	f      *os.File
	noSync bool
}

// openAnchor opens (creating, 0600) the anchor file for writing.
func openAnchor(dir string, noSync bool) (*anchorFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, AnchorFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal anchor: %w", err)
	}
	if err := restrictFile(f, 0o600); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("restrict journal anchor: %w", err)
	}
	return &anchorFile{f: f, noSync: noSync}, nil
}

// write records a into its slot (Seq mod 2) and makes it durable.
func (af *anchorFile) write(a Anchor) error {
	off := int64(a.Seq%2) * anchorSlotLen
	if _, err := af.f.WriteAt(a.encodeSlot(), off); err != nil {
		return fmt.Errorf("write journal anchor: %w", err)
	}
	if af.noSync {
		return nil
	}
	if err := af.f.Sync(); err != nil {
		return fmt.Errorf("fsync journal anchor: %w", err)
	}
	return nil
}

// reset makes the anchor name exactly a (both slots), for a journal whose anchor was missing or
// had to be adopted.
func (af *anchorFile) reset(a Anchor) error {
	if err := af.f.Truncate(0); err != nil {
		return fmt.Errorf("reset journal anchor: %w", err)
	}
	// Both slots name the position: whichever survives a later torn write still does.
	if _, err := af.f.WriteAt(append(a.encodeSlot(), a.encodeSlot()...), 0); err != nil {
		return fmt.Errorf("write journal anchor: %w", err)
	}
	if af.noSync {
		return nil
	}
	if err := af.f.Sync(); err != nil {
		return fmt.Errorf("fsync journal anchor: %w", err)
	}
	return nil
}

func (af *anchorFile) close() error {
	if af == nil || af.f == nil {
		return nil
	}
	err := af.f.Close()
	af.f = nil
	return err
}

// TailError says the journal does not end where its anchor says the last acknowledged line is.
type TailError struct {
	Path string
	// Lines is how many whole lines the journal has; Anchor what its anchor names.
	Lines  uint64
	Anchor Anchor
	Reason string
}

func (e *TailError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// checkTail compares a verified journal of lines whole lines with its anchor; headAt gives the hash
// of one of its lines. It returns nil when the journal ends where it may: at the anchor, or one line after an
// anchor that was not closed (a crash between the line's fsync and the anchor's).
func checkTail(path string, lines uint64, headAt func(seq uint64) string, a Anchor) *TailError {
	te := func(format string, args ...any) *TailError {
		return &TailError{Path: path, Lines: lines, Anchor: a, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case lines < a.Seq:
		if lines+1 == a.Seq {
			return te("truncated: the journal ends at line %d, but line %d was acknowledged (its anchor, %s, says so): the last line was cut off", lines, a.Seq, AnchorFileName)
		}
		return te("truncated: the journal ends at line %d, but line %d was acknowledged (its anchor, %s, says so): lines %d to %d were cut off", lines, a.Seq, AnchorFileName, lines+1, a.Seq)
	case headAt(a.Seq) != a.Head:
		return te("tail replaced: line %d is not the line that was acknowledged as line %d (its hash differs from the anchor's)", a.Seq, a.Seq)
	case lines == a.Seq:
		return nil
	case lines == a.Seq+1 && !a.Closed:
		// Written and fsynced, then the engine stopped before the anchor's write: the crash window.
		return nil
	case a.Closed:
		return te("extended: the engine closed this journal cleanly after line %d, but it goes on to line %d: line %d on was not written by cutover", a.Seq, lines, a.Seq+1)
	default:
		return te("extended: line %d was the last acknowledged, but the journal goes on to line %d: line %d on was not written by cutover", a.Seq, lines, a.Seq+2)
	}
}

// AnchorStatus is what verification found of the anchor.
type AnchorStatus int

// Anchor statuses.
const (
	// AnchorOK: the journal ends at its anchor (or one line after it, after a crash).
	AnchorOK AnchorStatus = iota
	// AnchorMissing: there is no anchor file, so where the journal ends cannot be checked.
	AnchorMissing
	// AnchorUnreadable: the anchor file has no whole slot.
	AnchorUnreadable
	// AnchorMismatch: the journal does not end where its anchor says (Report.Tail says how).
	AnchorMismatch
)

// String names the status for an operator.
func (s AnchorStatus) String() string {
	switch s {
	case AnchorOK:
		return "anchored"
	case AnchorMissing:
		return "no anchor"
	case AnchorUnreadable:
		return "anchor unreadable"
	case AnchorMismatch:
		return "does not end at its anchor"
	}
	return "anchor status " + strconv.Itoa(int(s))
}

// readAnchorFor reads the anchor beside a journal path, classifying a missing or broken one.
func readAnchorFor(journalPath string) (Anchor, AnchorStatus) {
	a, err := ReadAnchor(filepath.Dir(journalPath))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Anchor{}, AnchorMissing
	case err != nil:
		return Anchor{}, AnchorUnreadable
	}
	return a, AnchorOK
}

// Rewind cuts a state directory's journal after its first n lines and anchors it there (not
// closed), exactly as a crash right after line n's anchor leaves a state directory. It is for crash
// tests and rehearsal drills; it takes the directory's lock for the moment it works.
func Rewind(dir string, n uint64) error {
	lock, _, err := Acquire(dir, "journal rewind")
	if err != nil {
		return err
	}
	defer lock.Release()
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	res, err := scanAll(path, data, n)
	if err != nil {
		return err
	}
	if n > res.seq {
		return fmt.Errorf("rewind %s to line %d: it has only %d lines", path, n, res.seq)
	}
	cut := 0
	for i := uint64(0); i < n; i++ {
		cut += bytes.IndexByte(data[cut:], '\n') + 1
	}
	if err := os.Truncate(path, int64(cut)); err != nil {
		return fmt.Errorf("rewind journal: %w", err)
	}
	af, err := openAnchor(dir, false)
	if err != nil {
		return err
	}
	defer af.close()
	return af.reset(Anchor{Seq: n, Head: res.headAt})
}
