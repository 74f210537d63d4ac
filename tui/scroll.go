package tui

import "fmt"

// scroller is a dialog's window over a body longer than the screen allows: ↑/↓ move it a line,
// pgup/pgdown a page. These keys type no text, so a dialog with a text field (the confirmation
// phrase, a reason) scrolls without taking a letter from it; the dialog says where the window
// is ("12–20 of 59").
type scroller struct {
	top  int
	page int // the window's height at the last render
}

// key moves the window for the scrolling keys and reports whether k was one of them.
func (s *scroller) key(k string) bool {
	page := max(s.page-1, 1)
	switch k {
	case "up":
		s.top--
	case "down":
		s.top++
	case "pgup":
		s.top -= page
	case "pgdown":
		s.top += page
	default:
		return false
	}
	s.top = max(s.top, 0) // the end is clamped when the body is known (window)
	return true
}

// window keeps the window inside n rows shown room at a time and returns the rows it shows,
// [start, end).
func (s *scroller) window(n, room int) (start, end int) {
	room = max(room, 1)
	s.page = room
	s.top = max(0, min(s.top, n-room))
	return s.top, min(n, s.top+room)
}

// follow moves the window the least that shows row i (a selection).
func (s *scroller) follow(i int) {
	switch {
	case i < s.top:
		s.top = i
	case s.page > 0 && i >= s.top+s.page:
		s.top = i - s.page + 1
	}
}

// span says which of n things a window shows: "12–20 of 59".
func span(first, last, n int) string { return fmt.Sprintf("%d–%d of %d", first, last, n) }

// scrollHint is the keys that move a window.
const scrollHint = "↑/↓ pgup/pgdn"
