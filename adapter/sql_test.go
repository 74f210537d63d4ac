package adapter

import (
	"testing"

	"cutover/engine"
	"cutover/sql"
)

// TestAgentStatusCarriesOnlyDocumentedValues: MSreplication_monitordata.status is documented as 1
// Started … 6 Failed; those carry across as they are, any other number is unknown (never read as a
// state it is not).
func TestAgentStatusCarriesOnlyDocumentedValues(t *testing.T) {
	want := map[sql.RunStatus]engine.AgentStatus{0: engine.AgentUnknown, sql.RunStarted: engine.AgentStarted, sql.RunSucceeded: engine.AgentSucceeded,
		sql.RunInProgress: engine.AgentInProgress, sql.RunIdle: engine.AgentIdle, sql.RunRetrying: engine.AgentRetrying, sql.RunFailed: engine.AgentFailed,
		7: engine.AgentUnknown, -1: engine.AgentUnknown}
	for in, out := range want {
		if got := agentStatus(in); got != out {
			t.Errorf("status %d: %s, want %s", int(in), got, out)
		}
	}
}
