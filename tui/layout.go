package tui

import "strings"

// part is a piece of a line laid out by priority (the header's lines): its forms, longest
// first, and how much it matters. An essential part is placed before any other and shortened
// before it is left out; want is the form it gets, room allowing, before the other parts have
// any (its longer forms say the same in more words: they come last).
type part struct {
	forms     []string
	prio      int
	essential bool
	want      int
}

// layoutParts chooses a form for each part so the parts, joined by sep, fit in w cells, and
// returns the form index of each (-1: left out):
//
//  1. the essential parts go in, most important first, each in its shortest form (one that does
//     not fit even so is left out: only on a line narrower than every supported terminal);
//  2. they lengthen in rounds, most important first, one form a round, up to the form they want;
//  3. the other parts go in, most important first, each in its longest form that still fits;
//  4. the essential parts lengthen in rounds to their longest forms with what is left.
//
// Ties in priority go in line order.
func layoutParts(parts []part, sep string, w int) []int {
	chosen := make([]int, len(parts))
	for i := range chosen {
		chosen[i] = -1
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	// A stable insertion sort by priority, highest first (a handful of parts).
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && parts[order[j]].prio > parts[order[j-1]].prio; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	sepW := ansiWidth(sep)
	used, n := 0, 0
	cost := func(s string) int {
		if n == 0 {
			return ansiWidth(s)
		}
		return ansiWidth(s) + sepW
	}
	for _, i := range order {
		p := parts[i]
		if !p.essential || len(p.forms) == 0 {
			continue
		}
		last := len(p.forms) - 1
		if c := cost(p.forms[last]); used+c <= w {
			chosen[i], used, n = last, used+c, n+1
		}
	}
	lengthen := func(upTo func(part) int) {
		for grew := true; grew; {
			grew = false
			for _, i := range order {
				p := parts[i]
				if !p.essential || chosen[i] <= upTo(p) {
					continue
				}
				if d := ansiWidth(p.forms[chosen[i]-1]) - ansiWidth(p.forms[chosen[i]]); used+d <= w {
					chosen[i], used, grew = chosen[i]-1, used+d, true
				}
			}
		}
	}
	lengthen(func(p part) int { return max(p.want, 0) })
	for _, i := range order {
		p := parts[i]
		if p.essential {
			continue
		}
		for f, s := range p.forms {
			if c := cost(s); used+c <= w {
				chosen[i], used, n = f, used+c, n+1
				break
			}
		}
	}
	lengthen(func(part) int { return 0 })
	return chosen
}

// joinParts lays the parts out (layoutParts) and joins the chosen forms in line order.
func joinParts(parts []part, sep string, w int) string {
	chosen := layoutParts(parts, sep, w)
	var out []string
	for i, f := range chosen {
		if f >= 0 {
			out = append(out, parts[i].forms[f])
		}
	}
	return strings.Join(out, sep)
}
