package engine

import (
	"errors"
	"net/http"
	"testing"
)

// TestSmokeHTTPRedirectKeepsTokensOffClearText: Go keeps the Authorization header on a redirect
// to the same host whatever the scheme, so the check's client refuses a redirect that would carry
// a token over clear-text http to another machine; to this machine, or without a token, or over
// https, it follows.
func TestSmokeHTTPRedirectKeepsTokensOffClearText(t *testing.T) {
	c := (&smokeHTTPAction{}).client()
	for _, tc := range []struct {
		to     string
		bearer bool
		refuse bool
	}{
		{"http://contoso.operations.dynamics.com/", true, true},
		{"http://10.0.0.7:8080/", true, true},
		{"https://contoso.operations.dynamics.com/", true, false},
		{"http://127.0.0.1:8080/", true, false},
		{"http://localhost/", true, false},
		{"http://contoso.operations.dynamics.com/", false, false},
	} {
		req, err := http.NewRequest(http.MethodGet, tc.to, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.bearer {
			req.Header.Set("Authorization", "Bearer tok")
		}
		err = c.CheckRedirect(req, []*http.Request{req})
		if refused := errors.Is(err, errClearTextRedirect); refused != tc.refuse {
			t.Errorf("redirect to %s (token %v): %v", tc.to, tc.bearer, err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "https://contoso.example/", nil)
	if err := c.CheckRedirect(req, make([]*http.Request, 10)); err == nil {
		t.Error("followed an eleventh redirect")
	}
}
