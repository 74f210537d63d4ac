package runbook

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in the runbook file (1-based line and column).
type Pos struct {
	Line int
	Col  int
}

// Problem is one thing wrong with a runbook, located in its file.
type Problem struct {
	File string
	Pos  Pos
	Msg  string
}

// String formats the problem as FILE:LINE:COL: message, the form editors and CI logs understand.
func (p Problem) String() string {
	if p.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	col := p.Pos.Col
	if col == 0 {
		col = 1
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Pos.Line, col, p.Msg)
}

// Problems is every problem found in a runbook. It is returned as an error by Parse and Load, so a
// caller sees all of them at once instead of fixing one per run.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sorted() Problems {
	out := append(Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pos.Line != out[j].Pos.Line {
			return out[i].Pos.Line < out[j].Pos.Line
		}
		return out[i].Pos.Col < out[j].Pos.Col
	})
	return out
}

// suggest returns the candidate closest to s when it is a plausible typo of it ("" otherwise).
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist > len(s)/2 && bestDist > 1 {
		return ""
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance with adjacent transpositions (so "confrim" is
// one edit from "confirm").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
