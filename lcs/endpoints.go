package lcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// path joins escaped path segments under the base URL.
func path(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// maxPages bounds paging so a server that always says "more" cannot loop the client forever.
const maxPages = 500

// RefreshDatabase starts a database refresh from source into target (POST
// databasemovement/v1/refresh) and returns the operation to follow; its status is read on the
// TARGET environment. The POST is never retried: if its outcome is unknown the error matches
// ErrOutcomeUnknown and says to look at the target's history. A production target is refused
// locally when the client has seen the target's metadata, and by LCS otherwise
// (ErrProductionRefreshUnsupported, with the portal steps).
func (c *Client) RefreshDatabase(ctx context.Context, sourceEnvironmentID, targetEnvironmentID string) (Operation, error) {
	if sourceEnvironmentID == "" || targetEnvironmentID == "" {
		return Operation{}, errors.New("lcs: refresh database: source and target environment ids are required")
	}
	if SameID(sourceEnvironmentID, targetEnvironmentID) {
		return Operation{}, fmt.Errorf("lcs: refresh database: source and target are the same environment (%s)", c.envLabel(targetEnvironmentID))
	}
	if e, ok := c.knownEnvironment(targetEnvironmentID); ok && e.Type == EnvironmentProduction {
		return Operation{}, &APIError{Op: epRefresh.String(), Message: "the target " + c.envLabel(targetEnvironmentID) + " is a production environment; nothing was sent to LCS",
			kind: ErrProductionRefreshUnsupported, Hint: productionRefreshHint}
	}
	env, _, err := c.call(ctx, request{ep: epRefresh, method: http.MethodPost, env: targetEnvironmentID,
		path: path("databasemovement", "v1", "refresh", "project", c.project, "source", sourceEnvironmentID, "target", targetEnvironmentID)})
	if err != nil {
		return Operation{}, err
	}
	if env.OperationActivityID == "" {
		return Operation{}, c.unknownOutcome(request{ep: epRefresh, env: targetEnvironmentID}, http.StatusOK, "LCS accepted the refresh but sent no OperationActivityId", "", nil)
	}
	return Operation{Kind: OperationRefresh, ActivityID: env.OperationActivityID, EnvironmentID: targetEnvironmentID,
		SourceEnvironmentID: sourceEnvironmentID, Accepted: c.clock.Now()}, nil
}

// ExportDatabase starts an export of a sandbox's database to the project's asset library as
// backupName (POST databasemovement/v1/export). Like RefreshDatabase it is never retried.
func (c *Client) ExportDatabase(ctx context.Context, environmentID, backupName string) (Operation, error) {
	if environmentID == "" || strings.TrimSpace(backupName) == "" {
		return Operation{}, errors.New("lcs: export database: environment id and backup name are required")
	}
	env, _, err := c.call(ctx, request{ep: epExport, method: http.MethodPost, env: environmentID,
		path: path("databasemovement", "v1", "export", "project", c.project, "environment", environmentID, "backupName", backupName)})
	if err != nil {
		return Operation{}, err
	}
	if env.OperationActivityID == "" {
		return Operation{}, c.unknownOutcome(request{ep: epExport, env: environmentID}, http.StatusOK, "LCS accepted the export but sent no OperationActivityId", "", nil)
	}
	return Operation{Kind: OperationExport, ActivityID: env.OperationActivityID, EnvironmentID: environmentID, Accepted: c.clock.Now()}, nil
}

// DatabaseBackups lists the database backups in the project's asset library (GET
// databasemovement/v1/databases: database/api/v1/reference-list-backups.md; not paged).
func (c *Client) DatabaseBackups(ctx context.Context) ([]DatabaseBackup, error) {
	r := request{ep: epBackups, method: http.MethodGet, path: path("databasemovement", "v1", "databases", "project", c.project)}
	env, body, err := c.call(ctx, r)
	if err != nil {
		return nil, err
	}
	rows, notes, err := readList(body, "DatabaseAssets")
	if err != nil {
		return nil, c.shapeError(r, env, err)
	}
	c.noteUnreadable(r.ep, notes)
	backups := make([]DatabaseBackup, 0, len(rows))
	for _, row := range rows {
		b, notes, err := readBackup(row)
		if err != nil {
			c.skippedRow(r.ep, row, err)
			continue
		}
		c.noteUnreadable(r.ep, notes)
		backups = append(backups, b)
	}
	return backups, nil
}

// OperationStatus reads the status of a database movement operation (GET
// databasemovement/v1/fetchstatus: database/api/v1/reference-get-status.md). For a refresh,
// pass the TARGET environment id.
func (c *Client) OperationStatus(ctx context.Context, environmentID, activityID string) (OperationResult, error) {
	return c.status(ctx, request{ep: epStatus, method: http.MethodGet, env: environmentID,
		path: path("databasemovement", "v1", "fetchstatus", "project", c.project, "environment", environmentID, "operationactivity", activityID)}, environmentID, activityID)
}

// DeploymentStatus reads the status of a deployment (GET environment/v2/fetchstatus). No
// Microsoft document describes this endpoint (d365fo.tools uses it): its answer is read like the
// database movement status, and any of its fields may be missing.
func (c *Client) DeploymentStatus(ctx context.Context, environmentID, activityID string) (OperationResult, error) {
	return c.status(ctx, request{ep: epDeploymentStatus, method: http.MethodGet, env: environmentID,
		path: path("environment", "v2", "fetchstatus", "project", c.project, "environment", environmentID, "operationactivity", activityID)}, environmentID, activityID)
}

func (c *Client) status(ctx context.Context, r request, environmentID, activityID string) (OperationResult, error) {
	env, body, err := c.call(ctx, r)
	if err != nil {
		return OperationResult{}, err
	}
	res, notes, err := readStatus(body)
	if err != nil {
		return OperationResult{}, c.shapeError(r, env, err)
	}
	c.noteUnreadable(r.ep, notes)
	return fillResult(res, c.project, environmentID, activityID), nil
}

// skippedRow warns about a row of a list that is not an object at all (the other rows are kept).
func (c *Client) skippedRow(ep endpoint, row []byte, err error) {
	c.warn(Warning{Kind: WarnUnreadable, API: ep.String(), Message: fmt.Sprintf("LCS sent a row cutover cannot read (%s: %v); it is left out and the other rows are used", truncate(strings.TrimSpace(string(row)), 60), err)})
}

func fillResult(r OperationResult, project, env, activity string) OperationResult {
	if r.ProjectID == "" {
		r.ProjectID = project
	}
	if r.EnvironmentID == "" {
		r.EnvironmentID = env
	}
	if r.ActivityID == "" {
		r.ActivityID = activity
	}
	return r
}

// Status reads an operation's status from the endpoint and environment its kind needs.
func (c *Client) Status(ctx context.Context, op Operation) (OperationResult, error) {
	if op.Kind == OperationDeployment {
		return c.DeploymentStatus(ctx, op.EnvironmentID, op.ActivityID)
	}
	return c.OperationStatus(ctx, op.EnvironmentID, op.ActivityID)
}

// Environments lists every environment of the project (GET environmentinfo/v1/detail:
// lifecycle-services/api/v1/reference-environment-metadata.md), following ResultHasMorePages
// through all pages.
func (c *Client) Environments(ctx context.Context) ([]Environment, error) {
	return c.metadata(ctx, "", url.Values{}, nil)
}

// Environment reads one environment's metadata by id, in any of its spellings (see
// NormalizeID). It asks with ?environmentId= as the document shows; as the documents do not say
// whether LCS matches that parameter in both spellings of an id (and the tutorial's answer to it
// carries other environments too), the answer is filtered here, and when it lacks the
// environment every environment of the project is looked through before it counts as not found.
func (c *Client) Environment(ctx context.Context, environmentID string) (Environment, error) {
	if strings.TrimSpace(environmentID) == "" {
		return Environment{}, errors.New("lcs: environment metadata: an environment id is required")
	}
	is := func(e Environment) bool { return SameID(e.ID, environmentID) }
	for _, q := range []url.Values{{"environmentId": {environmentID}}, {}} {
		envs, err := c.metadata(ctx, environmentID, q, is)
		if err != nil {
			return Environment{}, err
		}
		for _, e := range envs {
			if is(e) {
				return e, nil
			}
		}
	}
	return Environment{}, &APIError{Op: epMetadata.String(), Message: "no environment with id " + environmentID, kind: ErrNotFound,
		Hint: "check the environment id in the LCS portal (environment details page) and the project id"}
}

// EnvironmentByName reads one environment's metadata by name.
func (c *Client) EnvironmentByName(ctx context.Context, name string) (Environment, error) {
	is := func(e Environment) bool { return strings.EqualFold(strings.TrimSpace(e.Name), strings.TrimSpace(name)) }
	envs, err := c.metadata(ctx, "", url.Values{"environmentName": {name}}, is)
	if err != nil {
		return Environment{}, err
	}
	for _, e := range envs {
		if is(e) {
			return e, nil
		}
	}
	return Environment{}, &APIError{Op: epMetadata.String(), Message: "no environment named " + strconv.Quote(name), kind: ErrNotFound,
		Hint: "check the environment name in the LCS portal and the project id"}
}

// metadata reads the metadata pages (see readPages) until found says the environment looked for
// is there.
func (c *Client) metadata(ctx context.Context, env string, q url.Values, found func(Environment) bool) ([]Environment, error) {
	r := request{ep: epMetadata, method: http.MethodGet, env: env, query: q,
		path: path("environmentinfo", "v1", "detail", "project", c.project) + "/"}
	all, err := readPages(ctx, c, r, readEnvironment, func(e Environment) string {
		if e.ID == "" {
			return ""
		}
		return NormalizeID(e.ID)
	}, func(page []Environment) bool {
		return found != nil && slices.ContainsFunc(page, found)
	})
	if err != nil {
		return nil, err
	}
	c.rememberEnvironments(all)
	return all, nil
}

// readPages reads a paged answer (ResultPageCurrent, ResultHasMorePages, Data: the metadata and
// history documents) from page 1 on. read decodes one row; key names it (an id; "" keys it by its
// bytes) so a row seen on an earlier page is not taken twice. Paging stops when LCS says there
// are no more pages, when a page brings no new row or is not the page asked for (a server that
// ignores ?page= answers page 1 again), or when enough says the new rows of a page are enough.
func readPages[T any](ctx context.Context, c *Client, r request, read func(json.RawMessage) (T, []fieldNote, error), key func(T) string, enough func([]T) bool) ([]T, error) {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	r.query = q
	// The documents ask for one environment with ?environmentId= (or ?environmentName=) alone,
	// and for a page with ?page=N: a filtered first page is asked for as documented.
	filtered := q.Has("environmentId") || q.Has("environmentName")
	seen := map[string]bool{}
	var all []T
	for pg := 1; pg <= maxPages; pg++ {
		if pg > 1 || !filtered {
			q.Set("page", strconv.Itoa(pg))
		}
		env, body, err := c.call(ctx, r)
		if err != nil {
			return nil, err
		}
		p, err := readPage(body)
		if err != nil {
			return nil, c.shapeError(r, env, err)
		}
		c.noteUnreadable(r.ep, p.notes)
		var fresh []T
		for _, row := range p.rows {
			v, notes, err := read(row)
			if err != nil {
				c.skippedRow(r.ep, row, err)
				continue
			}
			c.noteUnreadable(r.ep, notes)
			k := key(v)
			if k == "" {
				k = "row:" + string(bytes.TrimSpace(row))
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			fresh = append(fresh, v)
		}
		all = append(all, fresh...)
		if len(fresh) == 0 || !p.more || (p.hasCurrent && p.current != pg) || (enough != nil && enough(fresh)) {
			break
		}
	}
	return all, nil
}

// EnvironmentHistory reads an environment's whole history (GET environmentinfo/v1/history:
// lifecycle-services/api/v1/reference-environment-history.md), in the order LCS returns it
// (newest first as LCS shows it; the document does not say), following ResultHasMorePages
// through all pages. LCS allows 6 history calls per environment per 30 s and 6 per project per
// minute; the client waits between pages to stay under them.
func (c *Client) EnvironmentHistory(ctx context.Context, environmentID string) ([]HistoryEntry, error) {
	return c.history(ctx, environmentID, nil)
}

// history pages through an environment's history; enough(page) stops early.
func (c *Client) history(ctx context.Context, environmentID string, enough func([]HistoryEntry) bool) ([]HistoryEntry, error) {
	r := request{ep: epHistory, method: http.MethodGet, env: environmentID,
		path: path("environmentinfo", "v1", "history", "project", c.project, "environment", environmentID) + "/"}
	return readPages(ctx, c, r, readHistoryEntry, func(HistoryEntry) string { return "" }, enough)
}

// WaitOperation polls op every interval (on the client's clock) until its status is terminal,
// calling progress (if not nil) with each reading. It survives token expiry (tokens are
// refreshed silently) and up to 5 failed polls in a row (throttling, server errors, network,
// IsSuccess false); sign-in and authorization failures and cancellation end it at once. Unknown statuses are reported once as a
// warning and polling goes on: bound the wait with ctx.
func (c *Client) WaitOperation(ctx context.Context, op Operation, interval time.Duration, progress func(OperationResult)) (OperationResult, error) {
	if interval <= 0 {
		interval = time.Minute
	}
	const maxFailures = 5
	failures := 0
	var last OperationResult
	for {
		r, err := c.Status(ctx, op)
		switch {
		case err == nil:
			failures = 0
			last = r
			if progress != nil {
				progress(r)
			}
			if r.Status.IsTerminal() {
				return r, nil
			}
			if !r.Status.Known() {
				c.warnOnce("status:"+string(r.Status), Warning{Kind: WarnUnknownStatus, API: epStatus.String(),
					Message: fmt.Sprintf("LCS reports status %q for operation %s, which cutover does not know; it keeps polling", r.Status, op.ActivityID)})
			}
		case ctx.Err() != nil || IsPermanent(err):
			return last, err
		default:
			failures++
			if failures >= maxFailures {
				return last, fmt.Errorf("lcs: polling operation %s failed %d times in a row: %w", op.ActivityID, failures, err)
			}
			c.warn(Warning{Kind: WarnPollFailed, API: epStatus.String(), Message: "status poll failed, trying again: " + err.Error()})
		}
		if err := c.clock.Sleep(ctx, interval); err != nil {
			return last, fmt.Errorf("lcs: waiting for operation %s: %w", op.ActivityID, err)
		}
	}
}
