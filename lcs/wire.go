package lcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The wire format of LCS answers, read field by field: one value in a form the client does not
// expect is noted and left empty; it never fails the whole answer. Property names match without
// regard to case (the history document spells StartDateTimeUtc in its table and StartDateTimeUTC
// in its example), properties the client does not know are ignored (the tutorial's metadata
// answer carries DatabaseDailyBackupsEnabled and DatabaseBackupLocation), and a null is "no
// value" ("If no value is available for a property, null is returned": the metadata and history
// documents). The documents are in lcs/contract.

// fieldNote is one value the client could not read.
type fieldNote struct {
	field string // the property, as the client names it
	text  string // what is wrong, for the operator
}

// object is one JSON object of an answer.
type object struct {
	fields map[string]json.RawMessage // by lower-case property name
	notes  []fieldNote
}

// errNotObject: the value is not a JSON object.
var errNotObject = errors.New("not a JSON object")

func readObject(raw []byte) (*object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotObject, err)
	}
	o := &object{fields: make(map[string]json.RawMessage, len(m))}
	for k, v := range m {
		o.fields[strings.ToLower(k)] = v
	}
	return o, nil
}

// value is the raw value of a property, false when it is absent or null.
func (o *object) value(name string) (json.RawMessage, bool) {
	v, ok := o.fields[strings.ToLower(name)]
	if !ok || isNull(v) {
		return nil, false
	}
	return v, true
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func (o *object) note(name string, v json.RawMessage, why string) {
	o.notes = append(o.notes, fieldNote{field: name, text: fmt.Sprintf("%s %s %s", name, quoteRaw(v), why)})
}

// quoteRaw shows a raw value shortly, for a note.
func quoteRaw(v json.RawMessage) string {
	return truncate(strings.TrimSpace(string(v)), 60)
}

// str reads a string property; a number or a boolean is taken as its text (LCS sends project
// ids as numbers).
func (o *object) str(name string) string {
	v, ok := o.value(name)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String()
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return strconv.FormatBool(b)
	}
	o.note(name, v, "is not a string")
	return ""
}

// boolean reads a boolean property; "true" and "false" in a string are read too.
func (o *object) boolean(name string) bool {
	v, ok := o.value(name)
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b
		}
	}
	o.note(name, v, "is not true or false")
	return false
}

// integer reads a whole-number property (a number, or one in a string).
func (o *object) integer(name string) (int, bool) {
	v, ok := o.value(name)
	if !ok {
		return 0, false
	}
	s := o.str(name)
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		if len(o.notes) == 0 || o.notes[len(o.notes)-1].field != name {
			o.note(name, v, "is not a whole number")
		}
		return 0, false
	}
	return n, true
}

// time reads a date property in any format LCS is known to send (see parseLCSTime).
func (o *object) time(name string) time.Time {
	v, ok := o.value(name)
	if !ok {
		return time.Time{}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.note(name, v, "is not a date")
		return time.Time{}
	}
	t, err := parseLCSTime(s)
	if err != nil {
		o.note(name, v, "is in no date format LCS is known to send")
		return time.Time{}
	}
	return t
}

// texts are the notes' texts, nil when there are none.
func (o *object) texts() []string {
	if len(o.notes) == 0 {
		return nil
	}
	out := make([]string, len(o.notes))
	for i, n := range o.notes {
		out[i] = n.text
	}
	return out
}

// dateLayouts are the date formats LCS is known to send, all in UTC (the properties are named
// ...UTC or documented as UTC):
//   - .NET round-trip dates without a zone, 0 to 7 fraction digits: "2021-06-03T15:10:00.0"
//     (reference-environment-history.md), "2019-09-27T15:17:35.867" (reference-list-backups.md),
//     "9999-12-31T23:59:59.9999999" (VersionEOL, dbmovement-api-versioning-support.md);
//   - "M/D/YYYY h:mm AM/PM": DeployedOnUTC "8/5/2021 11:00 PM" (reference-environment-metadata.md);
//   - with a zone (RFC 3339), and the .NET invariant "MM/dd/yyyy HH:mm:ss": not in the documents,
//     read because a date in them loses nothing.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"1/2/2006 3:04 PM",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
}

// parseLCSTime parses one LCS date string; "" is the zero time. A date without a zone is UTC.
func parseLCSTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is in no format LCS is known to use", s)
}

// envelope is the part every LCS response carries (dbmovement-api-versioning-support.md).
type envelope struct {
	IsSuccess           *bool
	OperationActivityID string
	ErrorMessage        *string
	VersionEOL          string
	notes               []fieldNote
}

// readEnvelope reads the envelope of an answer; the error says the answer is not a JSON object.
func readEnvelope(body []byte) (envelope, error) {
	o, err := readObject(body)
	if err != nil {
		return envelope{}, err
	}
	env := envelope{OperationActivityID: o.str("OperationActivityId"), VersionEOL: o.str("VersionEOL")}
	if _, ok := o.value("IsSuccess"); ok {
		b := o.boolean("IsSuccess")
		if len(o.notes) == 0 {
			env.IsSuccess = &b
		}
	}
	if _, ok := o.value("ErrorMessage"); ok {
		m := o.str("ErrorMessage")
		env.ErrorMessage = &m
	}
	env.notes = o.notes
	return env, nil
}

// page is one page of a paged answer (ResultPageCurrent, ResultHasMorePages, Data: the metadata
// and history documents).
type page struct {
	current    int
	hasCurrent bool
	more       bool
	rows       []json.RawMessage
	notes      []fieldNote
}

