// One API call: throttling windows, the request, retries, the envelope and what failures mean.

package lcs

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// endpoint identifies an LCS API for limits, warnings and logs.
type endpoint int

const (
	epRefresh endpoint = iota + 1
	epExport
	epBackups
	epStatus
	epMetadata
	epHistory
	epDeploymentStatus
)

func (e endpoint) String() string {
	switch e {
	case epRefresh:
		return "refresh database"
	case epExport:
		return "export database"
	case epBackups:
		return "list database backups"
	case epStatus:
		return "database operation status"
	case epMetadata:
		return "environment metadata"
	case epHistory:
		return "environment history"
	case epDeploymentStatus:
		return "deployment status"
	}
	return "lcs call"
}

// starts reports whether the endpoint starts an operation (never retried blindly).
func (e endpoint) starts() bool { return e == epRefresh || e == epExport }

// request is one logical API call.
type request struct {
	ep     endpoint
	method string
	path   string // escaped, starting with /
	query  url.Values
	env    string // the environment the call is about (limits, quota hints)
}

// limits are the client-side rate limiters for an endpoint.
func (c *Client) limits(r request) []*window {
	switch r.ep {
	case epMetadata:
		return []*window{c.metadataLimit}
	case epHistory:
		// One environment's window, whichever spelling of its id the caller used.
		key := NormalizeID(r.env)
		c.mu.Lock()
		w, ok := c.historyEnv[key]
		if !ok {
			w = newWindow(historyPerEnv30s, 30*time.Second)
			c.historyEnv[key] = w
		}
		c.mu.Unlock()
		return []*window{c.historyLimit, w}
	}
	return nil
}

// call performs r and checks the answer's envelope. It returns the envelope and the whole body,
// which the endpoint reads field by field (wire.go).
func (c *Client) call(ctx context.Context, r request) (envelope, []byte, error) {
	var (
		reauthed  bool
		throttled int
		failures  int
		lastErr   error
	)
	for {
		if err := waitAll(ctx, c.clock, c.limits(r)...); err != nil {
			return envelope{}, nil, c.ctxError(r, err, false)
		}
		tok, err := c.auth.token(ctx)
		if err != nil {
			return envelope{}, nil, err
		}
		reqID := newRequestID()
		status, hdr, body, err := c.roundTrip(ctx, r, tok, reqID)
		if err != nil {
			if ctx.Err() != nil {
				return envelope{}, nil, c.ctxError(r, ctx.Err(), r.ep.starts())
			}
			if notSent(err) {
				failures++
				lastErr = &APIError{Op: r.ep.String(), Message: transportMessage(err), RequestID: reqID, kind: ErrUnreachable, cause: err,
					Hint: unreachableHint(err, r.ep.starts())}
				if r.ep.starts() || failures >= c.maxAttempts || isCertError(err) {
					return envelope{}, nil, lastErr
				}
				if err := c.clock.Sleep(ctx, c.backoff(failures)); err != nil {
					return envelope{}, nil, c.ctxError(r, err, false)
				}
				continue
			}
			if r.ep.starts() {
				return envelope{}, nil, c.unknownOutcome(r, 0, transportMessage(err), reqID, err)
			}
			failures++
			lastErr = &APIError{Op: r.ep.String(), Message: transportMessage(err), RequestID: reqID, kind: ErrUnreachable, cause: err,
				Hint: "the connection to LCS failed repeatedly; check the network and try again"}
			if failures >= c.maxAttempts {
				return envelope{}, nil, lastErr
			}
			if err := c.clock.Sleep(ctx, c.backoff(failures)); err != nil {
				return envelope{}, nil, c.ctxError(r, err, false)
			}
			continue
		}
		switch {
		case status == http.StatusOK:
			env, err := c.decode(ctx, r, body, reqID)
			return env, body, err
		case status == http.StatusUnauthorized:
			c.auth.invalidate(tok)
			if reauthed {
				return envelope{}, nil, &APIError{Op: r.ep.String(), HTTPStatus: status, Message: "LCS refused a freshly issued token", RequestID: reqID, kind: ErrUnauthorized, Hint: hintForStatus(status, r.ep.String())}
			}
			reauthed = true
			c.log.Debug("lcs: 401, signing in again", "api", r.ep.String(), "request_id", reqID)
			continue
		case status == http.StatusTooManyRequests:
			throttled++
			wait, at := c.retryAfter(hdr)
			if throttled > c.maxThrottle || wait > c.maxRetryAfter {
				return envelope{}, nil, &APIError{Op: r.ep.String(), HTTPStatus: status, Message: "LCS is throttling this API", RequestID: reqID, RetryAt: at, kind: ErrThrottled,
					Hint: "LCS allows only a few calls per minute on this API; try again after " + at.Format(time.RFC3339)}
			}
			c.log.Info("lcs: throttled (429), waiting as LCS asks", "api", r.ep.String(), "retry_after", wait.String(), "request_id", reqID)
			if err := c.clock.Sleep(ctx, wait); err != nil {
				return envelope{}, nil, c.ctxError(r, err, false)
			}
			continue
		case status >= 500:
			if r.ep.starts() {
				return envelope{}, nil, c.unknownOutcome(r, status, fmt.Sprintf("LCS answered %d %s", status, http.StatusText(status)), reqID, nil)
			}
			failures++
			lastErr = &APIError{Op: r.ep.String(), HTTPStatus: status, Message: fmt.Sprintf("LCS answered %d %s %d times", status, http.StatusText(status), failures),
				ActivityID: activityFrom(hdr, body), RequestID: reqID, kind: ErrServer, Hint: hintForStatus(status, r.ep.String())}
			if failures >= c.maxAttempts {
				return envelope{}, nil, lastErr
			}
			if err := c.clock.Sleep(ctx, c.backoff(failures)); err != nil {
				return envelope{}, nil, c.ctxError(r, err, false)
			}
			continue
		default:
			msg := fmt.Sprintf("LCS answered %d %s", status, http.StatusText(status))
			if m := messageFrom(body); m != "" {
				msg += ": " + m
			}
			return envelope{}, nil, &APIError{Op: r.ep.String(), HTTPStatus: status, Message: msg, ActivityID: activityFrom(hdr, body), RequestID: reqID, kind: ErrRejected, Hint: hintForStatus(status, r.ep.String())}
		}
	}
}

