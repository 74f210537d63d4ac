package engine

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/engine/journal"
)

// CountClass is how a table compares between source and target.
type CountClass int

// Classes, in the order a person wants to read them: problems first.
const (
	ClassMismatch CountClass = iota
	ClassMissing
	ClassExtra
	ClassDraining
	ClassExpected
	ClassIgnored
	ClassMatch
)

var classWords = [...]string{"mismatch", "missing on target", "extra on target", "draining", "expected difference", "ignored", "match"}

// String names the class.
func (c CountClass) String() string {
	if c >= 0 && int(c) < len(classWords) {
		return classWords[c]
	}
	return "unknown"
}

// MarshalText writes the class as words.
func (c CountClass) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads the class from its words.
func (c *CountClass) UnmarshalText(b []byte) error {
	for i, w := range classWords {
		if w == string(b) {
			*c = CountClass(i)
			return nil
		}
	}
	return fmt.Errorf("unknown class %q", b)
}

// Passes reports whether the class lets validation succeed.
func (c CountClass) Passes() bool {
	return c == ClassMatch || c == ClassIgnored || c == ClassExpected
}

// TableCheck is one table's comparison.
type TableCheck struct {
	Table  string     `json:"table"`
	Class  CountClass `json:"class"`
	Source int64      `json:"source"`
	Target int64      `json:"target"`
	Delta  int64      `json:"delta"`
	// Pending is the table's replication backlog when it was compared.
	Pending int64 `json:"pending"`
	// Exact is set when the counts come from COUNT_BIG rather than partition statistics.
	Exact bool `json:"exact"`
	// Reason explains an expected difference or an ignored table.
	Reason string `json:"reason,omitempty"`
	// Error is why an exact recount failed.
	Error string `json:"error,omitempty"`
}

// Validation is a record-count comparison of source and target.
type Validation struct {
	At       time.Time          `json:"at"`
	Tables   []TableCheck       `json:"tables"`
	Classes  map[CountClass]int `json:"classes"`
	Recounts int                `json:"recounts"`
	// Passed is true when every table matches, is ignored or differs as expected.
	Passed bool `json:"passed"`
	// Step is the validate.counts step that ran it ("" for `cutover validate`).
	Step string `json:"step,omitempty"`
}

// withTable returns a copy of the validation with one table's check replaced, the class counts
// and the verdict recomputed, and the problems first again.
func (v *Validation) withTable(tc TableCheck, at time.Time) *Validation {
	out := &Validation{At: at, Recounts: v.Recounts, Step: v.Step, Classes: map[CountClass]int{}}
	out.Tables = make([]TableCheck, 0, len(v.Tables))
	for _, t := range v.Tables {
		if TableKey(t.Table) == TableKey(tc.Table) {
			t = tc
		}
		out.Tables = append(out.Tables, t)
		out.Classes[t.Class]++
	}
	sort.SliceStable(out.Tables, func(i, j int) bool {
		if out.Tables[i].Class != out.Tables[j].Class {
			return out.Tables[i].Class < out.Tables[j].Class
		}
		return TableKey(out.Tables[i].Table) < TableKey(out.Tables[j].Table)
	})
	out.Passed = len(out.Failing()) == 0
	return out
}

// Failing lists the tables that keep validation from passing.
func (v *Validation) Failing() []TableCheck {
	var out []TableCheck
	for _, t := range v.Tables {
		if !t.Class.Passes() {
			out = append(out, t)
		}
	}
	return out
}

// Summary is one line: the counts per class.
func (v *Validation) Summary() string {
	var parts []string
	for c := ClassMismatch; c <= ClassMatch; c++ {
		if n := v.Classes[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, c))
		}
	}
	if len(parts) == 0 {
		return "no tables"
	}
	return strings.Join(parts, ", ")
}

// ExpectedDifference is a table allowed to differ, and why.
type ExpectedDifference struct {
	Table string
	// Delta is the expected source minus target (ignored when Any).
	Delta  int64
	Any    bool
	Reason string
}

// ValidationRules say what counts as a match.
type ValidationRules struct {
	// Ignore are tables not replicated on purpose (the toolkit's IgnoreTables.xml).
	Ignore []string
	// Expect are tables allowed to differ, with the reason recorded.
	Expect []ExpectedDifference
	// Tolerance is the absolute difference still counted as a match (default 0).
	Tolerance int64
	// Recount counts non-matching tables exactly with COUNT_BIG.
	Recount bool
	// Concurrency bounds simultaneous exact counts per side (default 4).
	Concurrency int
}