// readPage reads the paging frame; the error says the answer holds no readable rows at all.
func readPage(body []byte) (page, error) {
	o, err := readObject(body)
	if err != nil {
		return page{}, err
	}
	var p page
	p.current, p.hasCurrent = o.integer("ResultPageCurrent")
	p.more = o.boolean("ResultHasMorePages")
	if v, ok := o.value("Data"); ok {
		if err := json.Unmarshal(v, &p.rows); err != nil {
			return page{}, fmt.Errorf("the property Data, %s, is not a list", quoteRaw(v))
		}
	}
	p.notes = o.notes
	return p, nil
}

// readList reads the rows of a list answer that is not paged (DatabaseAssets).
func readList(body []byte, name string) ([]json.RawMessage, []fieldNote, error) {
	o, err := readObject(body)
	if err != nil {
		return nil, nil, err
	}
	var rows []json.RawMessage
	if v, ok := o.value(name); ok {
		if err := json.Unmarshal(v, &rows); err != nil {
			return nil, nil, fmt.Errorf("%s %s is not a list", name, quoteRaw(v))
		}
	}
	return rows, o.notes, nil
}

// readEnvironment reads one environment of the metadata answer
// (lifecycle-services/api/v1/reference-environment-metadata.md, "Data").
func readEnvironment(raw json.RawMessage) (Environment, []fieldNote, error) {
	o, err := readObject(raw)
	if err != nil {
		return Environment{}, nil, err
	}
	e := Environment{
		ID:                       o.str("EnvironmentId"),
		Name:                     o.str("EnvironmentName"),
		ProjectID:                o.str("ProjectId"),
		Infrastructure:           o.str("EnvironmentInfrastructure"),
		Type:                     EnvironmentType(o.str("EnvironmentType")),
		Group:                    o.str("EnvironmentGroup"),
		Product:                  o.str("EnvironmentProduct"),
		EndpointBaseURL:          o.str("EnvironmentEndpointBaseUrl"),
		DeploymentState:          o.str("DeploymentState"),
		DeploymentStatus:         DeploymentStatus(o.str("DeploymentStatusDisplay")),
		TopologyDisplayName:      o.str("TopologyDisplayName"),
		ApplicationBuildVersion:  o.str("CurrentApplicationBuildVersion"),
		ApplicationReleaseName:   o.str("CurrentApplicationReleaseName"),
		PlatformReleaseName:      o.str("CurrentPlatformReleaseName"),
		PlatformVersion:          o.str("CurrentPlatformVersion"),
		DeployedOn:               o.time("DeployedOnUTC"),
		CloudStorageLocation:     o.str("CloudStorageLocation"),
		DisasterRecoveryLocation: o.str("DisasterRecoveryLocation"),
		CanStart:                 o.boolean("CanStart"),
		CanStop:                  o.boolean("CanStop"),
	}
	e.Notes = o.texts()
	return e, o.notes, nil
}

// readHistoryEntry reads one row of the history answer
// (lifecycle-services/api/v1/reference-environment-history.md, "Data").
func readHistoryEntry(raw json.RawMessage) (HistoryEntry, []fieldNote, error) {
	o, err := readObject(raw)
	if err != nil {
		return HistoryEntry{}, nil, err
	}
	h := HistoryEntry{
		Name:          o.str("Name"),
		Type:          o.str("Type"),
		TypeDisplay:   o.str("TypeDisplay"),
		Start:         o.time("StartDateTimeUtc"),
		End:           o.time("EndDateTimeUtc"),
		Status:        ParseOperationStatus(o.str("Status")),
		ActivityID:    o.str("ActivityId"),
		EnvironmentID: o.str("EnvironmentId"),
		ProjectID:     o.str("ProjectId"),
	}
	h.Notes = o.texts()
	return h, o.notes, nil
}

// readBackup reads one database backup (database/api/v1/reference-list-backups.md).
func readBackup(raw json.RawMessage) (DatabaseBackup, []fieldNote, error) {
	o, err := readObject(raw)
	if err != nil {
		return DatabaseBackup{}, nil, err
	}
	b := DatabaseBackup{
		ID:              o.str("Id"),
		ProjectID:       o.str("ProjectId"),
		OrganizationID:  o.str("OrganizationId"),
		Name:            o.str("Name"),
		FileName:        o.str("FileName"),
		FileDescription: o.str("FileDescription"),
		FileLocation:    o.str("FileLocation"),
		Created:         o.time("CreatedDateTime"),
		Modified:        o.time("ModifiedDateTime"),
		CreatedBy:       o.str("CreatedByName"),
		ModifiedBy:      o.str("ModifiedByName"),
	}
	b.Notes = o.texts()
	return b, o.notes, nil
}

// readStatus reads a status answer (database/api/v1/reference-get-status.md; the deployment
// status endpoint, which no document describes, is read the same way).
func readStatus(body []byte) (OperationResult, []fieldNote, error) {
	o, err := readObject(body)
	if err != nil {
		return OperationResult{}, nil, err
	}
	r := OperationResult{
		ProjectID:      o.str("ProjectId"),
		EnvironmentID:  o.str("EnvironmentId"),
		ActivityID:     o.str("ActivityId"),
		Status:         ParseOperationStatus(o.str("OperationStatus")),
		CompletionDate: o.time("CompletionDate"),
		ErrorMessage:   o.str("ErrorMessage"),
	}
	r.Notes = o.texts()
	return r, o.notes, nil
}