// roundTrip sends one attempt and reads the whole answer.
func (c *Client) roundTrip(ctx context.Context, r request, tok, reqID string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.reqTimeout)
	defer cancel()
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("x-ms-version", APIVersion)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-ms-client-request-id", reqID)
	req.Header.Set("User-Agent", "cutover-lcs")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Debug("lcs request failed", "api", r.ep.String(), "method", r.method, "path", r.path, "request_id", reqID, "error", transportMessage(err))
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	c.log.Debug("lcs request", "api", r.ep.String(), "method", r.method, "path", r.path, "status", resp.StatusCode, "request_id", reqID, "elapsed", time.Since(start).Round(time.Millisecond).String())
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// decode checks the envelope of a 200 answer: IsSuccess false is an error, and a start whose
// answer lacks IsSuccess has an unknown outcome.
func (c *Client) decode(ctx context.Context, r request, body []byte, reqID string) (envelope, error) {
	env, err := readEnvelope(body)
	if err != nil {
		e := &APIError{Op: r.ep.String(), HTTPStatus: http.StatusOK, Message: "LCS sent an answer that is not a JSON object", RequestID: reqID, kind: ErrRejected, cause: err,
			Hint: "check the base URL: something other than the LCS API answered"}
		if r.ep.starts() {
			return env, c.unknownOutcome(r, http.StatusOK, e.Message, reqID, err)
		}
		return env, e
	}
	c.noteUnreadable(r.ep, env.notes)
	c.checkEOL(r.ep, env.VersionEOL)
	if env.IsSuccess != nil && !*env.IsSuccess {
		return env, c.rejected(ctx, r, env, reqID)
	}
	if env.IsSuccess == nil && r.ep.starts() {
		return env, c.unknownOutcome(r, http.StatusOK, "LCS sent no IsSuccess", reqID, nil)
	}
	return env, nil
}

// shapeError is the error for an answer whose frame cannot be read at all (not an object, a
// list that is not a list): nothing in it can be kept.
func (c *Client) shapeError(r request, env envelope, err error) error {
	return &APIError{Op: r.ep.String(), HTTPStatus: http.StatusOK, Message: "LCS sent an answer in an unexpected shape: " + err.Error(), ActivityID: env.OperationActivityID, kind: ErrRejected, cause: err,
		Hint: "the LCS API may have changed; check for a newer cutover"}
}

// noteUnreadable warns, once per API and property, about values the client could not read.
func (c *Client) noteUnreadable(ep endpoint, notes []fieldNote) {
	for _, n := range notes {
		c.warnOnce("unreadable:"+ep.String()+":"+strings.ToLower(n.field), Warning{Kind: WarnUnreadable, API: ep.String(),
			Message: fmt.Sprintf("LCS sent a value cutover cannot read: %s; it is left empty and the rest of the answer is used", n.text)})
	}
}

// checkEOL warns once per API when LCS announces a retirement date for its version.
func (c *Client) checkEOL(ep endpoint, raw string) {
	if raw == "" {
		return
	}
	t, err := parseLCSTime(raw)
	if err != nil || t.Year() >= 9999 {
		return
	}
	c.mu.Lock()
	seen := c.eolWarned[ep]
	c.eolWarned[ep] = true
	c.mu.Unlock()
	if !seen {
		c.warn(Warning{Kind: WarnVersionEOL, API: ep.String(), Message: fmt.Sprintf("LCS will retire the API version behind %q on %s: update cutover before then", ep.String(), t.Format("2006-01-02"))})
	}
}

var quotaMessage = regexp.MustCompile(`(?i)maximum allowed api operations are\s+(\d+)\s+from\s+(\S+)`)