// Validate compares the table sets and row counts of source and target, classifies every table,
// and recounts the ones that do not match exactly (cancellable; progress reports the recount).
// pending gives each table's replication backlog (nil: unknown, treated as none).
func Validate(ctx context.Context, counts CountSource, rules ValidationRules, pending map[string]int64, now time.Time,
	progress func(done, total int)) (*Validation, error) {
	if counts == nil {
		return nil, errors.New("no SQL connections to count rows with")
	}
	src, err := counts.Rows(ctx, SideSource)
	if err != nil {
		return nil, fmt.Errorf("source row counts: %w", err)
	}
	tgt, err := counts.Rows(ctx, SideTarget)
	if err != nil {
		return nil, fmt.Errorf("target row counts: %w", err)
	}
	cl := newClassifier(rules)
	type pair struct {
		name           string
		src, tgt       int64
		onSrc, onTgt   bool
		exactS, exactT bool
	}
	pairs := map[string]*pair{}
	get := func(name string) *pair {
		k := TableKey(name)
		p := pairs[k]
		if p == nil {
			p = &pair{name: strings.TrimPrefix(strings.TrimPrefix(name, "dbo."), "DBO.")}
			pairs[k] = p
		}
		return p
	}
	for _, r := range src {
		p := get(r.Table)
		p.src, p.onSrc = r.Rows, true
	}
	for _, r := range tgt {
		p := get(r.Table)
		p.tgt, p.onTgt = r.Rows, true
	}
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	classify := func(k string, p *pair) TableCheck {
		return cl.classify(p.name, p.src, p.tgt, p.onSrc, p.onTgt, pending[k], p.exactS && p.exactT)
	}
	v := &Validation{At: now, Classes: map[CountClass]int{}}
	var recount []string
	for _, k := range keys {
		p := pairs[k]
		tc := classify(k, p)
		if rules.Recount && (tc.Class == ClassMismatch || tc.Class == ClassDraining) {
			recount = append(recount, k)
		}
	}
	if len(recount) > 0 {
		v.Recounts = len(recount)
		names := make([]string, len(recount))
		for i, k := range recount {
			names[i] = pairs[k].name
		}
		conc := rules.Concurrency
		if conc <= 0 {
			conc = 4
		}
		total := 2 * len(names)
		side := func(s Side, base int) (map[string]ExactRows, error) {
			res, err := counts.Exact(ctx, s, names, conc, func(d, _ int) {
				if progress != nil {
					progress(base+d, total)
				}
			})
			out := map[string]ExactRows{}
			for _, r := range res {
				out[TableKey(r.Table)] = r
			}
			return out, err
		}
		exactS, err := side(SideSource, 0)
		if err != nil {
			return nil, fmt.Errorf("exact counts on the source: %w", err)
		}
		exactT, err := side(SideTarget, len(names))
		if err != nil {
			return nil, fmt.Errorf("exact counts on the target: %w", err)
		}
		for _, k := range recount {
			p := pairs[k]
			if r, ok := exactS[k]; ok && r.Err == nil {
				p.src, p.exactS = r.Rows, true
			}
			if r, ok := exactT[k]; ok && r.Err == nil {
				p.tgt, p.exactT = r.Rows, true
			}
		}
	}
	for _, k := range keys {
		tc := classify(k, pairs[k])
		v.Tables = append(v.Tables, tc)
		v.Classes[tc.Class]++
	}
	// Problems first, then by name.
	sort.SliceStable(v.Tables, func(i, j int) bool { return v.Tables[i].Class < v.Tables[j].Class })
	v.Passed = len(v.Failing()) == 0
	return v, nil
}

// classifier applies a validation's rules to one table.
type classifier struct {
	ignore    map[string]bool
	expect    map[string]ExpectedDifference
	tolerance int64
}

func newClassifier(rules ValidationRules) classifier {
	c := classifier{ignore: map[string]bool{}, expect: map[string]ExpectedDifference{}, tolerance: rules.Tolerance}
	for _, t := range rules.Ignore {
		c.ignore[TableKey(t)] = true
	}
	for _, e := range rules.Expect {
		c.expect[TableKey(e.Table)] = e
	}
	return c
}

// classify puts one table in its class: ignored, expected, missing or extra, match within the
// tolerance, draining while replication still has commands for it, otherwise a mismatch.
func (c classifier) classify(name string, src, tgt int64, onSrc, onTgt bool, pending int64, exact bool) TableCheck {
	k := TableKey(name)
	tc := TableCheck{Table: name, Source: src, Target: tgt, Delta: src - tgt, Pending: pending, Exact: exact}
	abs := tc.Delta
	if abs < 0 {
		abs = -abs
	}
	e, expected := c.expect[k]
	switch {
	case c.ignore[k]:
		tc.Class, tc.Reason = ClassIgnored, "on the ignore list"
	case expected && (e.Any || e.Delta == tc.Delta):
		tc.Class, tc.Reason = ClassExpected, e.Reason
	case !onTgt:
		tc.Class = ClassMissing
	case !onSrc:
		tc.Class = ClassExtra
	case abs <= c.tolerance:
		tc.Class = ClassMatch
	case tc.Pending > 0:
		tc.Class = ClassDraining
	default:
		tc.Class = ClassMismatch
	}
	return tc
}

