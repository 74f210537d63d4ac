package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const defaultVersionEOL = "9999-12-31T23:59:59.9999999"

// APIVersion is the x-ms-version the documents require ("'2017-09-15' (required)").
const APIVersion = "2017-09-15"

// reply is a handler's answer: the payload fields beyond the envelope, or a refusal.
type reply struct {
	fields   map[string]any
	refusal  string // IsSuccess false with this ErrorMessage
	activity string // OperationActivityId
}

type apiHandler func(r *http.Request, now time.Time, user string) reply

// api wraps an LCS endpoint with what every call goes through: counting, header checks,
// latency, bearer-token check, faults, project check, per-minute quotas, and the envelope.
func (s *Server) api(ep Endpoint, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.st.stats.requests[ep]++
		// The documents' header tables: Authorization and x-ms-version "(required)", Content-Type
		// application/json; the export document lists no x-ms-version (lcs/contract). A request
		// without them is counted, not refused: d365fo.tools and Microsoft's own LCS sample scripts
		// send Authorization alone, and LCS serves them.
		versionRequired := ep != EndpointExport
		badVersion := r.Header.Get("x-ms-version") != APIVersion && (versionRequired || r.Header.Get("x-ms-version") != "")
		if badVersion || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			s.st.stats.badHeaders++
		}
		latency := s.st.faults.latency
		s.mu.Unlock()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.clock.Now()
		f := &s.st.faults
		user, why := s.st.auth.userFor(r.Header.Get("Authorization"), r.Host, now)
		if f.unauthorized > 0 {
			f.unauthorized--
			why = "The access token was refused"
		}
		if why != "" {
			s.st.stats.unauthorized++
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+why+`"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}

		if f.throttle > 0 {
			f.throttle--
			s.tooMany(w, f.retryAfter)
			return
		}
		if f.throttleEvery > 0 {
			if f.throttleSeen++; f.throttleSeen%f.throttleEvery == 0 {
				s.tooMany(w, f.retryAfter)
				return
			}
		}
		if f.fail > 0 {
			f.fail--
			http.Error(w, http.StatusText(f.failStatus), f.failStatus)
			return
		}
		if f.reject > 0 {
			f.reject--
			s.envelope(w, reply{refusal: f.rejectMsg})
			return
		}
		if r.PathValue("project") != s.opts.ProjectID {
			s.envelope(w, reply{refusal: fmt.Sprintf("Project %s was not found or you do not have access to it.", r.PathValue("project"))})
			return
		}
		if !s.opts.DisableQuotas {
			if d := s.st.quota.admit(ep, canonID(r.PathValue("env")), now); d > 0 {
				s.tooMany(w, d)
				return
			}
		}
		s.st.sync(now)
		rep := h(r, now, user)
		s.st.sync(now)
		if f.lose > 0 {
			f.lose--
			http.Error(w, "502 Bad Gateway: the upstream answer was lost", http.StatusBadGateway)
			return
		}
		s.envelope(w, rep)
	}
}

func (s *Server) tooMany(w http.ResponseWriter, d time.Duration) {
	s.st.stats.throttled++
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, "Too many requests. Retry after "+strconv.Itoa(secs)+" seconds.", http.StatusTooManyRequests)
}

// envelope writes the LCS envelope around a reply.
func (s *Server) envelope(w http.ResponseWriter, rep reply) {
	body := map[string]any{}
	for k, v := range rep.fields {
		body[k] = v
	}
	body["IsSuccess"] = rep.refusal == ""
	if rep.refusal != "" {
		body["ErrorMessage"] = rep.refusal
	} else if _, ok := body["ErrorMessage"]; !ok {
		body["ErrorMessage"] = nil
	}
	if rep.activity == "" {
		rep.activity = newID()
	}
	body["OperationActivityId"] = rep.activity
	body["VersionEOL"] = defaultVersionEOL
	if t := s.st.faults.versionEOL; !t.IsZero() {
		body["VersionEOL"] = t.UTC().Format("2006-01-02T15:04:05.0000000")
	}
	writeJSON(w, http.StatusOK, body)
}

// netTime formats a time as the documents show LCS's dates: no zone, UTC, with 1 to 7 fraction
// digits ("2021-06-03T15:10:00.0" in the history example, "2019-09-27T15:17:35.867" in the
// backups example); nil for zero.
func netTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.9999999")
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// usTime formats DeployedOnUTC as the metadata example shows it: "8/5/2021 11:00 PM"
// (M/D/YYYY h:mm AM/PM, UTC); nil for zero.
func usTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("1/2/2006 3:04 PM")
}

var numeric = regexp.MustCompile(`^[0-9]+$`)

// projectJSON is the project id as LCS sends it: a number when it is one.
func (s *Server) projectJSON() any {
	if numeric.MatchString(s.opts.ProjectID) {
		return json.Number(s.opts.ProjectID)
	}
	return s.opts.ProjectID
}

// quotaRefusal is LCS's answer once 3 database operations started on env in 24 hours.
func (s *Server) quotaRefusal(env string, now time.Time) (string, bool) {
	from := now.Add(-24 * time.Hour)
	if s.st.dbOpsSince(env, from, now) < 3 {
		return "", false
	}
	return "Maximum allowed API operations are 3 from " + from.UTC().Format("2006-01-02T15:04:05.0000000"), true
}

func (s *Server) handleRefresh(r *http.Request, now time.Time, user string) reply {
	src, tgt := s.st.env(r.PathValue("source")), s.st.env(r.PathValue("target"))
	switch {
	case src == nil:
		return reply{refusal: fmt.Sprintf("Source environment %s was not found in project %s.", r.PathValue("source"), s.opts.ProjectID)}
	case tgt == nil:
		return reply{refusal: fmt.Sprintf("Target environment %s was not found in project %s.", r.PathValue("target"), s.opts.ProjectID)}
	case src.ID == tgt.ID:
		return reply{refusal: "Source and target environments must be different."}
	case tgt.Type == "Production":
		return reply{refusal: fmt.Sprintf("Refresh database to a production environment is not supported through the API. Target environment %s is a production environment.", tgt.Name)}
	}
	if o := s.st.busy(tgt.ID, now); o != nil {
		return reply{refusal: fmt.Sprintf("Another operation (%s) is in progress on environment %s.", o.id, tgt.Name)}
	}
	if msg, over := s.quotaRefusal(tgt.ID, now); over {
		return reply{refusal: msg}
	}
	o := s.st.startOp(s.opts, "refresh", tgt.ID, src.ID, "", "Refresh database", TypeRefreshSandbox, "Refresh database", user, now)
	return reply{activity: o.id}
}

func (s *Server) handleExport(r *http.Request, now time.Time, user string) reply {
	env := s.st.env(r.PathValue("env"))
	name := strings.TrimSpace(r.PathValue("name"))
	switch {
	case env == nil:
		return reply{refusal: fmt.Sprintf("Environment %s was not found in project %s.", r.PathValue("env"), s.opts.ProjectID)}
	case env.Type != "Sandbox":
		return reply{refusal: "Export database is only supported for sandbox environments."}
	case name == "":
		return reply{refusal: "A backup name is required."}
	}
	for _, b := range s.st.backups {
		if strings.EqualFold(b.name, name) {
			return reply{refusal: fmt.Sprintf("A database backup named %s already exists in the asset library.", name)}
		}
	}
	if o := s.st.busy(env.ID, now); o != nil {
		return reply{refusal: fmt.Sprintf("Another operation (%s) is in progress on environment %s.", o.id, env.Name)}
	}
	if msg, over := s.quotaRefusal(env.ID, now); over {
		return reply{refusal: msg}
	}
	o := s.st.startOp(s.opts, "export", env.ID, "", name, "Export database", TypeExportSandbox, "Export database", user, now)
	return reply{activity: o.id}
}

func (s *Server) handleBackups(r *http.Request, now time.Time, _ string) reply {
	assets := []map[string]any{}
	for _, b := range s.st.backups {
		created := b.created
		if b.fromExport != nil {
			st, end := b.fromExport.status(now)
			if st != "Completed" && st != "SignedOff" {
				continue
			}
			created = end
		}
		assets = append(assets, map[string]any{
			"Id": b.id, "ProjectId": s.projectJSON(), "OrganizationId": json.Number("987654"),
			"Name": b.name, "FileName": b.file, "FileDescription": b.description,
			"FileLocation":     "https://lcssimstorage.blob.core.example/databases/" + b.file + "?sv=2024-11-04&sr=b&sig=" + randomToken("sig", 16),
			"CreatedDateTime":  netTime(created),
			"ModifiedDateTime": netTime(created),
			"CreatedByName":    b.by, "ModifiedByName": b.by,
		})
	}
	return reply{fields: map[string]any{"DatabaseAssets": assets}}
}

func (s *Server) statusReply(r *http.Request, now time.Time, deployment bool) reply {
	env, id := r.PathValue("env"), r.PathValue("activity")
	o := s.st.op(id)
	if o == nil || !sameID(o.env, env) || (o.kind == "deployment") != deployment {
		return reply{refusal: fmt.Sprintf("Operation activity %s was not found for environment %s.", id, env)}
	}
	st, end := o.status(now)
	// The example shows the ids dashed, as the request gave them; the simulator writes its own
	// (dashed) spelling whatever the request's. The envelope's OperationActivityId is the status
	// call's own, not the operation's (the example shows 6a90b45f… beside ActivityId 55eb4327…).
	return reply{fields: map[string]any{
		"ProjectId": s.projectJSON(), "EnvironmentId": o.env, "ActivityId": o.id,
		"CompletionDate": netTime(end), "OperationStatus": st,
	}}
}

func (s *Server) handleStatus(r *http.Request, now time.Time, _ string) reply {
	return s.statusReply(r, now, false)
}

func (s *Server) handleDeploymentStatus(r *http.Request, now time.Time, _ string) reply {
	return s.statusReply(r, now, true)
}

func (s *Server) handleMetadata(r *http.Request, now time.Time, _ string) reply {
	q := r.URL.Query()
	var rows []map[string]any
	for _, e := range s.st.envs {
		// The documents do not say how ?environmentId= matches; LCS, a .NET service, reads a GUID
		// in any of its spellings.
		if id := q.Get("environmentId"); id != "" && !sameID(id, e.ID) {
			continue
		}
		if name := q.Get("environmentName"); name != "" && !strings.EqualFold(name, e.Name) {
			continue
		}
		display := e.DeploymentStatus
		if e.ID == SandboxID {
			display = s.st.sandboxStatus()
		}
		id := e.ID
		if e.Undashed {
			id = undashed(id)
		}
		rows = append(rows, map[string]any{
			"EnvironmentId": id, "EnvironmentName": e.Name, "ProjectId": s.projectJSON(),
			"EnvironmentInfrastructure": e.Infrastructure, "EnvironmentType": e.Type, "EnvironmentGroup": e.Group,
			"EnvironmentProduct": e.Product, "EnvironmentEndpointBaseUrl": endpointBaseURL(e, r.Host),
			"DeploymentState": e.DeploymentState, "TopologyDisplayName": e.TopologyDisplayName,
			"CurrentApplicationBuildVersion": e.ApplicationBuild, "CurrentApplicationReleaseName": e.ApplicationRelease,
			"CurrentPlatformReleaseName": e.PlatformRelease, "CurrentPlatformVersion": e.PlatformVersion,
			"DeployedOnUTC": usTime(e.DeployedOn), "CloudStorageLocation": e.CloudStorageLocation,
			"DisasterRecoveryLocation": e.DisasterRecoveryRegion, "DeploymentStatusDisplay": display,
			"CanStart": false, "CanStop": false,
		})
	}
	return s.paged(q.Get("page"), rows)
}

func (s *Server) handleHistory(r *http.Request, now time.Time, _ string) reply {
	env := s.st.env(r.PathValue("env"))
	if env == nil {
		return reply{refusal: fmt.Sprintf("Environment %s was not found in project %s.", r.PathValue("env"), s.opts.ProjectID)}
	}
	h := s.st.history[env.ID]
	rows := make([]map[string]any, 0, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		e := h[i]
		// Spelled as the history example of 08/19/2021 spells them (StartDateTimeUTC; the table
		// says StartDateTimeUtc), the ids undashed as its EnvironmentId and its second ActivityId.
		rows = append(rows, map[string]any{
			"Name": e.Name, "Type": e.Type, "TypeDisplay": e.TypeDisplay,
			"StartDateTimeUTC": netTime(e.Start), "EndDateTimeUTC": netTime(e.End), "Status": e.Status,
			"ActivityId": undashed(e.ActivityID), "EnvironmentId": undashed(env.ID), "ProjectId": s.projectJSON(),
		})
	}
	return s.paged(r.URL.Query().Get("page"), rows)
}

// paged returns one page (1-based) of rows with the paging fields.
func (s *Server) paged(pageParam string, rows []map[string]any) reply {
	page, err := strconv.Atoi(pageParam)
	if err != nil || page < 1 {
		page = 1
	}
	size := s.opts.PageSize
	lo := min((page-1)*size, len(rows))
	hi := min(lo+size, len(rows))
	data := rows[lo:hi]
	if data == nil {
		data = []map[string]any{}
	}
	return reply{fields: map[string]any{"ResultPageCurrent": page, "ResultHasMorePages": hi < len(rows), "Data": data}}
}
