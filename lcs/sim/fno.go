package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The finance and operations front of each simulated environment: what a smoke test reaches at
// the environment's EnvironmentEndpointBaseUrl ("The base URL of the environment",
// lifecycle-services/api/v1/reference-environment-metadata.md). The simulator serves it on its own
// listener under /fno/<environment name>/, so one port serves LCS, Entra ID and every front:
//
//   - the root answers the web client's page to a request carrying an Entra ID token issued for
//     the environment — the resource "is the URI for your organization … do not add a trailing
//     slash" (data-entities/services-home-page.md) — for a user who is enabled in the environment,
//     and 401 otherwise. A browser without a token is redirected to sign in by the real service;
//     the simulator answers every request without a valid token 401.
//   - /data is the OData service root ("To see a list of all the entities that are exposed, open
//     the OData service root URL … [Your organization's root URL]/data": data-entities/odata.md),
//     answered with the OData v4 JSON service document;
//   - /data/SystemUsers is the users' entity. The Common Data Model documents the entity
//     (MicrosoftDocs/common-data-model-and-service, schema/core/erp/Entities/System/
//     SystemAdministration/SystemUserEntity.md) and its attributes, of which the simulator serves
//     UserID, UserName, Alias, Email, Company and Enabled; the name of its OData collection,
//     SystemUsers, is in none of Microsoft's documents (it is the platform's plural and what the
//     community tools — d365fo.integrations — use). The query options odata.md lists are
//     $filter, $count, $orderby, $skip, $top, $expand and $select; the simulator answers $filter
//     (eq and ne, joined by and — odata.md: "The operators 'has' and 'in' are not supported"),
//     $select, $count, $top and $skip, and refuses the rest with 400 rather than ignoring them.
//     Whether Enabled is an Edm.Boolean or the NoYes enum the documents do not say: a filter may
//     compare it with true/false or with Microsoft.Dynamics.DataEntities.NoYes'Yes'/'No'.
//
// The refresh's effect on users follows database-refresh.md § Conditions of a database refresh:
// "All users except the Admin user and other internal service user accounts are unavailable" once
// a refresh into the environment has completed, until the users are enabled again (EnableUsers, as
// an administrator does under System administration > Users > Users). The golden-configuration
// page of 04/03/2026 says instead that the sandbox's user configuration "is copied as-is"; the
// simulator plays the refresh page's rule, so a users-enabled check is exercised both ways. The
// documents name no internal service accounts: the simulator has none. While a refresh into the
// environment is in progress the front answers 503: "the environment is offline until the
// refresh process completes" (database-refresh.md).

// fnoPrefix is where the fronts are served.
const fnoPrefix = "/fno/"

// fnoUser is one user of a simulated environment.
type fnoUser struct {
	id, name, alias, company string
	admin                    bool
}

// simUsers are the users of every simulated environment: Admin (the environment administrator,
// the simulator's first sign-in user) and twelve others.
func simUsers(admin string) []fnoUser {
	out := []fnoUser{{id: "Admin", name: "Admin", alias: admin, company: "USMF", admin: true}}
	for _, n := range []string{"Anna Berg", "Ben Carter", "Chloe Dubois", "Daniel Eriksen", "Eva Fischer", "Farid Haddad",
		"Grace Ito", "Hugo Jansen", "Ines Kowalski", "Jonas Lindqvist", "Kate Moreau", "Luis Navarro"} {
		first, last, _ := strings.Cut(n, " ")
		id := strings.ToLower(first[:1] + last)
		out = append(out, fnoUser{id: id, name: n, alias: strings.ToLower(first+"."+last) + "@contoso.example", company: "USMF"})
	}
	return out
}

// fnoPath is the path of an environment's front below the simulator's root.
func fnoPath(e *Environment) string { return fnoPrefix + strings.ToLower(e.Name) }

