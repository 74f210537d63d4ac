package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cutover/lcs/contract"
	"cutover/lcs/sim"
)

// raw makes an API request with the documented headers and returns the status and the answer as
// JSON objects, keys as the simulator spelled them.
func (f *fixture) raw(method, path string) (int, map[string]json.RawMessage) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, f.url+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tok)
	req.Header.Set("x-ms-version", "2017-09-15")
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatalf("%s %s: %d %s is not a JSON object: %v", method, path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

// shapeChecker holds the simulator's answers to the contract.
type shapeChecker struct {
	t *testing.T
	c *contract.Contract
}

// envelope checks the frame: exactly the envelope's fields, plus extra (the endpoint's own
// top-level fields).
func (s shapeChecker) envelope(what string, m map[string]json.RawMessage, extra ...string) {
	s.t.Helper()
	want := slices.Clone(extra)
	for _, f := range s.c.Envelope.Fields {
		want = append(want, f.Name)
		if v, ok := m[f.Name]; ok {
			s.value(what, f, v)
		}
	}
	s.keys(what, m, want)
}

// keys checks that an object has exactly the wanted keys, spelled as documented.
func (s shapeChecker) keys(what string, m map[string]json.RawMessage, want []string) {
	s.t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		s.t.Errorf("%s: keys %v, documented %v", what, got, want)
	}
}

// row checks one row against an endpoint's documented fields: every field, spelled one of the
// documented ways, nothing else, each value of its documented type and format.
func (s shapeChecker) row(what string, ep contract.Endpoint, m map[string]json.RawMessage) {
	s.t.Helper()
	for _, f := range ep.Fields {
		found := false
		for _, n := range f.Names() {
			if v, ok := m[n]; ok {
				found = true
				s.value(what, f, v)
			}
		}
		if !found {
			s.t.Errorf("%s: lacks the documented %s", what, f.Name)
		}
	}
	for k := range m {
		if f, ok := ep.Field(k); !ok || !slices.Contains(f.Names(), k) {
			s.t.Errorf("%s: %s is not a documented field (or not spelled as documented)", what, k)
		}
	}
}

func (s shapeChecker) value(what string, f contract.Field, v json.RawMessage) {
	s.t.Helper()
	if string(v) == "null" {
		if !f.Nullable {
			s.t.Errorf("%s: %s is null, which the documents do not show", what, f.Name)
		}
		return
	}
	text := string(v)
	switch f.Type {
	case "string":
		if json.Unmarshal(v, &text) != nil {
			s.t.Errorf("%s: %s = %s is not a string", what, f.Name, v)
			return
		}
	case "number", "integer":
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			s.t.Errorf("%s: %s = %s is not a number", what, f.Name, v)
		}
	case "boolean":
		var b bool
		if json.Unmarshal(v, &b) != nil {
			s.t.Errorf("%s: %s = %s is not a boolean", what, f.Name, v)
		}
	}
	if f.Format != "" && !s.c.Formats[f.Format].Match(text) {
		s.t.Errorf("%s: %s = %s is not written as documented (%s)", what, f.Name, v, s.c.Formats[f.Format].Description)
	}
	if f.Format == "guid" && len(f.Shown) == 1 {
		form := "undashed"
		if strings.Contains(text, "-") {
			form = "dashed"
		}
		if form != f.Shown[0] {
			s.t.Errorf("%s: %s = %s is %s; the documents show it %s", what, f.Name, text, form, f.Shown[0])
		}
	}
	if f.Enum != "" {
		// The simulator writes documented values, and where the documents have none (the types of
		// database movement rows) the ones the contract names from elsewhere.
		e := s.c.Enums[f.Enum]
		if !slices.Contains(e.All(), text) && !slices.Contains(e.Elsewhere.Values, text) {
			s.t.Errorf("%s: %s = %q is not among the documented values %v", what, f.Name, text, e.All())
		}
	}
}

func (s shapeChecker) endpoint(name string) contract.Endpoint {
	ep, ok := s.c.Endpoint(name)
	if !ok {
		s.t.Fatalf("no endpoint %s in the contract", name)
	}
	return ep
}

