package runbook

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder walks YAML nodes and records every problem with its position. Step kinds use it to
// decode their `with:` blocks, so their errors look exactly like the runbook's own.
type Decoder struct {
	file      string
	problems  Problems
	rb        *Runbook
	sameLCSID func(a, b string) bool
}

// Runbook is the runbook being parsed: its connections, lcs, aos and downtime sections are decoded
// before any step, so a kind can check what it depends on.
func (d *Decoder) Runbook() *Runbook { return d.rb }

// SameLCSID reports whether two LCS environment ids name the same environment, with
// Options.SameLCSID (ignoring case and surrounding spaces only when it is nil). An empty id names
// none.
func (d *Decoder) SameLCSID(a, b string) bool {
	if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
		return false
	}
	if d.sameLCSID != nil {
		return d.sameLCSID(a, b)
	}
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// Field decodes the value of one mapping key.
type Field func(value *yaml.Node)

// Errorf records a problem at the node's position. where names the enclosing object (for example
// `step "aos-stop"`) and may be empty.
func (d *Decoder) Errorf(n *yaml.Node, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	d.problems = append(d.problems, Problem{File: d.file, Pos: posOf(n), Msg: msg})
}

// ErrorAt records a problem at an explicit position.
func (d *Decoder) ErrorAt(p Pos, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	d.problems = append(d.problems, Problem{File: d.file, Pos: p, Msg: msg})
}

// Problems returns what has been recorded so far.
func (d *Decoder) Problems() Problems { return d.problems }

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Fields walks a mapping in document order, calling the decoder registered for each key. Unknown
// keys are problems (with a "did you mean" when the key is a near miss), as are duplicate keys and
// a node that is not a mapping. YAML merge keys (`<<: *defaults`) are honoured; keys written
// explicitly win over merged ones. It returns the keys that were present, for required-key checks.
func (d *Decoder) Fields(n *yaml.Node, where string, fields map[string]Field) map[string]*yaml.Node {
	n = resolve(n)
	present := map[string]*yaml.Node{}
	if n == nil {
		return present
	}
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			return present
		}
		d.Errorf(n, where, "expected a mapping of keys, found %s", describe(n))
		return present
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	type pair struct{ k, v *yaml.Node }
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			for _, m := range mergeSources(v) {
				for j := 0; j+1 < len(m.Content); j += 2 {
					merged = append(merged, pair{m.Content[j], m.Content[j+1]})
				}
			}
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	visit := func(p pair, fromMerge bool) {
		k := resolve(p.k)
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, where, "keys must be plain names, found %s", describe(k))
			return
		}
		name := k.Value
		if _, dup := present[name]; dup {
			if !fromMerge {
				d.Errorf(k, where, "duplicate key %q", name)
			}
			return
		}
		fn, ok := fields[name]
		if !ok {
			if hint := suggest(name, keys); hint != "" {
				d.Errorf(k, where, "unknown key %q (did you mean %q?)", name, hint)
			} else {
				d.Errorf(k, where, "unknown key %q (known keys: %s)", name, strings.Join(keys, ", "))
			}
			present[name] = p.v
			return
		}
		present[name] = p.v
		if fn != nil {
			fn(resolve(p.v))
		}
	}
	for _, p := range explicit {
		visit(p, false)
	}
	for _, p := range merged {
		visit(p, true)
	}
	return present
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			if c = resolve(c); c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

// Require reports each missing key of a mapping decoded by Fields.
func (d *Decoder) Require(n *yaml.Node, where string, present map[string]*yaml.Node, keys ...string) {
	for _, k := range keys {
		if _, ok := present[k]; !ok {
			d.Errorf(n, where, "missing required key %q", k)
		}
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

func (d *Decoder) scalar(n *yaml.Node, where, key, want string) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.Errorf(n, where, "%s: expected %s, found %s", key, want, describe(n))
		return "", false
	}
	return n.Value, true
}

// String decodes a scalar as text.
func (d *Decoder) String(n *yaml.Node, where, key string) string {
	s, _ := d.scalar(n, where, key, "text")
	return s
}

// NonEmpty decodes a scalar as text and reports an empty value.
func (d *Decoder) NonEmpty(n *yaml.Node, where, key string) string {
	s, ok := d.scalar(n, where, key, "text")
	if ok && strings.TrimSpace(s) == "" {
		d.Errorf(n, where, "%s: must not be empty", key)
	}
	return s
}

// Bool decodes true/false.
func (d *Decoder) Bool(n *yaml.Node, where, key string) bool {
	s, ok := d.scalar(n, where, key, "true or false")
	if !ok {
		return false
	}
	if n.Tag != "!!bool" {
		d.Errorf(n, where, "%s: expected true or false, found %q", key, s)
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(s))
	return b
}

// Int decodes a whole number in [lo, hi].
func (d *Decoder) Int(n *yaml.Node, where, key string, lo, hi int) int {
	s, ok := d.scalar(n, where, key, "a whole number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n.Tag != "!!int" {
		d.Errorf(n, where, "%s: expected a whole number, found %q", key, s)
		return 0
	}
	if v < int64(lo) || v > int64(hi) {
		d.Errorf(n, where, "%s: %d is out of range (%d to %d)", key, v, lo, hi)
		return 0
	}
	return int(v)
}

