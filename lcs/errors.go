package lcs

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors; every error the client returns for a failed call is an *APIError that matches
// one of these with errors.Is when the cause is one of these situations.
var (
	// ErrThrottled: LCS kept answering 429 beyond the client's retry budget, or asked to wait
	// longer than the client is willing to.
	ErrThrottled = errors.New("LCS is throttling requests")
	// ErrQuotaExhausted: the environment has used its 3 database movement operations of the
	// rolling 24 hours.
	ErrQuotaExhausted = errors.New("database movement quota exhausted")
	// ErrUnauthorized: LCS refused the token even after one fresh sign-in, or sign-in failed.
	ErrUnauthorized = errors.New("not authorized by LCS")
	// ErrProductionRefreshUnsupported: a refresh into a production environment cannot be started
	// through the API; it is started in the LCS portal.
	ErrProductionRefreshUnsupported = errors.New("refresh into production is not available through the API")
	// ErrOutcomeUnknown: a request that starts an operation may or may not have reached LCS (a 5xx,
	// a dropped connection, a timeout). It is never retried; look at the environment history.
	ErrOutcomeUnknown = errors.New("outcome of the request is unknown")
	// ErrRejected: LCS answered IsSuccess false for another reason (the message says which).
	ErrRejected = errors.New("LCS rejected the request")
	// ErrSignIn: signing in to Entra ID failed (wrong password, MFA needed, code expired, …).
	ErrSignIn = errors.New("sign-in to Entra ID failed")
	// ErrUnreachable: LCS could not be reached (connection refused, DNS, TLS), so nothing was sent.
	ErrUnreachable = errors.New("LCS could not be reached")
	// ErrServer: LCS kept answering a read with server errors (5xx).
	ErrServer = errors.New("LCS server error")
	// ErrNotFound: LCS has no environment with that id or name in the project.
	ErrNotFound = errors.New("not found in the LCS project")
)

// APIError is a failed LCS call: what LCS said, where, and what to do about it.
type APIError struct {
	// Op names the call, e.g. "refresh database".
	Op string
	// HTTPStatus is the HTTP status of the last response (200 for an IsSuccess false envelope;
	// 0 when no response arrived).
	HTTPStatus int
	// Message is what LCS (or the transport) said.
	Message string
	// ActivityID is the LCS activity id of the response, when it had one; quote it to support.
	ActivityID string
	// RequestID is the client request id the client sent (x-ms-client-request-id).
	RequestID string
	// Hint says what to do next.
	Hint string
	// RetryAt is when trying again can work (the next quota slot, the end of a throttle), if known.
	RetryAt time.Time

	kind  error
	cause error
	// transient marks a failure waiting can cure although its kind is usually final: a sign-in
	// that failed on the network, or because Entra ID was throttling or failing.
	transient bool
}

// Error is one line: the call, what LCS said, the ids, and the hint. It never contains a token,
// password or secret.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("lcs: ")
	b.WriteString(e.Op)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(e.kind.Error())
	}
	var ids []string
	if e.HTTPStatus != 0 {
		ids = append(ids, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if e.ActivityID != "" {
		ids = append(ids, "activity "+e.ActivityID)
	}
	if e.RequestID != "" {
		ids = append(ids, "request "+e.RequestID)
	}
	if len(ids) > 0 {
		b.WriteString(" (" + strings.Join(ids, ", ") + ")")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap exposes the sentinel kind and the underlying cause to errors.Is and errors.As.
func (e *APIError) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// Permanent reports whether waiting and asking again cannot help: sign-in was refused,
// the project or environment is unknown, the call is not offered for this target, or LCS refused
// the request itself (HTTP 400, 403, 404). Throttling, server errors, lost answers and an
// unreachable LCS are not permanent. The engine's steps read it through errors.As.
func (e *APIError) Permanent() bool {
	if e.transient {
		return false
	}
	for _, k := range []error{ErrSignIn, ErrUnauthorized, ErrNotFound, ErrProductionRefreshUnsupported} {
		if errors.Is(e.kind, k) {
			return true
		}
	}
	switch e.HTTPStatus {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

// IsPermanent reports whether err is an LCS error that waiting cannot fix (see APIError.Permanent).
func IsPermanent(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Permanent()
}

// hintForStatus suggests what to do about an unexpected HTTP status.
func hintForStatus(status int, op string) string {
	switch {
	case status == http.StatusUnauthorized:
		return "LCS refused the token twice: check that the signed-in user is Project Owner or Environment Admin on the project and has accepted the invitation, that the app registration has the Dynamics Lifecycle services user_impersonation permission, and that the environment is not a Tier-1 (cloud-hosted) environment, which the database movement API does not support"
	case status == http.StatusForbidden:
		return "the signed-in user lacks permission on this project or environment: ask a Project Owner to add them as Environment Admin"
	case status == http.StatusNotFound:
		return "LCS does not know this project or environment here: check the project id, the environment ids and the region (a project lives in exactly one LCS geography)"
	case status == http.StatusBadRequest && strings.Contains(op, "refresh"):
		return "LCS refused the request: source and target must be in the same geography, on the same application release, and the target must be a self-service sandbox"
	case status >= 500:
		return "LCS had a server error; try again in a few minutes and check the LCS service status"
	}
	return "unexpected answer from LCS; check the region, project id and environment ids"
}