// endpointBaseURL is the EnvironmentEndpointBaseUrl served for e to a request that reached the
// simulator at host: the one set with UpdateEnvironment, or the simulator's front for it.
func endpointBaseURL(e *Environment, host string) string {
	if e.EndpointBaseURL != "" {
		return e.EndpointBaseURL
	}
	return "https://" + host + fnoPath(e) + "/"
}

// EndpointBaseURL is the EnvironmentEndpointBaseUrl the simulator serves for an environment
// after Start ("" for an unknown environment, or before Start for one it serves itself).
func (s *Server) EndpointBaseURL(environmentID string) string {
	u := s.URL()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil || (e.EndpointBaseURL == "" && u == "") {
		return ""
	}
	return endpointBaseURL(e, strings.TrimPrefix(u, "https://"))
}

// UpdateEnvironment changes an environment's metadata (a release, a location, the
// infrastructure, a base URL…) as LCS will then report it. The upgrade sandbox's
// DeploymentStatusDisplay comes from SetSandboxState or its state source, not from here.
func (s *Server) UpdateEnvironment(environmentID string, update func(*Environment)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil {
		return fmt.Errorf("sim: no environment %s", environmentID)
	}
	id := e.ID
	update(e)
	e.ID = id
	return nil
}

// EnableUsers enables every user of an environment, as its administrator does under System
// administration > Users > Users after a refresh.
func (s *Server) EnableUsers(environmentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil {
		return fmt.Errorf("sim: no environment %s", environmentID)
	}
	s.st.usersEnabledAt[e.ID] = s.clock.Now()
	s.st.changed()
	return nil
}

// EnabledUsers counts an environment's users that are enabled now, and all of them.
func (s *Server) EnabledUsers(environmentID string) (enabled, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil {
		return 0, 0
	}
	now := s.clock.Now()
	for _, u := range s.st.users {
		if s.st.userEnabled(e.ID, u, now) {
			enabled++
		}
	}
	return enabled, len(s.st.users)
}

// lastRefreshInto is when the newest refresh into env completed (zero: none has).
func (st *state) lastRefreshInto(env string, now time.Time) time.Time {
	var last time.Time
	for _, o := range st.ops {
		if o.kind != "refresh" || !sameID(o.env, env) {
			continue
		}
		if s, end := o.status(now); (s == "Completed" || s == "SignedOff") && end.After(last) {
			last = end
		}
	}
	return last
}

// userEnabled: every user is enabled until a refresh into env completes; then only Admin, until
// the users are enabled again.
func (st *state) userEnabled(env string, u fnoUser, now time.Time) bool {
	if u.admin {
		return true
	}
	refreshed := st.lastRefreshInto(env, now)
	return refreshed.IsZero() || !refreshed.After(st.usersEnabledAt[env])
}

// refreshing reports a refresh into env that has its database offline now.
func (st *state) refreshing(env string, now time.Time) bool {
	for _, o := range st.ops {
		if o.kind != "refresh" || !sameID(o.env, env) {
			continue
		}
		if s, _ := o.status(now); s == "InProgress" || s == "RollbackInProgress" {
			return true
		}
	}
	return false
}

// serveFnO serves the environments' fronts.
func (s *Server) serveFnO(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, fnoPrefix), "/")
	rest = "/" + rest
	s.mu.Lock()
	defer s.mu.Unlock()
	var env *Environment
	for _, e := range s.st.envs {
		if strings.EqualFold(e.Name, name) && e.EndpointBaseURL == "" {
			env = e
		}
	}
	if env == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		odataError(w, http.StatusMethodNotAllowed, "The simulator's finance and operations front only reads.")
		return
	}
	now := s.clock.Now()
	if s.st.refreshing(env.ID, now) {
		w.Header().Set("Retry-After", "600")
		http.Error(w, "The environment is offline while its database is refreshed.", http.StatusServiceUnavailable)
		return
	}
	base := "https://" + r.Host + fnoPath(env)
	user, why := s.st.auth.fnoUser(r.Header.Get("Authorization"), base, now)
	if why == "" {
		why = "The user " + user + " is not enabled in this environment"
		for _, u := range s.st.users {
			if strings.EqualFold(u.alias, user) && s.st.userEnabled(env.ID, u, now) {
				why = ""
			}
		}
	}
	if why != "" {
		s.st.stats.frontRefused++
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+why+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch rest {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Finance and Operations</title><p>%s (simulated)</p>\n", env.Name)
	case "/data", "/data/":
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": base + "/data/$metadata",
			"value":          []map[string]any{{"name": "SystemUsers", "kind": "EntitySet", "url": "SystemUsers"}},
		})
	case "/data/SystemUsers":
		s.serveSystemUsers(w, r, env, base, now)
	default:
		odataError(w, http.StatusNotFound, fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", r.URL.String()))
	}
}

