package tui

import (
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// The key handling of every pane and overlay is fuzzed: a start opens a pane or a dialog the way
// a person does (with its keys, so a dialog added or changed later is reached the same way), then
// random keys follow — printable text, Alt and Ctrl with letters (Alt+D panicked the text input of
// an unapproved bubbles release), special keys, pastes and resizes — each followed by a full
// render. Nothing may panic.

// fuzzStarts are the ways into each pane and overlay: keys typed on the runbook pane after the
// cursor moved down a number of steps (so the dialogs of steps in every state are opened).
var fuzzStarts = []struct {
	name string
	keys []tea.Msg
}{
	{"runbook pane", nil},
	{"replication pane", keys("2")},
	{"replication filter", keys("2", "/")},
	{"validation pane", keys("3")},
	{"validation recount", keys("3", "j", "c")},
	{"logs pane", keys("4")},
	{"logs search", keys("4", "/")},
	{"help", keys("?")},
	{"palette", keys(":")},
	{"confirm", keys("c")},
	{"no-go", keys("n")},
	{"done", keys("d")},
	{"skip", keys("s")},
	{"retry", keys("t")},
	{"abort", keys("x")},
	{"pause", keys("p")},
	{"quit", keys("q")},
	{"who", []tea.Msg{openWhoMsg{}}},
}

func keys(ks ...string) []tea.Msg {
	out := make([]tea.Msg, len(ks))
	for i, k := range ks {
		out[i] = keyMsg(k)
	}
	return out
}

// fuzzRunes are the printable keys: letters (every binding among them), digits, punctuation,
// and text from beyond ASCII.
var fuzzRunes = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :/?-_.,;'\"!@#$%^&*()[]{}|\\<>=+~`éß日本✓")

// fuzzSpecial are the keys that are not text.
var fuzzSpecial = []rune{tea.KeyEnter, tea.KeyEscape, tea.KeyTab, tea.KeyBackspace, tea.KeyDelete, tea.KeyUp, tea.KeyDown,
	tea.KeyLeft, tea.KeyRight, tea.KeyHome, tea.KeyEnd, tea.KeyPgUp, tea.KeyPgDown, tea.KeyInsert, tea.KeyF1, tea.KeySpace}

// fuzzMsg turns bytes into the next message, returning how many bytes it used.
func fuzzMsg(b []byte) (tea.Msg, int) {
	v := b[0]
	arg := func(i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	switch {
	case v < 96:
		r := fuzzRunes[int(v)%len(fuzzRunes)]
		return tea.KeyPressMsg{Code: r, Text: string(r)}, 1
	case v < 128:
		s := fuzzSpecial[int(v)%len(fuzzSpecial)]
		mod := tea.KeyMod(0)
		if v%5 == 0 {
			mod = tea.ModShift
		}
		return tea.KeyPressMsg{Code: s, Mod: mod}, 1
	case v < 160:
		r := 'a' + rune(v-128)%26
		return tea.KeyPressMsg{Code: r, Mod: tea.ModAlt}, 1
	case v < 192:
		r := 'a' + rune(v-160)%26
		return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl}, 1
	case v < 216:
		n := int(arg(1)) % 12
		var sb strings.Builder
		for i := range n {
			sb.WriteRune(fuzzRunes[int(arg(2+i))%len(fuzzRunes)])
			if arg(2+i)%7 == 0 {
				sb.WriteString("\n")
			}
		}
		return tea.PasteMsg{Content: sb.String()}, 2 + n
	case v < 232:
		return tea.WindowSizeMsg{Width: int(arg(1)) % 220, Height: int(arg(2)) % 70}, 3
	default:
		r := fuzzRunes[int(arg(1))%len(fuzzRunes)]
		return tea.KeyPressMsg{Code: r, Text: string(r), Mod: tea.ModAlt | tea.ModShift}, 2
	}
}

// driveKeys opens a start and feeds the messages decoded from data, rendering after each. A
// panic fails the test with the sequence that caused it.
func driveKeys(t *testing.T, start, downs int, w, h int, data []byte) {
	t.Helper()
	s := fuzzStarts[start%len(fuzzStarts)]
	e := newFixtureEngine(40)
	var seq []string
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("panic after %s, %d down, %dx%d, then %s: %v\n%s", s.name, downs, w, h, strings.Join(seq, " "), v, debug.Stack())
		}
	}()
	a := newTestApp(e, w, h, Options{OwnsEngine: true, Actor: engine.Actor{Name: "ana", Origin: "test", Role: engine.RoleOperator}})
	for range downs % 12 {
		a.Update(keyMsg("j"))
	}
	for _, m := range s.keys {
		seq = append(seq, describe(m))
		a.Update(m)
	}
	_ = a.View()
	for len(data) > 0 {
		m, n := fuzzMsg(data)
		data = data[min(n, len(data)):]
		seq = append(seq, describe(m))
		a.Update(m)
		_ = a.View()
	}
}

func describe(m tea.Msg) string {
	switch m := m.(type) {
	case tea.KeyPressMsg:
		return fmt.Sprintf("[%s]", m.String())
	case tea.PasteMsg:
		return fmt.Sprintf("[paste %q]", m.Content)
	case tea.WindowSizeMsg:
		return fmt.Sprintf("[size %dx%d]", m.Width, m.Height)
	}
	return fmt.Sprintf("[%T]", m)
}

// FuzzKeys feeds random key sequences to every pane and overlay (go test -fuzz FuzzKeys ./tui).
func FuzzKeys(f *testing.F) {
	altD := byte(128 + 'd' - 'a')
	f.Add(byte(8), byte(0), byte(120), byte(40), []byte{altD, 'x' % 96, altD})                 // palette, Alt+D
	f.Add(byte(11), byte(5), byte(120), byte(40), []byte{'a', 'b', altD, 0x60, altD, 0x61})    // a reason prompt, Alt+D
	f.Add(byte(9), byte(5), byte(80), byte(24), []byte{216, 3, 0, 0, 40, 14, 20, 190, altD})   // confirm, resize to tiny, Ctrl, Alt
	f.Add(byte(2), byte(0), byte(160), byte(50), []byte{200, 5, 1, 2, 3, 4, 5, 128, 96, 97})   // replication filter, paste
	f.Add(byte(17), byte(0), byte(120), byte(40), []byte{97, 98, 99, 100, 101, 131, 161, 240}) // who
	f.Fuzz(func(t *testing.T, start, downs, w, h byte, data []byte) {
		if len(data) > 400 {
			data = data[:400]
		}
		driveKeys(t, int(start), int(downs), 20+int(w)%200, 8+int(h)%60, data)
	})
}

// TestRandomKeysNeverPanic runs a fixed set of random sequences in every start on every run (the
// fuzz target's seeds run too; the fuzzer itself only with -fuzz).
func TestRandomKeysNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2026))
	n := 6
	if testing.Short() {
		n = 2
	}
	for start := range fuzzStarts {
		for range n {
			data := make([]byte, 50)
			for i := range data {
				data[i] = byte(rng.IntN(256))
			}
			driveKeys(t, start, rng.IntN(12), 40+rng.IntN(160), 12+rng.IntN(40), data)
		}
	}
}
