package runbook

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// NotifyEvent is a milestone of the night that notification targets may hear about.
type NotifyEvent string

// The milestones. What makes each happen is the engine's rule (engine/notify).
const (
	EventDowntimeBegan       NotifyEvent = "downtime.began"
	EventStepFailed          NotifyEvent = "step.failed"
	EventConfirmationWaiting NotifyEvent = "confirmation.waiting"
	EventDrainOpened         NotifyEvent = "drain.opened"
	EventValidationFailed    NotifyEvent = "validation.failed"
	EventValidationPassed    NotifyEvent = "validation.passed"
	EventNoReturnPassed      NotifyEvent = "no-return.passed"
	EventRunCompleted        NotifyEvent = "run.completed"
	EventSourcesLost         NotifyEvent = "sources.lost"
	EventSourcesBack         NotifyEvent = "sources.back"
)

// NotifyEvents lists every milestone, in the order of a night.
var NotifyEvents = []NotifyEvent{EventDowntimeBegan, EventStepFailed, EventConfirmationWaiting, EventDrainOpened,
	EventValidationFailed, EventValidationPassed, EventNoReturnPassed, EventRunCompleted, EventSourcesLost, EventSourcesBack}

// NotifyFormat is the payload a target receives.
type NotifyFormat string

// Notification formats.
const (
	// FormatGeneric is cutover's own JSON document, for any receiver.
	FormatGeneric NotifyFormat = "generic"
	// FormatTeams is a Microsoft Teams Workflows webhook ("Post to a channel when a webhook
	// request is received"): a message with an Adaptive Card attachment.
	FormatTeams NotifyFormat = "teams"
	// FormatSlack is a Slack incoming webhook: text with Block Kit blocks.
	FormatSlack NotifyFormat = "slack"
)

// DefaultConfirmationWait is how long a confirmation may wait before its target hears of it.
const DefaultConfirmationWait = 10 * time.Minute

// Notify is the runbook's notification section: where milestones are announced.
type Notify struct {
	// ConfirmationWait is the default for the targets' confirmation_wait.
	ConfirmationWait time.Duration
	// Tries is how many attempts a delivery gets before it is journaled as failed (default 5);
	// Backoff the wait before the second (doubling, default 30s).
	Tries   int
	Backoff time.Duration
	Targets []NotifyTarget
	Pos     Pos
}

// NotifyTarget is one place notifications go.
type NotifyTarget struct {
	Name string
	Type NotifyFormat
	// URLEnv is the environment variable holding the webhook's URL: the URL carries its own
	// credential, so it is never written in the runbook.
	URLEnv string
	// Events are the milestones the target hears about (all of them when empty).
	Events []NotifyEvent
	// ConfirmationWait is how long a confirmation waits before this target hears of it.
	ConfirmationWait time.Duration
	Pos              Pos
}

// Wants reports whether the target hears about the milestone.
func (t NotifyTarget) Wants(ev NotifyEvent) bool {
	if len(t.Events) == 0 {
		return true
	}
	for _, e := range t.Events {
		if e == ev {
			return true
		}
	}
	return false
}

// HTTP is the runbook's section for the web status page and /metrics.
type HTTP struct {
	// Certificate and Key are PEM files: with them the page and /metrics are served over TLS.
	Certificate string
	Key         string
	// Private lists words (host names, server names, anything) never shown on the page, in
	// /metrics or in notifications: each is replaced by "•••".
	Private []string
	// WorstTables is how many tables /metrics lists one by one (default 20, at most 500).
	WorstTables int
	Pos         Pos
}

// DefaultWorstTables is how many tables /metrics lists by default.
const DefaultWorstTables = 20

var targetNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) notify(n *yaml.Node) *Notify {
	d := &p.d
	const where = "notify"
	nt := &Notify{Pos: posOf(n), ConfirmationWait: DefaultConfirmationWait, Tries: 5, Backoff: 30 * time.Second}
	var targets *yaml.Node
	present := d.Fields(n, where, map[string]Field{
		"confirmation_wait": func(v *yaml.Node) { nt.ConfirmationWait = d.Duration(v, where, "confirmation_wait") },
		"tries":             func(v *yaml.Node) { nt.Tries = d.Int(v, where, "tries", 1, 20) },
		"backoff":           func(v *yaml.Node) { nt.Backoff = d.Duration(v, where, "backoff") },
		"targets":           func(v *yaml.Node) { targets = v },
	})
	d.Require(n, where, present, "targets")
	if nt.ConfirmationWait <= 0 {
		nt.ConfirmationWait = DefaultConfirmationWait
	}
	if nt.Tries <= 0 {
		nt.Tries = 5
	}
	if targets == nil {
		return nt
	}
	if targets.Kind != yaml.SequenceNode {
		d.Errorf(targets, where, "targets: expected a list of {name, type, url_env}, found %s", describe(targets))
		return nt
	}
	if len(targets.Content) == 0 {
		d.Errorf(targets, where, "targets: the list is empty")
	}
	seen := map[string]Pos{}
	for _, tn := range targets.Content {
		tn = resolve(tn)
		t := p.notifyTarget(tn, nt.ConfirmationWait)
		if t.Name == "" {
			continue
		}
		if first, dup := seen[t.Name]; dup {
			d.Errorf(tn, where, "target %q is defined twice (first at line %d)", t.Name, first.Line)
			continue
		}
		seen[t.Name] = t.Pos
		nt.Targets = append(nt.Targets, t)
	}
	return nt
}

func (p *parser) notifyTarget(n *yaml.Node, wait time.Duration) NotifyTarget {
	d := &p.d
	t := NotifyTarget{Pos: posOf(n), ConfirmationWait: wait}
	where := "notify target"
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := resolve(n.Content[i]), resolve(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				where = "notify target " + quote(v.Value)
			}
		}
	}
	var envNode *yaml.Node
	present := d.Fields(n, where, map[string]Field{
		"name": func(v *yaml.Node) {
			t.Name = d.NonEmpty(v, where, "name")
			if t.Name != "" && !targetNamePattern.MatchString(t.Name) {
				d.Errorf(v, where, "name: %q may only use letters, digits, '.', '_' and '-'", t.Name)
				t.Name = ""
			}
		},
		"type": func(v *yaml.Node) {
			t.Type = NotifyFormat(d.Enum(v, where, "type", string(FormatGeneric), string(FormatTeams), string(FormatSlack)))
		},
		"url": func(v *yaml.Node) {
			d.Errorf(v, where, "url: inline webhook URLs are refused (the URL is the credential); put it in an environment variable and name it with url_env")
		},
		"url_env": func(v *yaml.Node) { t.URLEnv = d.NonEmpty(v, where, "url_env"); envNode = v },
		"events": func(v *yaml.Node) {
			words, pos := d.StringsPos(v, where, "events")
			allowed := make([]string, len(NotifyEvents))
			for i, e := range NotifyEvents {
				allowed[i] = string(e)
			}
			for i, w := range words {
				if !contains(allowed, w) {
					if hint := suggest(w, allowed); hint != "" {
						d.ErrorAt(pos[i], where, "events: unknown milestone %q (did you mean %q?)", w, hint)
					} else {
						d.ErrorAt(pos[i], where, "events: unknown milestone %q (known: %s)", w, strings.Join(allowed, ", "))
					}
					continue
				}
				t.Events = append(t.Events, NotifyEvent(w))
			}
		},
		"confirmation_wait": func(v *yaml.Node) {
			if w := d.Duration(v, where, "confirmation_wait"); w > 0 {
				t.ConfirmationWait = w
			} else {
				d.Errorf(v, where, "confirmation_wait: must be longer than 0s")
			}
		},
	})
	d.Require(n, where, present, "name", "type", "url_env")
	if t.URLEnv != "" && !p.opts.SkipSecretChecks {
		if v, ok := p.opts.LookupEnv(t.URLEnv); !ok || v == "" {
			d.Errorf(envNode, where, "url_env: environment variable %s is not set (export the webhook's URL in the shell that runs cutover)", t.URLEnv)
		} else if err := CheckWebhookURL(v); err != nil {
			// The value is a secret: the problem names the variable, never its content.
			d.Errorf(envNode, where, "url_env: the URL in %s %v", t.URLEnv, err)
		}
	}
	return t
}

// CheckWebhookURL checks a webhook's URL: absolute, https (plain http only to this machine: the
// URL and the message would cross the network in clear). The error never repeats the URL, which
// is a credential.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return errString("is not an absolute URL (https://…)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return errString("must use https (plain http only to this machine: 127.0.0.1, ::1, localhost)")
		}
	default:
		return errString("must use https")
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quote(s string) string { return `"` + s + `"` }

