package engine

import (
	"fmt"
	"slices"
	"strings"
)

// ConfirmListShown is how many items of a ConfirmList the request's text names before "… and N
// more": the text is what the log, the journal's action, the headless prompt and the runbook
// pane's detail show, and it stays short; the dialog scrolls through the list in full.
const ConfirmListShown = 8

// Preview is what a step saw just before its confirmation request (Previewer): lines of text, and
// the lists it saw in full — the users still connected to AX before the AOS stop — which the
// request carries beside its text (ConfirmationView.Lists).
type Preview struct {
	Text  string
	Lists []ConfirmList
}

// ConfirmList is a list a confirmation request carries in full beside its text, which names only
// the first ConfirmListShown items and how many more.
type ConfirmList struct {
	// Name says what the items are ("users still connected"), for a dialog that says where it
	// is in the list; Head introduces the list: "users still connected: 59 (2 marked for kill,
	// still ending)".
	Name string `json:"name"`
	Head string `json:"head"`
	// Items are the list's lines, in the order they are shown.
	Items []string `json:"items,omitempty"`
}

// Text is the list as the request's text shows it: the head, then the first shown items indented,
// then "… and N more" when there are more.
func (l ConfirmList) Text(shown int) string {
	var b strings.Builder
	b.WriteString(l.Head)
	for i, it := range l.Items {
		if i == shown {
			fmt.Fprintf(&b, "\n  … and %d more", len(l.Items)-shown)
			break
		}
		b.WriteString("\n  " + it)
	}
	return b.String()
}

// actionText is a confirmation request's text: what the step will do, what it saw (the preview's
// text) and its lists as Text shows them.
func actionText(describe string, p Preview) string {
	parts := []string{describe}
	if p.Text != "" {
		parts = append(parts, p.Text)
	}
	for _, l := range p.Lists {
		parts = append(parts, l.Text(ConfirmListShown))
	}
	return strings.Join(parts, "\n")
}

// Body is the request's action for a front end that shows its lists in full: the text before the
// lists (lead), and the lists. A request whose text does not end with its lists' text (a journal
// written before requests carried lists) has no lists: its whole text is the lead, so nothing is
// shown twice and nothing is lost.
func (c ConfirmationView) Body() (lead string, lists []ConfirmList) {
	if len(c.Lists) == 0 {
		return c.Action, nil
	}
	var tail strings.Builder
	for _, l := range c.Lists {
		tail.WriteString("\n" + l.Text(ConfirmListShown))
	}
	t := tail.String()
	switch lead, ok := strings.CutSuffix(c.Action, t); {
	case ok:
		return lead, slices.Clone(c.Lists)
	case c.Action == t[1:]: // the lists are the whole text
		return "", slices.Clone(c.Lists)
	}
	return c.Action, nil
}
