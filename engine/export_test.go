package engine

// StepReplication is the picture a step of e sees (Run.Replication), for the external tests.
func StepReplication(e *Engine) *ReplicationView { return e.measuredReplication() }