// rows reads the rows of a list answer.
func rows(t *testing.T, m map[string]json.RawMessage, items string) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(m[items], &out); err != nil {
		t.Fatalf("%s: %v", items, err)
	}
	return out
}

// TestSimulatorServesTheDocumentedShapes: each endpoint's answer has the documented field set —
// no field the documents lack — with dates, ids and states written as the documents write them,
// and the envelope every answer carries.
func TestSimulatorServesTheDocumentedShapes(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := shapeChecker{t: t, c: c}
	f := start(t, sim.Options{PageSize: 2, QueueTime: time.Minute, RefreshDuration: time.Hour, DisableQuotas: true})
	f.signIn()
	project := sim.DefaultProjectID

	// Environment metadata, every page: the production environment's id undashed, as the
	// documented example's production environment.
	meta := s.endpoint("environment-metadata")
	var envs []map[string]json.RawMessage
	for pg := 1; ; pg++ {
		code, m := f.raw("GET", "/environmentinfo/v1/detail/project/"+project+"/?page="+strconv.Itoa(pg))
		if code != http.StatusOK {
			t.Fatalf("metadata page %d: HTTP %d", pg, code)
		}
		s.envelope("metadata", m, "ResultPageCurrent", "ResultHasMorePages", "Data")
		for i, r := range rows(t, m, "Data") {
			s.row("metadata row "+strconv.Itoa(i), meta, r)
			envs = append(envs, r)
		}
		if string(m["ResultHasMorePages"]) != "true" {
			break
		}
	}
	if len(envs) != 3 {
		t.Fatalf("%d environments", len(envs))
	}
	undashed := 0
	for _, e := range envs {
		if !strings.Contains(string(e["EnvironmentId"]), "-") {
			undashed++
		}
	}
	if undashed == 0 {
		t.Error("the simulator writes no environment id undashed, as the documented example does")
	}

	// Every toolkit state of the upgrade sandbox is spelled as the documents spell it.
	for _, st := range []string{sim.StateDeployed, sim.StateReadyForReplication, sim.StateReplicationInProgress, sim.StateReplicationCompleted,
		sim.StateDataUpgradeInProgress, sim.StateFailed, sim.StateReplicated} {
		f.s.SetSandboxState(st)
		_, m := f.raw("GET", "/environmentinfo/v1/detail/project/"+project+"/?environmentId="+sim.SandboxID)
		for _, r := range rows(t, m, "Data") {
			s.row("sandbox in state "+st, meta, r)
		}
	}

	// History: the environment id undashed, dates as "2021-06-03T15:10:00.0".
	hist := s.endpoint("environment-history")
	code, m := f.raw("GET", "/environmentinfo/v1/history/project/"+project+"/environment/"+sim.SandboxID+"/?page=1")
	if code != http.StatusOK {
		t.Fatalf("history: HTTP %d", code)
	}
	s.envelope("history", m, "ResultPageCurrent", "ResultHasMorePages", "Data")
	for i, r := range rows(t, m, "Data") {
		s.row("history row "+strconv.Itoa(i), hist, r)
	}

	// A refresh (API) and an export: the envelope, nothing else; their status, the documented
	// fields, before and after they end.
	code, m = f.raw("POST", p+"/refresh/project/"+project+"/source/"+sim.SandboxID+"/target/"+sim.UATSandboxID)
	if code != http.StatusOK || string(m["IsSuccess"]) != "true" {
		t.Fatalf("refresh: %d %v", code, m)
	}
	s.envelope("refresh", m)
	var activity string
	_ = json.Unmarshal(m["OperationActivityId"], &activity)
	status := s.endpoint("operation-status")
	for _, after := range []time.Duration{0, 2 * time.Hour} {
		f.clock.Advance(after)
		f.signIn() // the token of two hours ago has expired
		code, m = f.raw("GET", p+"/fetchstatus/project/"+project+"/environment/"+sim.UATSandboxID+"/operationactivity/"+activity)
		if code != http.StatusOK {
			t.Fatalf("status: HTTP %d", code)
		}
		top := map[string]json.RawMessage{}
		var names []string
		for _, fl := range status.Fields {
			top[fl.Name] = m[fl.Name]
			names = append(names, fl.Name)
		}
		s.envelope("status", m, names...)
		s.row("status", status, top)
	}
	if string(m["CompletionDate"]) == "null" || string(m["OperationStatus"]) != `"Completed"` {
		t.Errorf("a completed refresh: %s %s", m["OperationStatus"], m["CompletionDate"])
	}
	if string(m["OperationActivityId"]) == string(m["ActivityId"]) {
		t.Errorf("the status call's OperationActivityId is the operation's ActivityId (%s); the documented example shows the call's own", m["ActivityId"])
	}
	code, m = f.raw("POST", p+"/export/project/"+project+"/environment/"+sim.UATSandboxID+"/backupName/contract-check")
	if code != http.StatusOK || string(m["IsSuccess"]) != "true" {
		t.Fatalf("export: %d %v", code, m)
	}
	s.envelope("export", m)
	f.clock.Advance(2 * time.Hour)
	f.signIn()

	// Backups: not paged, the documented fields.
	backups := s.endpoint("database-backups")
	code, m = f.raw("GET", p+"/databases/project/"+project)
	if code != http.StatusOK {
		t.Fatalf("backups: HTTP %d", code)
	}
	s.envelope("backups", m, "DatabaseAssets")
	list := rows(t, m, "DatabaseAssets")
	if len(list) != 2 {
		t.Fatalf("%d backups, want the seeded one and the export", len(list))
	}
	for i, r := range list {
		s.row("backup "+strconv.Itoa(i), backups, r)
	}

	// A refusal is the envelope with IsSuccess false and a message.
	code, m = f.raw("POST", p+"/refresh/project/"+project+"/source/"+sim.SandboxID+"/target/"+sim.ProductionID)
	if code != http.StatusOK || string(m["IsSuccess"]) != "false" || string(m["ErrorMessage"]) == "null" {
		t.Fatalf("refused refresh: %d %v", code, m)
	}
	s.envelope("refusal", m)
}