// Float decodes a number.
func (d *Decoder) Float(n *yaml.Node, where, key string) float64 {
	s, ok := d.scalar(n, where, key, "a number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.Errorf(n, where, "%s: expected a number, found %q", key, s)
		return 0
	}
	return v
}

// Duration decodes a duration such as 90s, 15m, 1h30m or 2d. Negative durations are problems.
func (d *Decoder) Duration(n *yaml.Node, where, key string) time.Duration {
	s, ok := d.scalar(n, where, key, "a duration such as 15m or 1h30m")
	if !ok {
		return 0
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.Errorf(n, where, "%s: %v", key, err)
		return 0
	}
	return v
}

// Time decodes an RFC 3339 timestamp (2026-12-05T18:00:00+01:00).
func (d *Decoder) Time(n *yaml.Node, where, key string) time.Time {
	s, ok := d.scalar(n, where, key, "a time such as 2026-12-05T18:00:00+01:00")
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.Errorf(n, where, "%s: %q is not a time like 2026-12-05T18:00:00+01:00 (RFC 3339 with a zone)", key, s)
		return time.Time{}
	}
	return t
}

// Strings decodes a list of text values; a single scalar counts as a one-element list.
func (d *Decoder) Strings(n *yaml.Node, where, key string) []string {
	ss, _ := d.StringsPos(n, where, key)
	return ss
}

// StringsPos is Strings that also returns each element's position.
func (d *Decoder) StringsPos(n *yaml.Node, where, key string) ([]string, []Pos) {
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []Pos{posOf(n)}
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, where, "%s: expected a list, found %s", key, describe(n))
		return nil, nil
	}
	out := make([]string, 0, len(n.Content))
	pos := make([]Pos, 0, len(n.Content))
	for _, c := range n.Content {
		c = resolve(c)
		if s, ok := d.scalar(c, where, key+" item", "text"); ok {
			out = append(out, s)
			pos = append(pos, posOf(c))
		}
	}
	return out, pos
}

// StringMap decodes a mapping of text to text (for example a command's env).
func (d *Decoder) StringMap(n *yaml.Node, where, key string) map[string]string {
	n = resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, where, "%s: expected a mapping, found %s", key, describe(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		name, ok := d.scalar(k, where, key+" name", "text")
		if !ok {
			continue
		}
		if _, dup := out[name]; dup {
			d.Errorf(k, where, "%s: duplicate key %q", key, name)
			continue
		}
		if val, ok := d.scalar(v, where, key+"."+name, "text"); ok {
			out[name] = val
		}
	}
	return out
}

// Enum decodes one of a fixed set of words.
func (d *Decoder) Enum(n *yaml.Node, where, key string, allowed ...string) string {
	s, ok := d.scalar(n, where, key, "one of "+strings.Join(allowed, ", "))
	if !ok {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if hint := suggest(s, allowed); hint != "" {
		d.Errorf(n, where, "%s: %q is not allowed (did you mean %q?)", key, s, hint)
	} else {
		d.Errorf(n, where, "%s: %q is not allowed (use one of %s)", key, s, strings.Join(allowed, ", "))
	}
	return ""
}

// ParseDuration parses Go durations (90s, 15m, 1h30m) plus whole days (2d, 1d12h).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration (use e.g. 15m, 1h30m or 2d)")
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration (use e.g. 15m, 1h30m or 2d)", s)
		}
		days, s = n, s[i+1:]
		if s == "" {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 15m, 1h30m or 2d)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	return time.Duration(days)*24*time.Hour + v, nil
}

// DurationForm is how FormatDurationAs writes a duration. Both forms read the same way (45s, 3m11s,
// 2h01m, 1d04h); they differ where a figure and a running clock need different things.
type DurationForm int

const (
	// Rounded is for figures (plans, logs, reports): to the nearest second, a moment under a
	// second in milliseconds, days from 24 hours, a negative duration with its sign.
	Rounded DurationForm = iota
	// Clock is for what counts up on a screen (the downtime clock, ages): cut down to the whole
	// second (a clock never shows a second that has not passed), hours up to 48 (a long downtime
	// reads 30h05m, to the minute), the sign dropped (the words around it say ago, late or
	// spare).
	Clock
)

// FormatDuration renders a duration compactly for people, Rounded: 45s, 12m, 1h05m, 2d03h.
func FormatDuration(d time.Duration) string { return FormatDurationAs(d, Rounded) }

// FormatDurationAs renders a duration compactly for people in the given form.
func FormatDurationAs(d time.Duration, form DurationForm) string {
	daysFrom := 24 * time.Hour
	if form == Clock {
		if d < 0 {
			d = -d
		}
		d = d.Truncate(time.Second)
		daysFrom = 48 * time.Hour
	} else {
		if d < 0 {
			return "-" + FormatDurationAs(-d, form)
		}
		if d > 0 && d < time.Second/2 {
			return d.Round(time.Millisecond).String()
		}
		d = d.Round(time.Second)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int((d%time.Minute)/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	case d < daysFrom:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int((d%time.Hour)/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int((d%(24*time.Hour))/time.Hour))
}