// fnoAuth checks a bearer token for an environment's front at base: the user, or why not. The
// token must be unexpired and issued for the environment's URL without a trailing slash. A token
// without a user (client credentials) would need the app registered under System administration >
// Setup > Microsoft Entra applications (services-home-page.md); the simulator registers none.
func (a *authState) fnoUser(authz, base string, now time.Time) (string, string) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return "", "The access token is missing"
	}
	t, ok := a.access[strings.TrimSpace(tok)]
	switch {
	case !ok:
		return "", "The access token is invalid"
	case !now.Before(t.expires):
		return "", "The access token has expired"
	case t.aud != base:
		return "", "The audience " + t.aud + " is invalid"
	case t.user == "":
		return "", "The application is not registered in this environment"
	}
	return t.user, ""
}

// odataMessage is a request the front refuses, with the message it answers (OData's own
// sentences, capitalised as the service writes them).
type odataMessage string

func (m odataMessage) Error() string { return string(m) }

// badRequest is a refusal with an OData message.
func badRequest(format string, args ...any) error { return odataMessage(fmt.Sprintf(format, args...)) }

// odataError writes an OData v4 JSON error.
func odataError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": "", "message": msg}})
}

// systemUserProps are the SystemUser properties the simulator serves, in its answer's order.
var systemUserProps = []string{"UserID", "UserName", "Alias", "Email", "Company", "Enabled"}

func (u fnoUser) prop(name string, enabled bool) any {
	switch name {
	case "UserID":
		return u.id
	case "UserName":
		return u.name
	case "Alias", "Email":
		return u.alias
	case "Company":
		return u.company
	case "Enabled":
		return enabled
	}
	return nil
}

// filterClause is one "Property eq|ne literal" of a $filter.
type filterClause struct {
	prop, op string
	value    any // bool or string
}

func (c filterClause) match(v any) bool {
	var eq bool
	switch x := v.(type) {
	case bool:
		b, ok := c.value.(bool)
		eq = ok && b == x
	case string:
		s, ok := c.value.(string)
		eq = ok && strings.EqualFold(s, x)
	}
	return eq == (c.op == "eq")
}

