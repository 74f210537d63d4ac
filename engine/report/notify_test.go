package report_test

import (
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/report"
)

// Every journaled delivery is in the report, the failed ones marked; a run without notification
// targets says so.
func TestNotificationsSection(t *testing.T) {
	rb := parseRunbook(t, t.TempDir(), testRunbook)
	w := newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{Runbook: rb.File, RunbookHash: rb.Hash, Name: rb.Name, Steps: len(rb.Steps)})
	w.add(time.Second, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 1, RunbookHash: rb.Hash})
	w.add(time.Minute, engine.RecNotifySent, "", engine.NotifyDelivery{Milestone: "downtime.began", Event: "downtime.began", Target: "ops",
		Format: "teams", Title: "Downtime began: Contoso", Tries: 1})
	w.add(time.Minute, engine.RecNotifyFailed, "", engine.NotifyDelivery{Milestone: "step.failed/aos-stop/1", Event: "step.failed", Target: "pm",
		Format: "slack", Title: "FAILED: Shut down the AOS", Step: "aos-stop", Tries: 5, Error: "HTTP 503"})
	path, _ := w.close()
	r, md, html := build(t, report.Options{Runbook: rb, Journal: path})
	if len(r.Notifications) != 2 || !r.Notifications[0].Sent || r.Notifications[1].Sent || r.Notifications[1].Tries != 5 {
		t.Fatalf("notifications: %+v", r.Notifications)
	}
	mustContain(t, "Markdown", md, "\n## Notifications\n", "**1 message(s) delivered, 1 failed.**", "| ops (teams) | downtime.began | Downtime began: Contoso | sent (1 try) |",
		"| pm (slack) | step.failed | FAILED: Shut down the AOS | FAILED after 5 tries: HTTP 503 |")
	mustContain(t, "HTML", html, "<section id=\"notifications\">\n<h2>Notifications</h2>", "FAILED after 5 tries: HTTP 503")

	w = newWriter(t, t0)
	w.add(0, engine.RecRunOpened, "", engine.RunOpened{Runbook: rb.File, RunbookHash: rb.Hash, Name: rb.Name, Steps: len(rb.Steps)})
	path, _ = w.close()
	_, md, _ = build(t, report.Options{Runbook: rb, Journal: path})
	if !strings.Contains(md, "None: no milestone was announced") {
		t.Errorf("a run without notifications:\n%s", md)
	}
}