func (p *parser) http(n *yaml.Node) *HTTP {
	d := &p.d
	const where = "http"
	h := &HTTP{Pos: posOf(n), WorstTables: DefaultWorstTables}
	var certNode, keyNode *yaml.Node
	d.Fields(n, where, map[string]Field{
		"certificate":  func(v *yaml.Node) { h.Certificate = p.file(v, where, "certificate"); certNode = v },
		"key":          func(v *yaml.Node) { h.Key = p.file(v, where, "key"); keyNode = v },
		"private":      func(v *yaml.Node) { h.Private = p.privateWords(v) },
		"worst_tables": func(v *yaml.Node) { h.WorstTables = d.Int(v, where, "worst_tables", 1, 500) },
	})
	switch {
	case h.Certificate != "" && h.Key == "" && keyNode == nil:
		d.Errorf(certNode, where, "certificate needs key (the certificate's private key file)")
	case h.Key != "" && h.Certificate == "" && certNode == nil:
		d.Errorf(keyNode, where, "key needs certificate")
	}
	return h
}

// file decodes a path relative to the runbook's folder and checks the file can be read.
func (p *parser) file(v *yaml.Node, where, key string) string {
	path := p.d.NonEmpty(v, where, key)
	if path == "" {
		return ""
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.rb.Dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		p.d.Errorf(v, where, "%s: %s cannot be read: %v", key, path, unwrapPath(err))
	}
	return path
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func (p *parser) privateWords(v *yaml.Node) []string {
	words, pos := p.d.StringsPos(v, "http", "private")
	var out []string
	for i, w := range words {
		w = strings.TrimSpace(w)
		if len(w) < 3 {
			// Hiding "a" or "db" would shred the page: refuse it.
			p.d.ErrorAt(pos[i], "http", "private: %q is too short to hide (3 characters at least)", w)
			continue
		}
		out = append(out, w)
	}
	return out
}

// PrivateWords is everything the web page, /metrics and notifications must never show: the http
// section's private words, the host names of the connections, the AOS hosts and LCS's addresses,
// and the values of every secret the runbook names (read with lookupEnv and from the files).
// Secrets come first, then the longest words, so a word inside another is hidden with it.
func (r *Runbook) PrivateWords(lookupEnv func(string) (string, bool)) []string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var secrets, words []string
	addSecret := func(s string) {
		if s = strings.TrimSpace(s); len(s) >= 3 {
			secrets = append(secrets, s)
		}
	}
	env := func(name string) {
		if name != "" {
			if v, ok := lookupEnv(name); ok {
				addSecret(v)
			}
		}
	}
	file := func(path string) {
		if path == "" {
			return
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.Dir, path)
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
			addSecret(string(b))
		}
	}
	host := func(s string) {
		if i := strings.IndexAny(s, "\\,"); i >= 0 {
			s = s[:i] // server\instance, server,port
		}
		if h, _, err := net.SplitHostPort(s); err == nil {
			s = h
		}
		s = strings.Trim(s, "[]")
		if len(s) >= 3 && !strings.EqualFold(s, "localhost") && s != "(local)" {
			words = append(words, s)
		}
	}
	for _, c := range []*Connection{r.Connections.Source, r.Connections.Distribution, r.Connections.Target} {
		if c == nil {
			continue
		}
		host(c.Server)
		env(c.PasswordEnv)
		file(c.PasswordFile)
	}
	if r.AOS != nil {
		for _, in := range r.AOS.Instances {
			host(in.Host)
		}
	}
	if l := r.LCS; l != nil {
		env(l.PasswordEnv)
		env(l.ClientSecretEnv)
		env(l.TokenEnv)
		file(l.PasswordFile)
		file(l.ClientSecretFile)
		for _, raw := range []string{l.BaseURL, l.AuthorityURL} {
			if u, err := url.Parse(raw); err == nil && u.Host != "" {
				host(u.Host)
			}
		}
	}
	if r.Notify != nil {
		for _, t := range r.Notify.Targets {
			env(t.URLEnv)
		}
	}
	if r.HTTP != nil {
		words = append(words, r.HTTP.Private...)
	}
	sortLongestFirst(secrets)
	sortLongestFirst(words)
	out := make([]string, 0, len(secrets)+len(words))
	seen := map[string]bool{}
	for _, w := range append(secrets, words...) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func sortLongestFirst(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
