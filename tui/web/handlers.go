package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

//go:embed page.html
var pageHTML []byte

// cookieName is the session cookie a valid link is exchanged for.
const cookieName = "cutover_session"

// csp allows the page nothing but itself: its own inline script and style (by hash) and its own
// event stream. No other origin is ever contacted, and nothing loads from the network.
var csp = func() string {
	hash := func(tag string) string {
		m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindSubmatch(pageHTML)
		if m == nil {
			panic("web: page.html has no <" + tag + ">") // the embedded file is part of the build
		}
		sum := sha256.Sum256(m[1])
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + hash("script") + "; style-src " + hash("style") +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// guard is every request's gate: only GET and HEAD (nothing here changes anything), the
// security headers, and the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		if s.tls {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "this page is read-only: nothing here changes the run", http.StatusMethodNotAllowed)
			return
		}
		switch s.authorize(r) {
		case authOK:
			next.ServeHTTP(w, r)
		case authLink:
			// The link's token is exchanged for a session cookie derived from it, and leaves the
			// address bar (and the history) at once.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: session(r.URL.Query().Get("token")), Path: "/", HttpOnly: true,
				Secure: s.tls, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			h.Set("WWW-Authenticate", `Bearer realm="cutover"`)
			http.Error(w, "401 unauthorized: open the link with its token that cutover printed (or send it as a bearer token)", http.StatusUnauthorized)
		}
	})
}

// auth is what a request's credentials allow.
type auth int

const (
	authNone auth = iota
	authOK
	// authLink is the page's link with a valid token: answered with the session cookie.
	authLink
)

// authorize checks the bearer token, the link's token, or the session cookie.
func (s *Server) authorize(r *http.Request) auth {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if ok && s.tokens.matches(strings.TrimSpace(tok)) {
			return authOK
		}
		return authNone
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		switch {
		case !s.tokens.matches(tok):
			return authNone
		case r.URL.Path == "/":
			return authLink
		}
		return authOK
	}
	if c, err := r.Cookie(cookieName); err == nil && s.tokens.sessionMatches(c.Value) {
		return authOK
	}
	return authNone
}

// page serves the one-file status page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(pageHTML))
}

// state serves the current view as JSON (what the page shows, for scripts).
func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if b := s.current.Load(); b != nil {
		w.Write(*b)
		return
	}
	w.Write([]byte("{}"))
}

// events streams the view to a page: the current one at once, then every new one, and the
// engine's time every Tick (the page ages its figures with it). A revoked token ends the stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	c := &client{views: make(chan []byte, 1)}
	s.mu.Lock()
	if len(s.clients) >= s.opts.MaxViewers {
		s.mu.Unlock()
		http.Error(w, "too many open pages; try again later", http.StatusServiceUnavailable)
		return
	}
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	s.touch()
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		s.touch()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "retry: 3000\n\n")
	if b := s.current.Load(); b != nil {
		writeEvent(w, "view", *b)
	}
	fl.Flush()
	tick := time.NewTicker(s.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case b := <-c.views:
			writeEvent(w, "view", b)
		case <-tick.C:
			if !s.stillAllowed(r) {
				writeEvent(w, "revoked", []byte(`{}`))
				fl.Flush()
				return
			}
			fmt.Fprintf(w, "event: tick\ndata: {\"now\":%q}\n\n", s.e.Now().UTC().Format(time.RFC3339Nano))
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
		fl.Flush()
	}
}

// stillAllowed checks an open stream's credentials again (the token may have been revoked).
func (s *Server) stillAllowed(r *http.Request) bool { return s.authorize(r) == authOK }

func writeEvent(w http.ResponseWriter, name string, data []byte) {
	fmt.Fprintf(w, "event: %s\ndata: ", name)
	w.Write(data)
	w.Write([]byte("\n\n"))
}