// TestSimulatorCountsButServesWithoutTheVersionHeader: the documents mark x-ms-version required,
// but d365fo.tools and Microsoft's own LCS sample scripts send Authorization alone and LCS serves
// them: the simulator serves them too and counts the missing header (the export document lists
// no x-ms-version, so an export without it is not counted); without a token it answers 401.
func TestSimulatorCountsButServesWithoutTheVersionHeader(t *testing.T) {
	f := start(t, sim.Options{DisableQuotas: true})
	f.signIn()
	bare := func(method, path string, headers map[string]string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), method, f.url+path, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := f.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	auth := map[string]string{"Authorization": "Bearer " + f.tok, "Content-Type": "application/json"}
	if code := bare("GET", p+"/databases/project/"+sim.DefaultProjectID, auth); code != http.StatusOK || f.s.Stats().BadHeaders != 1 {
		t.Errorf("no x-ms-version: HTTP %d, %d counted", code, f.s.Stats().BadHeaders)
	}
	if code := bare("POST", p+"/export/project/"+sim.DefaultProjectID+"/environment/"+sim.UATSandboxID+"/backupName/no-version", auth); code != http.StatusOK || f.s.Stats().BadHeaders != 1 {
		t.Errorf("export without x-ms-version (its document lists none): HTTP %d, %d counted", code, f.s.Stats().BadHeaders)
	}
	if code := bare("GET", p+"/databases/project/"+sim.DefaultProjectID, map[string]string{"x-ms-version": "2017-09-15"}); code != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d, want 401", code)
	}
}