// parseFilter reads a $filter of clauses joined by "and".
func parseFilter(f string) ([]filterClause, error) {
	var out []filterClause
	for _, part := range splitAnd(f) {
		fields := strings.Fields(part)
		if len(fields) < 3 {
			return nil, badRequest("The query specified in the URI is not valid: %q is not a comparison.", part)
		}
		prop, op := fields[0], strings.ToLower(fields[1])
		lit := strings.Join(fields[2:], " ")
		if !containsProp(prop) {
			return nil, badRequest("Could not find a property named '%s' on type 'Microsoft.Dynamics.DataEntities.SystemUser'.", prop)
		}
		switch op {
		case "eq", "ne":
		case "has", "in":
			return nil, badRequest("The operator '%s' is not supported.", op)
		default:
			return nil, badRequest("The operator '%s' is not supported by the simulated environment (it answers eq and ne).", op)
		}
		c := filterClause{prop: prop, op: op}
		switch l := strings.ToLower(lit); {
		case l == "true" || l == "microsoft.dynamics.dataentities.noyes'yes'":
			c.value = true
		case l == "false" || l == "microsoft.dynamics.dataentities.noyes'no'":
			c.value = false
		case len(lit) >= 2 && lit[0] == '\'' && lit[len(lit)-1] == '\'':
			c.value = strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
		default:
			return nil, badRequest("The query specified in the URI is not valid: %s is not a literal.", lit)
		}
		if _, isBool := c.value.(bool); isBool != (prop == "Enabled") {
			return nil, badRequest("A binary operator with incompatible types was detected: %s compared with %s.", prop, lit)
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits a filter at " and " outside quotes.
func splitAnd(f string) []string {
	var out []string
	quoted, start := false, 0
	lower := strings.ToLower(f)
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\'':
			quoted = !quoted
		case !quoted && strings.HasPrefix(lower[i:], " and "):
			out = append(out, strings.TrimSpace(f[start:i]))
			start = i + len(" and ")
			i += len(" and ") - 1
		}
	}
	return append(out, strings.TrimSpace(f[start:]))
}

func containsProp(p string) bool {
	for _, x := range systemUserProps {
		if x == p {
			return true
		}
	}
	return false
}

// serveSystemUsers answers the SystemUsers collection.
func (s *Server) serveSystemUsers(w http.ResponseWriter, r *http.Request, env *Environment, base string, now time.Time) {
	q := r.URL.Query()
	var (
		filter []filterClause
		sel    = systemUserProps
		count  bool
		top    = -1
		skip   = 0
		err    error
	)
	for k, vs := range q {
		if !strings.HasPrefix(k, "$") {
			continue // custom query options (cross-company) are the service's own
		}
		v := vs[0]
		switch k {
		case "$filter":
			filter, err = parseFilter(v)
		case "$select":
			sel = nil
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if !containsProp(p) {
					err = badRequest("Could not find a property named '%s' on type 'Microsoft.Dynamics.DataEntities.SystemUser'.", p)
				}
				sel = append(sel, p)
			}
		case "$count":
			switch strings.ToLower(v) {
			case "true":
				count = true
			case "false":
			default:
				err = badRequest("'%s' is not a valid count option.", v)
			}
		case "$top", "$skip":
			n, convErr := strconv.Atoi(v)
			if convErr != nil || n < 0 {
				err = badRequest("Invalid value '%s' for %s query option found. The %s query option requires a non-negative integer value.", v, k, k)
			} else if k == "$top" {
				top = n
			} else {
				skip = n
			}
		case "$format":
			if !strings.HasPrefix(strings.ToLower(v), "json") && !strings.HasPrefix(strings.ToLower(v), "application/json") {
				err = badRequest("The requested format '%s' is not supported.", v)
			}
		default:
			err = badRequest("The query parameter '%s' is not supported by the simulated environment.", k)
		}
		if err != nil {
			odataError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	var rows []map[string]any
	for _, u := range s.st.users {
		enabled := s.st.userEnabled(env.ID, u, now)
		keep := true
		for _, c := range filter {
			keep = keep && c.match(u.prop(c.prop, enabled))
		}
		if !keep {
			continue
		}
		row := map[string]any{}
		for _, p := range sel {
			row[p] = u.prop(p, enabled)
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return fmt.Sprint(rows[i]["UserID"]) < fmt.Sprint(rows[j]["UserID"]) })
	total := len(rows)
	rows = rows[min(skip, len(rows)):]
	if top >= 0 && top < len(rows) {
		rows = rows[:top]
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	ctx := base + "/data/$metadata#SystemUsers"
	if q.Has("$select") {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	// Encoded by hand so the annotations come first, as OData JSON writes them.
	var b strings.Builder
	b.WriteString(`{"@odata.context":`)
	writeJSONValue(&b, ctx)
	if count {
		fmt.Fprintf(&b, `,"@odata.count":%d`, total)
	}
	b.WriteString(`,"value":`)
	writeJSONValue(&b, rows)
	b.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

func writeJSONValue(b *strings.Builder, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		raw = []byte("null")
	}
	b.Write(raw)
}
