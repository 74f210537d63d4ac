package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// This file is the only place that touches the engine's event channel: one re-armed command waits
// for the next event and hands it to Update as a message. The engine's bus never blocks on a slow
// cockpit (it coalesces or asks for a resync), so a slow SSH client cannot stall the run.

// eventMsg carries one engine event into Update.
type eventMsg struct{ ev engine.Event }

// resubscribedMsg replaces the stream after the cockpit fell behind.
type resubscribedMsg struct {
	snap   engine.Snapshot
	events <-chan engine.Event
	logs   []engine.LogLine
}

// streamEndedMsg says the engine stopped publishing (it was stopped).
type streamEndedMsg struct{}

// tickMsg re-renders ages and clocks once a second.
type tickMsg time.Time

// waitEvent waits for the next engine event.
func waitEvent(events <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return streamEndedMsg{}
		}
		return eventMsg{ev}
	}
}

// resubscribe takes a fresh snapshot and stream after a Resync.
func resubscribe(ctx context.Context, e Engine) tea.Cmd {
	return func() tea.Msg {
		snap, events := e.Subscribe(ctx)
		return resubscribedMsg{snap: snap, events: events, logs: e.Logs(2000, "")}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// actionDoneMsg reports an operator action's outcome.
type actionDoneMsg struct {
	what string
	err  error
}

// act runs an engine action off the update loop.
func act(what string, f func() error) tea.Cmd {
	return func() tea.Msg { return actionDoneMsg{what: what, err: f()} }
}