// rejected turns an IsSuccess false envelope into an error that says what to do.
func (c *Client) rejected(ctx context.Context, r request, env envelope, reqID string) error {
	msg := ""
	if env.ErrorMessage != nil {
		msg = strings.TrimSpace(*env.ErrorMessage)
	}
	e := &APIError{Op: r.ep.String(), HTTPStatus: http.StatusOK, Message: msg, ActivityID: env.OperationActivityID, RequestID: reqID, kind: ErrRejected}
	if msg == "" {
		e.Message = "LCS answered IsSuccess false without a message"
	}
	switch {
	case r.ep.starts() && quotaMessage.MatchString(msg):
		// Only operations are throttled (dbmovement-api-throttling.md). The quota is read from
		// the history, which never answers with this message itself: were it to, reading the
		// quota again from here would never end.
		e.kind = ErrQuotaExhausted
		m := quotaMessage.FindStringSubmatch(msg)
		q, qerr := c.DatabaseMovementQuota(ctx, r.env)
		if qerr == nil && q.Remaining == 0 && !q.NextSlot.IsZero() {
			e.RetryAt = q.NextSlot
			e.Hint = fmt.Sprintf("%d database operations already started in the last 24 h for environment %s; the next slot opens at %s",
				q.Used, c.envLabel(r.env), q.NextSlot.Format(time.RFC3339))
		} else {
			e.Hint = fmt.Sprintf("LCS allows %s database operations per environment in 24 h and counts them from %s for environment %s; the next slot opens 24 h after the oldest of them started (see the environment history)",
				m[1], m[2], c.envLabel(r.env))
		}
	case r.ep == epRefresh && strings.Contains(strings.ToLower(msg), "production"):
		e.kind = ErrProductionRefreshUnsupported
		e.Hint = productionRefreshHint
	case r.ep.starts():
		e.Hint = "nothing was started; fix the cause LCS gives and try again (source and target must be in the same geography and on the same application release, and no other operation may be running on the environment)"
	default:
		e.Hint = "LCS refused the request; check the project and environment ids"
	}
	return e
}

const productionRefreshHint = "this refresh is not available through the API for a production target: start it in the LCS portal (production environment → Maintain → Move database → Refresh database), choose the upgraded sandbox as the source, then follow it here"

// unknownOutcome is the error for a POST whose result is not known: never retried.
func (c *Client) unknownOutcome(r request, status int, msg, reqID string, cause error) error {
	return &APIError{Op: r.ep.String(), HTTPStatus: status, Message: msg, RequestID: reqID, kind: ErrOutcomeUnknown, cause: cause,
		Hint: fmt.Sprintf("the request may or may not have started the operation, so it was not repeated: look at the environment history of %s (LCS portal or EnvironmentHistory) for an operation started just now before trying again", c.envLabel(r.env))}
}

// ctxError wraps a context error; for a POST it also says the outcome is unknown.
func (c *Client) ctxError(r request, err error, inFlight bool) error {
	if inFlight {
		return &APIError{Op: r.ep.String(), Message: "cancelled while the request was in flight", kind: ErrOutcomeUnknown, cause: err,
			Hint: fmt.Sprintf("the request may or may not have started the operation: look at the environment history of %s before trying again", c.envLabel(r.env))}
	}
	return fmt.Errorf("lcs: %s: %w", r.ep.String(), err)
}

// retryAfter reads Retry-After (seconds or an HTTP date); 10 seconds when absent.
func (c *Client) retryAfter(h http.Header) (time.Duration, time.Time) {
	now := c.clock.Now()
	v := strings.TrimSpace(h.Get("Retry-After"))
	d := 10 * time.Second
	if v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			d = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = max(t.Sub(now), 0)
		}
	}
	return d, now.Add(d)
}

// backoff is the wait after the n-th failed attempt of a read.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffBase
	for i := 1; i < n && d < c.backoffMax; i++ {
		d *= 2
	}
	return min(d, c.backoffMax)
}

// notSent reports whether a transport error happened before the request left (dial, DNS, TLS
// handshake), so nothing can have been started.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return isCertError(err)
}

func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

func unreachableHint(err error, starts bool) string {
	h := "check the network path to LCS and the region"
	if isCertError(err) {
		h = "the server's TLS certificate is not trusted: for the simulator, use its HTTP client or certificate pool"
	}
	if starts {
		h += "; nothing was started"
	}
	return h
}

// transportMessage describes a transport error without the request URL's query.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + redactURL(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

func redactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// activityFrom finds an activity id in an error answer.
func activityFrom(h http.Header, body []byte) string {
	for _, k := range []string{"x-ms-activity-id", "ms-activityid", "x-ms-request-id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	if env, err := readEnvelope(body); err == nil {
		return env.OperationActivityID
	}
	return ""
}

// messageFrom extracts a short message from an error answer's body.
func messageFrom(body []byte) string {
	var m struct {
		ErrorMessage string `json:"ErrorMessage"`
		Message      string `json:"Message"`
		Error        any    `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		for _, s := range []string{m.ErrorMessage, m.Message} {
			if s != "" {
				return truncate(s, 300)
			}
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newRequestID is a random UUID (version 4) for x-ms-client-request-id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
