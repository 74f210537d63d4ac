package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
)

// SmokeHTTPKind checks a URL: the status and, optionally, a pattern in the body. A bearer token
// (an Entra ID token for Dynamics 365) can be taken from an environment variable.
type SmokeHTTPKind struct{}

// Name implements Kind.
func (SmokeHTTPKind) Name() string { return "smoke.http" }

// Mode implements Kind.
func (SmokeHTTPKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {url, method, expect_status, expect_body, bearer_env, request_timeout}`.
func (SmokeHTTPKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &smokeHTTPAction{method: http.MethodGet, status: http.StatusOK, timeout: 30 * time.Second}
	present := d.Fields(with, where, map[string]runbook.Field{
		"url": func(v *yaml.Node) { a.url = d.NonEmpty(v, where, "url") },
		"method": func(v *yaml.Node) {
			a.method = strings.ToUpper(d.Enum(v, where, "method", "GET", "HEAD", "get", "head"))
		},
		"expect_status": func(v *yaml.Node) { a.status = d.Int(v, where, "expect_status", 100, 599) },
		"expect_body": func(v *yaml.Node) {
			pat := d.NonEmpty(v, where, "expect_body")
			re, err := regexp.Compile(pat)
			if err != nil {
				d.Errorf(v, where, "expect_body: not a regular expression: %v", err)
				return
			}
			a.body = re
		},
		"bearer_env":      func(v *yaml.Node) { a.bearerEnv = d.NonEmpty(v, where, "bearer_env") },
		"request_timeout": func(v *yaml.Node) { a.timeout = d.Duration(v, where, "request_timeout") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind smoke.http needs `with: {url: https://…}`")
		return a
	}
	d.Require(with, where, present, "url")
	if a.url != "" && !strings.HasPrefix(a.url, "https://") && !strings.HasPrefix(a.url, "http://") {
		d.Errorf(present["url"], where, "url: %q is not an http(s) URL", a.url)
	}
	return a
}

type smokeHTTPAction struct {
	url, method string
	status      int
	body        *regexp.Regexp
	bearerEnv   string
	timeout     time.Duration
}

func (a *smokeHTTPAction) Describe() string {
	desc := fmt.Sprintf("%s %s expecting HTTP %d", a.method, a.url, a.status)
	if a.body != nil {
		desc += fmt.Sprintf(" and a body matching %q", a.body.String())
	}
	return desc
}

// Rerunnable: it only reads.
func (a *smokeHTTPAction) Rerunnable() bool { return true }

func (a *smokeHTTPAction) Run(ctx context.Context, run *Run) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.method, a.url, nil)
	if err != nil {
		return Permanent(err)
	}
	if a.bearerEnv != "" {
		tok := os.Getenv(a.bearerEnv)
		if tok == "" {
			return Permanent(fmt.Errorf("environment variable %s (bearer_env) is not set", a.bearerEnv))
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a.method, a.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	took := time.Since(start).Round(time.Millisecond)
	if resp.StatusCode != a.status {
		return fmt.Errorf("%s %s: HTTP %d (expected %d) after %s", a.method, a.url, resp.StatusCode, a.status, took)
	}
	if a.body != nil && !a.body.Match(body) {
		return fmt.Errorf("%s %s: HTTP %d but the body does not match %q", a.method, a.url, resp.StatusCode, a.body.String())
	}
	run.SetMessage(fmt.Sprintf("HTTP %d in %s", resp.StatusCode, took))
	return nil
}

// SmokeSQLKind runs a query on a connection and checks its result: the first value, a pattern, or
// the number of rows.
type SmokeSQLKind struct{}

// Name implements Kind.
func (SmokeSQLKind) Name() string { return "smoke.sql" }

// Mode implements Kind.
func (SmokeSQLKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {connection, query, expect | expect_match | expect_rows}`.
func (SmokeSQLKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &smokeSQLAction{connection: "target", rows: -1}
	present := d.Fields(with, where, map[string]runbook.Field{
		"connection": func(v *yaml.Node) { a.connection = d.Enum(v, where, "connection", "source", "distribution", "target") },
		"query":      func(v *yaml.Node) { a.query = d.NonEmpty(v, where, "query") },
		"expect":     func(v *yaml.Node) { a.expect, a.hasExpect = d.String(v, where, "expect"), true },
		"expect_match": func(v *yaml.Node) {
			re, err := regexp.Compile(d.NonEmpty(v, where, "expect_match"))
			if err != nil {
				d.Errorf(v, where, "expect_match: not a regular expression: %v", err)
				return
			}
			a.match = re
		},
		"expect_rows": func(v *yaml.Node) { a.rows = d.Int(v, where, "expect_rows", 0, 1000) },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind smoke.sql needs `with: {connection: target, query: \"SELECT …\", expect: \"…\"}`")
		return a
	}
	d.Require(with, where, present, "query")
	if !a.hasExpect && a.match == nil && a.rows < 0 {
		d.Errorf(with, where, "give what the result must be: expect (the first value), expect_match (a pattern) or expect_rows")
	}
	if rb := d.Runbook(); rb != nil {
		c := map[string]*runbook.Connection{"source": rb.Connections.Source, "distribution": rb.Connections.Distribution, "target": rb.Connections.Target}
		if c[a.connection] == nil && a.connection != "" {
			d.Errorf(with, where, "connection: the runbook has no connections.%s", a.connection)
		}
	}
	return a
}

type smokeSQLAction struct {
	connection string
	query      string
	expect     string
	hasExpect  bool
	match      *regexp.Regexp
	rows       int
}

func (a *smokeSQLAction) Describe() string {
	desc := fmt.Sprintf("on %s run %s", a.connection, strings.Join(strings.Fields(a.query), " "))
	switch {
	case a.hasExpect:
		desc += fmt.Sprintf(", expecting %q", a.expect)
	case a.match != nil:
		desc += fmt.Sprintf(", expecting a match for %q", a.match.String())
	}
	if a.rows >= 0 {
		desc += fmt.Sprintf(", expecting %d row(s)", a.rows)
	}
	return desc
}

// Rerunnable: smoke queries only read.
func (a *smokeSQLAction) Rerunnable() bool { return true }

func (a *smokeSQLAction) Run(ctx context.Context, run *Run) error {
	q := run.Ports().SQL
	if q == nil {
		return Permanent(errors.New("no SQL connections"))
	}
	_, rows, err := q.Query(ctx, a.connection, a.query)
	if err != nil {
		return err
	}
	if a.rows >= 0 && len(rows) != a.rows {
		return fmt.Errorf("%d row(s), expected %d", len(rows), a.rows)
	}
	first := ""
	if len(rows) > 0 && len(rows[0]) > 0 {
		first = rows[0][0]
	}
	if a.hasExpect && first != a.expect {
		return fmt.Errorf("got %q, expected %q", first, a.expect)
	}
	if a.match != nil && !a.match.MatchString(first) {
		return fmt.Errorf("got %q, expected a match for %q", first, a.match.String())
	}
	run.SetMessage(fmt.Sprintf("%d row(s), first value %q", len(rows), first))
	return nil
}
