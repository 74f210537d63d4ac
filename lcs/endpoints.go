package lcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	if sourceEnvironmentID == targetEnvironmentID {
		return Operation{}, fmt.Errorf("lcs: refresh database: source and target are the same environment (%s)", c.envLabel(targetEnvironmentID))
	}
	if e, ok := c.knownEnvironment(targetEnvironmentID); ok && e.Type == EnvironmentProduction {
		return Operation{}, &APIError{Op: epRefresh.String(), Message: "the target " + c.envLabel(targetEnvironmentID) + " is a production environment; nothing was sent to LCS",
			kind: ErrProductionRefreshUnsupported, Hint: productionRefreshHint}
	}
	env, err := c.call(ctx, request{ep: epRefresh, method: http.MethodPost, env: targetEnvironmentID,
		path: path("databasemovement", "v1", "refresh", "project", c.project, "source", sourceEnvironmentID, "target", targetEnvironmentID)}, nil)
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
	env, err := c.call(ctx, request{ep: epExport, method: http.MethodPost, env: environmentID,
		path: path("databasemovement", "v1", "export", "project", c.project, "environment", environmentID, "backupName", backupName)}, nil)
	if err != nil {
		return Operation{}, err
	}
	if env.OperationActivityID == "" {
		return Operation{}, c.unknownOutcome(request{ep: epExport, env: environmentID}, http.StatusOK, "LCS accepted the export but sent no OperationActivityId", "", nil)
	}
	return Operation{Kind: OperationExport, ActivityID: env.OperationActivityID, EnvironmentID: environmentID, Accepted: c.clock.Now()}, nil
}

// DatabaseBackups lists the database backups in the project's asset library.
func (c *Client) DatabaseBackups(ctx context.Context) ([]DatabaseBackup, error) {
	var out struct {
		DatabaseAssets []wireBackup `json:"DatabaseAssets"`
	}
	if _, err := c.call(ctx, request{ep: epBackups, method: http.MethodGet,
		path: path("databasemovement", "v1", "databases", "project", c.project)}, &out); err != nil {
		return nil, err
	}
	backups := make([]DatabaseBackup, 0, len(out.DatabaseAssets))
	for _, w := range out.DatabaseAssets {
		backups = append(backups, w.backup())
	}
	return backups, nil
}

// OperationStatus reads the status of a database movement operation. For a refresh, pass the
// TARGET environment id.
func (c *Client) OperationStatus(ctx context.Context, environmentID, activityID string) (OperationResult, error) {
	var out wireStatus
	if _, err := c.call(ctx, request{ep: epStatus, method: http.MethodGet, env: environmentID,
		path: path("databasemovement", "v1", "fetchstatus", "project", c.project, "environment", environmentID, "operationactivity", activityID)}, &out); err != nil {
		return OperationResult{}, err
	}
	return fillResult(out.result(), c.project, environmentID, activityID), nil
}

// DeploymentStatus reads the status of a deployment (environment/v2/fetchstatus).
func (c *Client) DeploymentStatus(ctx context.Context, environmentID, activityID string) (OperationResult, error) {
	var out wireStatus
	if _, err := c.call(ctx, request{ep: epDeploymentStatus, method: http.MethodGet, env: environmentID,
		path: path("environment", "v2", "fetchstatus", "project", c.project, "environment", environmentID, "operationactivity", activityID)}, &out); err != nil {
		return OperationResult{}, err
	}
	return fillResult(out.result(), c.project, environmentID, activityID), nil
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

// Environments lists every environment of the project, following ResultHasMorePages through
// all pages.
func (c *Client) Environments(ctx context.Context) ([]Environment, error) {
	return c.metadata(ctx, "", url.Values{})
}

// Environment reads one environment's metadata by id.
func (c *Client) Environment(ctx context.Context, environmentID string) (Environment, error) {
	envs, err := c.metadata(ctx, environmentID, url.Values{"environmentId": {environmentID}})
	if err != nil {
		return Environment{}, err
	}
	for _, e := range envs {
		if strings.EqualFold(e.ID, environmentID) {
			return e, nil
		}
	}
	return Environment{}, &APIError{Op: epMetadata.String(), Message: "no environment with id " + environmentID, kind: ErrNotFound,
		Hint: "check the environment id in the LCS portal (environment details page) and the project id"}
}

// EnvironmentByName reads one environment's metadata by name.
func (c *Client) EnvironmentByName(ctx context.Context, name string) (Environment, error) {
	envs, err := c.metadata(ctx, "", url.Values{"environmentName": {name}})
	if err != nil {
		return Environment{}, err
	}
	for _, e := range envs {
		if strings.EqualFold(e.Name, name) {
			return e, nil
		}
	}
	return Environment{}, &APIError{Op: epMetadata.String(), Message: "no environment named " + strconv.Quote(name), kind: ErrNotFound,
		Hint: "check the environment name in the LCS portal and the project id"}
}

func (c *Client) metadata(ctx context.Context, env string, q url.Values) ([]Environment, error) {
	var all []Environment
	for pg := 1; pg <= maxPages; pg++ {
		q.Set("page", strconv.Itoa(pg))
		var out page[wireEnvironment]
		if _, err := c.call(ctx, request{ep: epMetadata, method: http.MethodGet, env: env, query: q,
			path: path("environmentinfo", "v1", "detail", "project", c.project) + "/"}, &out); err != nil {
			return nil, err
		}
		for _, w := range out.Data {
			all = append(all, w.environment())
		}
		if !out.ResultHasMorePages || len(out.Data) == 0 {
			break
		}
	}
	c.rememberEnvironments(all)
	return all, nil
}

// EnvironmentHistory reads an environment's whole history, newest first as LCS returns it,
// following ResultHasMorePages through all pages. LCS allows 6 history calls per environment
// per 30 s and 6 per project per minute; the client waits between pages to stay under them.
func (c *Client) EnvironmentHistory(ctx context.Context, environmentID string) ([]HistoryEntry, error) {
	return c.history(ctx, environmentID, nil)
}

// history pages through an environment's history; enough(page) stops early.
func (c *Client) history(ctx context.Context, environmentID string, enough func([]HistoryEntry) bool) ([]HistoryEntry, error) {
	var all []HistoryEntry
	for pg := 1; pg <= maxPages; pg++ {
		var out page[wireHistory]
		if _, err := c.call(ctx, request{ep: epHistory, method: http.MethodGet, env: environmentID,
			query: url.Values{"page": {strconv.Itoa(pg)}},
			path:  path("environmentinfo", "v1", "history", "project", c.project, "environment", environmentID) + "/"}, &out); err != nil {
			return nil, err
		}
		entries := make([]HistoryEntry, 0, len(out.Data))
		for _, w := range out.Data {
			entries = append(entries, w.entry())
		}
		all = append(all, entries...)
		if !out.ResultHasMorePages || len(out.Data) == 0 || (enough != nil && enough(entries)) {
			break
		}
	}
	return all, nil
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
