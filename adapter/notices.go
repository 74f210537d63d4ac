package adapter

import (
	"strings"
	"sync"

	"cutover/engine"
)

// EngineNotices writes notices (an LCS device-code sign-in) into the engine's log, where the
// cockpit shows them, instead of onto the terminal the cockpit draws on.
type EngineNotices struct {
	mu      sync.Mutex
	e       *engine.Engine
	pending []string
}

// Attach starts writing into e's log, with what was written before it first.
func (n *EngineNotices) Attach(e *engine.Engine) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.e = e
	for _, p := range n.pending {
		e.Logf(engine.LevelWarn, "", "%s", p)
	}
	n.pending = nil
}

// Write logs each line as a warning (kept until Attach when there is no engine yet).
func (n *EngineNotices) Write(b []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if n.e != nil {
			n.e.Logf(engine.LevelWarn, "", "%s", line)
		} else {
			n.pending = append(n.pending, line)
		}
	}
	return len(b), nil
}
