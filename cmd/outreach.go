package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/notify"
	"cutover/engine/runbook"
	"cutover/tui"
	"cutover/tui/web"
)

// webURLFile keeps the page's address (without the token) in the state directory, for `cutover
// http revoke` to print the new link.
const webURLFile = "http.url"

// notifyFlushTimeout bounds how long the end of a run waits for its last notifications.
const notifyFlushTimeout = 15 * time.Second

// outreach is the web page and the notifier of one engine run (either may be absent).
type outreach struct {
	web      *web.Server
	notifier *notify.Notifier
	cancel   context.CancelFunc
	done     chan struct{}
	e        *engine.Engine
}

// startOutreach opens the web page (listening; it follows the engine at once) and prepares the
// notifier; start begins the notifications once the engine runs.
func startOutreach(rb *runbook.Runbook, e *engine.Engine, rf runFlags, clk clock.Clock, watchers func() []tui.Presence, stdout io.Writer) (*outreach, error) {
	o := &outreach{e: e}
	private := rb.PrivateWords(os.LookupEnv)
	if rb.Notify != nil && len(rb.Notify.Targets) > 0 {
		if clk == nil {
			clk = clock.Real()
		}
		n, err := notify.New(e, rb.Notify, notify.Options{Clock: clk, Private: private})
		if err != nil {
			return nil, err
		}
		o.notifier = n
		names := make([]string, 0, len(rb.Notify.Targets))
		for _, t := range rb.Notify.Targets {
			names = append(names, t.Name+" ("+string(t.Type)+")")
		}
		fmt.Fprintf(stdout, "notify: milestones go to %s\n", strings.Join(names, ", "))
	}
	addr := strings.TrimSpace(*rf.http)
	if addr == "" || addr == "off" {
		return o, nil
	}
	tok, created, err := web.LoadOrCreateToken(e.StateDir())
	if err != nil {
		return nil, err
	}
	opts := web.Options{Addr: addr, StateDir: e.StateDir(), Token: tok, Private: private,
		Logf: func(format string, args ...any) { e.Logf(engine.LevelWarn, "", format, args...) }}
	if h := rb.HTTP; h != nil {
		opts.Certificate, opts.Key, opts.WorstTables = h.Certificate, h.Key, h.WorstTables
	}
	opts.Watchers = watchers
	srv, err := web.New(e, opts)
	if err != nil {
		return nil, err
	}
	if _, err := srv.Listen(); err != nil {
		return nil, err
	}
	o.web = srv
	go func() {
		if err := srv.Serve(); err != nil {
			e.Logf(engine.LevelError, "", "web: %v", err)
		}
	}()
	_ = os.WriteFile(filepath.Join(e.StateDir(), webURLFile), []byte(srv.URL()+"\n"), 0o600)
	tokenFile := filepath.Join(e.StateDir(), web.TokenFileName)
	if created {
		// The token is printed this once; it stays in the state directory (0600).
		fmt.Fprintf(stdout, "web: status page %s (read-only; share it only with who may look)\n", srv.Link())
		fmt.Fprintf(stdout, "web: metrics %smetrics (Prometheus: bearer token from %s)\n", srv.URL(), tokenFile)
	} else {
		fmt.Fprintf(stdout, "web: status page %s — open it with the link printed when the token was made (its token is in %s; `cutover http revoke` makes a new one)\n", srv.URL(), tokenFile)
		fmt.Fprintf(stdout, "web: metrics %smetrics (bearer token from %s)\n", srv.URL(), tokenFile)
	}
	e.Logf(engine.LevelInfo, "", "web: status page and /metrics on %s (token in %s)", srv.URL(), tokenFile)
	return o, nil
}

// start begins the notifications (the engine has started).
func (o *outreach) start() {
	if o == nil || o.notifier == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go func() { defer close(o.done); o.notifier.Run(ctx) }()
}

// flush waits a little for the last notifications before the engine stops (they are journaled;
// what is still out after the wait is sent again on the next start).
func (o *outreach) flush(stdout io.Writer) {
	if o == nil || o.notifier == nil || o.done == nil {
		return
	}
	if n := o.notifier.Pending(); n > 0 {
		fmt.Fprintf(stdout, "notify: waiting up to %s for %d notification(s) to be delivered\n", notifyFlushTimeout, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyFlushTimeout)
	defer cancel()
	if !o.notifier.Flush(ctx) {
		fmt.Fprintf(stdout, "notify: %d notification(s) not delivered yet; they are sent again when this run is started again\n", o.notifier.Pending())
	}
	o.cancel()
	<-o.done
}

// close stops the web page.
func (o *outreach) close() {
	if o == nil {
		return
	}
	if o.cancel != nil {
		o.cancel()
		<-o.done
	}
	if o.web != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.web.Shutdown(ctx)
	}
}

// printOutreach is `cutover check`'s word on the notification targets and the web page.
func printOutreach(w io.Writer, rb *runbook.Runbook) {
	if n := rb.Notify; n != nil {
		for _, t := range n.Targets {
			events := "every milestone"
			if len(t.Events) > 0 {
				words := make([]string, len(t.Events))
				for i, ev := range t.Events {
					words[i] = string(ev)
				}
				events = strings.Join(words, ", ")
			}
			fmt.Fprintf(w, "  notify:       %s (%s, URL from $%s): %s; confirmations waiting %s\n", t.Name, t.Type, t.URLEnv, events,
				runbook.FormatDuration(t.ConfirmationWait))
		}
	}
	if h := rb.HTTP; h != nil {
		tlsWord := "plain HTTP (loopback unless --http names another address)"
		if h.Certificate != "" {
			tlsWord = "HTTPS with " + h.Certificate
		}
		fmt.Fprintf(w, "  web page:     %s; %d private word(s) hidden; /metrics lists the %d worst tables\n", tlsWord, len(h.Private), h.WorstTables)
	}
}
