package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cutover/engine/runbook"
)

// GenericSchema names the generic JSON document's shape; it changes when a field changes meaning.
const GenericSchema = "cutover.notification/1"

// Generic is the document a generic webhook receives.
type Generic struct {
	Schema   string   `json:"schema"`
	Event    string   `json:"event"`
	Key      string   `json:"key"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Text     string   `json:"text"`
	// At is when the milestone happened (engine time, RFC 3339).
	At   time.Time `json:"at"`
	Step string    `json:"step,omitempty"`
	// Run is the run the milestone belongs to.
	Run   GenericRun `json:"run"`
	Facts []Fact     `json:"facts"`
	Test  bool       `json:"test,omitempty"`
}

// GenericRun names the run in a generic document.
type GenericRun struct {
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
	Rehearsal   bool   `json:"rehearsal,omitempty"`
}

// payload renders a milestone in a target's format.
func payload(format runbook.NotifyFormat, m Milestone, run GenericRun) ([]byte, error) {
	switch format {
	case runbook.FormatTeams:
		return json.Marshal(teamsMessage(m))
	case runbook.FormatSlack:
		return json.Marshal(slackMessage(m))
	case runbook.FormatGeneric:
		facts := m.Facts
		if facts == nil {
			facts = []Fact{}
		}
		return json.Marshal(Generic{Schema: GenericSchema, Event: string(m.Event), Key: m.Key, Severity: m.Severity, Title: m.Title,
			Text: m.Text, At: m.At.UTC(), Step: m.Step, Run: run, Facts: facts, Test: m.Test})
	}
	return nil, fmt.Errorf("unknown notification format %q", format)
}

// The Microsoft Teams message follows "Send Adaptive Cards using an Incoming Webhook"
// (MicrosoftDocs/msteams-docs, msteams-platform/webhooks-and-connectors/how-to/connectors-using.md):
// a "message" whose attachments hold one card of content type application/vnd.microsoft.card.adaptive
// with contentUrl null. Microsoft replaces the connectors with Workflows (create-workflows.md);
// the Workflows template "Post to a channel when a webhook request is received" takes the same
// body and posts the attachment's card. The documents are silent on that trigger's answer: any
// 2xx is taken as delivered (the flow answers 202 Accepted). The card uses schema 1.4 elements
// only: TextBlock (text, wrap, weight, size, color, isSubtle) and FactSet (facts of title and
// value), as the Adaptive Cards schema documents them; color is one of the schema's Colors.

type teamsEnvelope struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string `json:"$schema"`
	Type    string `json:"type"`
	Version string `json:"version"`
	Body    []any  `json:"body"`
}

type textBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Weight   string `json:"weight,omitempty"`
	Size     string `json:"size,omitempty"`
	Color    string `json:"color,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
}

type factSet struct {
	Type  string      `json:"type"`
	Facts []cardFacts `json:"facts"`
}

type cardFacts struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// teamsColor is the Adaptive Card colour of a severity (one of the schema's Colors).
func teamsColor(s Severity) string {
	switch s {
	case SeverityCritical:
		return "attention"
	case SeverityWarning:
		return "warning"
	case SeverityGood:
		return "good"
	}
	return "default"
}

// TeamsContentType is the attachment content type of an Adaptive Card.
const TeamsContentType = "application/vnd.microsoft.card.adaptive"

func teamsMessage(m Milestone) teamsEnvelope {
	body := []any{
		textBlock{Type: "TextBlock", Text: severityLabel(m) + m.Title, Wrap: true, Weight: "Bolder", Size: "Medium", Color: teamsColor(m.Severity)},
		textBlock{Type: "TextBlock", Text: m.Text, Wrap: true},
	}
	if len(m.Facts) > 0 {
		fs := factSet{Type: "FactSet"}
		for _, f := range m.Facts {
			fs.Facts = append(fs.Facts, cardFacts{Title: f.Name, Value: f.Value})
		}
		body = append(body, fs)
	}
	body = append(body, textBlock{Type: "TextBlock", Text: footer(m), Wrap: true, Size: "Small", IsSubtle: true})
	return teamsEnvelope{Type: "message", Attachments: []teamsAttachment{{ContentType: TeamsContentType, ContentURL: nil,
		Content: adaptiveCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4", Body: body}}}}
}

// severityLabel puts the severity in words before a title (colour is never the only signal).
func severityLabel(m Milestone) string {
	prefix := ""
	if m.Test {
		prefix = "[TEST] "
	}
	switch m.Severity {
	case SeverityCritical:
		return prefix + "[CRITICAL] "
	case SeverityWarning:
		return prefix + "[WARNING] "
	}
	return prefix
}

func footer(m Milestone) string {
	return fmt.Sprintf("cutover · %s · %s · %s", m.Event, m.Severity, m.At.UTC().Format("2006-01-02 15:04 UTC"))
}

// The Slack message follows Slack's "Sending messages using incoming webhooks": a JSON body with
// text (the notification's fallback) and Block Kit blocks — a header (plain_text, at most 150
// characters), sections of mrkdwn text and fields (at most 10 fields a section, 2000 characters
// a field), and a context line. In mrkdwn &, < and > are escaped as &amp;, &lt; and &gt;.

type slackBody struct {
	Text   string `json:"text"`
	Blocks []any  `json:"blocks"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func slackMessage(m Milestone) slackBody {
	title := severityLabel(m) + m.Title
	b := slackBody{Text: clip(title+" — "+m.Text, 3000)}
	b.Blocks = append(b.Blocks,
		slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(title, 150), Emoji: true}},
		slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: clip(slackEscaper.Replace(m.Text), 3000)}})
	var fields []slackText
	for _, f := range m.Facts {
		fields = append(fields, slackText{Type: "mrkdwn", Text: clip("*"+slackEscaper.Replace(f.Name)+"*\n"+slackEscaper.Replace(f.Value), 2000)})
	}
	for len(fields) > 0 {
		n := min(len(fields), 10)
		b.Blocks = append(b.Blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}
	b.Blocks = append(b.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: slackEscaper.Replace(footer(m))}}})
	return b
}