// TestSimulatorMatchesIdsInEverySpelling: an environment or operation id in another spelling
// (undashed, upper case, braces — as .NET reads a GUID) finds the same environment and
// operation.
func TestSimulatorMatchesIdsInEverySpelling(t *testing.T) {
	f := start(t, sim.Options{DisableQuotas: true})
	f.signIn()
	undashed := strings.ToUpper(strings.ReplaceAll(sim.UATSandboxID, "-", ""))
	_, m := f.raw("GET", "/environmentinfo/v1/detail/project/"+sim.DefaultProjectID+"/?environmentId="+undashed)
	if rs := rows(t, m, "Data"); len(rs) != 1 || !strings.Contains(string(rs[0]["EnvironmentName"]), sim.UATSandboxName) {
		t.Fatalf("metadata by an undashed upper-case id: %v", rs)
	}
	_, m = f.raw("POST", p+"/refresh/project/"+sim.DefaultProjectID+"/source/"+url.PathEscape("{"+sim.SandboxID+"}")+"/target/"+undashed)
	var activity string
	_ = json.Unmarshal(m["OperationActivityId"], &activity)
	if string(m["IsSuccess"]) != "true" || activity == "" {
		t.Fatalf("refresh with ids in other spellings: %v", m)
	}
	code, m := f.raw("GET", p+"/fetchstatus/project/"+sim.DefaultProjectID+"/environment/"+undashed+"/operationactivity/"+strings.ReplaceAll(activity, "-", ""))
	if code != http.StatusOK || string(m["IsSuccess"]) != "true" {
		t.Fatalf("status by undashed ids: %d %v", code, m)
	}
	code, m = f.raw("GET", "/environmentinfo/v1/history/project/"+sim.DefaultProjectID+"/environment/"+undashed+"/")
	if code != http.StatusOK || string(m["IsSuccess"]) != "true" {
		t.Fatalf("history by an undashed id: %d %v", code, m)
	}
}

// TestSimulatorsEntraAnswersAreTheDocumentedOnes: a token answer has the fields the tutorial's
// schema parses, and an error answer the fields of Entra's error-code reference.
func TestSimulatorsEntraAnswersAreTheDocumentedOnes(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, sim.Options{})
	post := func(form url.Values) (int, map[string]json.RawMessage) {
		resp, err := f.hc.PostForm(f.s.Authority(sim.DefaultTenantID)+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	code, m := post(url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
		"password": {sim.DefaultPassword}, "scope": {f.url + "//.default"}})
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, m)
	}
	s := shapeChecker{t: t, c: c}
	for _, fl := range c.Entra.TokenResponse.Fields {
		v, ok := m[fl.Name]
		if !ok {
			t.Errorf("token answer lacks %s", fl.Name)
			continue
		}
		s.value("token answer", fl, v)
	}
	// The documented answer (examples/entra-token-response.json): every property, of its type, and
	// the granted scope written as the document writes it for the //.default request.
	doc, err := contract.Bytes("entra-token-response.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		var got any
		if err := json.Unmarshal(m[k], &got); err != nil || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", v) {
			t.Errorf("token answer %s = %s, the document's is %v", k, m[k], v)
		}
	}
	var scope string
	_ = json.Unmarshal(m["scope"], &scope)
	if strings.Join(strings.Fields(scope), " ") != f.url+"//user_impersonation "+f.url+"//.default" {
		t.Errorf("granted scope %q, the document's form is %q", scope, f.url+"//user_impersonation "+f.url+"//.default")
	}
	code, m = post(url.Values{"grant_type": {"password"}, "client_id": {sim.DefaultClientID}, "username": {sim.DefaultUser},
		"password": {"wrong"}, "scope": {f.url + "//.default"}})
	if code != http.StatusBadRequest {
		t.Fatalf("wrong password: HTTP %d", code)
	}
	for _, fl := range c.Entra.ErrorResponse.Fields {
		if _, ok := m[fl.Name]; !ok && !fl.Optional {
			t.Errorf("error answer lacks %s", fl.Name)
		}
	}
	var desc string
	_ = json.Unmarshal(m["error_description"], &desc)
	if !strings.HasPrefix(desc, "AADSTS50126: ") || !strings.Contains(desc, "\r\nTrace ID: ") {
		t.Errorf("error_description %q is not written as Entra's (AADSTSnnnnn: text\\r\\nTrace ID: …)", desc)
	}
}