// ReadIgnoreTables reads the toolkit's Data\IgnoreTables.xml:
// <IgnoreTables><Name><Table>…</Table></Name></IgnoreTables>.
func ReadIgnoreTables(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ignore list: %w", err)
	}
	defer f.Close()
	var doc struct {
		Names []struct {
			Tables []string `xml:"Table"`
		} `xml:"Name"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil {
		return nil, fmt.Errorf("ignore list %s: %w", path, err)
	}
	var out []string
	for _, n := range doc.Names {
		for _, t := range n.Tables {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// WriteCSV writes one line per table: table, class, source, target, delta, pending, exact, reason.
func (v *Validation) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"table", "class", "source", "target", "delta", "pending", "exact", "reason", "error"})
	for _, t := range v.Tables {
		_ = cw.Write([]string{t.Table, t.Class.String(), strconv.FormatInt(t.Source, 10), strconv.FormatInt(t.Target, 10),
			strconv.FormatInt(t.Delta, 10), strconv.FormatInt(t.Pending, 10), strconv.FormatBool(t.Exact), t.Reason, t.Error})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole validation.
func (v *Validation) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// DVFile is where Save also writes the validation in the shape of the toolkit's `dv` report, so a
// team can set it beside the file it knows. data-upgrade-self-service.md (§ Reporting section of
// the application) names the file, output/PostValidationInfo.csv, but documents none of its
// columns: the columns here are cutover's own (see WriteDV), not a claim about the toolkit's.
const DVFile = "output/PostValidationInfo.csv"

// WriteDV writes one line per table with what `dv` compares (its documented purpose: "compares the
// number of tables and records in the source server database and the target server database"):
// TableName, SourceRecordCount, TargetRecordCount, Difference, Matched.
func (v *Validation) WriteDV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"TableName", "SourceRecordCount", "TargetRecordCount", "Difference", "Matched"})
	for _, t := range v.Tables {
		_ = cw.Write([]string{t.Table, strconv.FormatInt(t.Source, 10), strconv.FormatInt(t.Target, 10),
			strconv.FormatInt(t.Delta, 10), strconv.FormatBool(t.Class.Passes())})
	}
	cw.Flush()
	return cw.Error()
}

// Save writes the validation's evidence whole or not at all: base.csv and base.json in dir, and
// the dv-shaped DVFile (the newest validation) under dir, each 0600. Every file is first written
// and fsynced beside its place (journal.Stage); only when all of them are written are they renamed
// into place, so a full disk or a failing write leaves none of them and the previous files as they
// were. It returns the paths written; an error names the file that could not be written and why.
func (v *Validation) Save(dir, base string) ([]string, error) {
	return v.save(dir, base, nil)
}

// save is Save; through, when set, is what each file's content is written through (a test's full
// disk: Options.EvidenceWriter).
func (v *Validation) save(dir, base string, through func(path string, w io.Writer) io.Writer) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(DVFile)), 0o700); err != nil {
		return nil, fmt.Errorf("save validation: %w", err)
	}
	files := []struct {
		path  string
		write func(io.Writer) error
	}{
		{filepath.Join(dir, base+".csv"), v.WriteCSV},
		{filepath.Join(dir, base+".json"), v.WriteJSON},
		{filepath.Join(dir, DVFile), v.WriteDV},
	}
	staged := make([]*journal.Staged, 0, len(files))
	discard := func() {
		for _, s := range staged {
			s.Discard()
		}
	}
	for _, f := range files {
		write := f.write
		if through != nil {
			path := f.path
			write = func(w io.Writer) error { return f.write(through(path, w)) }
		}
		s, err := journal.Stage(f.path, 0o600, write)
		if err != nil {
			discard()
			return nil, fmt.Errorf("save validation: %w", err)
		}
		staged = append(staged, s)
	}
	// Everything is on disk; a rename needs no space. Should one fail all the same, the files of
	// this validation already in place are taken away again (the dv file, renamed last, is then
	// still the previous validation's).
	var paths []string
	for i, s := range staged {
		if err := s.Commit(); err != nil {
			discard()
			for _, p := range paths[:min(len(paths), 2)] {
				_ = os.Remove(p)
			}
			return nil, fmt.Errorf("save validation: %w", err)
		}
		staged[i] = nil
		paths = append(paths, s.Path())
	}
	return paths, nil
}
