package contract_test

import (
	"encoding/json"
	"strings"
	"testing"

	"cutover/lcs/contract"
)

// TestManifestHoldsTogether: the manifest loads, names a document for every entry, and lists
// every example file (and only existing ones).
func TestManifestHoldsTogether(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"environment-metadata", "environment-history", "operation-status", "database-refresh", "database-export", "database-backups", "deployment-status"} {
		if _, ok := c.Endpoint(name); !ok {
			t.Errorf("no endpoint %s", name)
		}
	}
	for key, d := range c.Documents {
		if d.Repo == "" || d.Path == "" || (len(d.Commit) != 40 && d.Version == "") {
			t.Errorf("document %s is not pinned: %+v", key, d)
		}
	}
	if len(c.ExamplesOf("environment-metadata", "response")) < 2 {
		t.Error("the metadata examples (reference and tutorial) are missing")
	}
}

// TestExamplesAreTheDocumentsBytes: spot checks that the files are the documents' code blocks as
// printed, odd spellings and all (nothing reformatted them).
func TestExamplesAreTheDocumentsBytes(t *testing.T) {
	for file, want := range map[string]string{
		"environment-metadata.json":        `"DeployedOnUTC": "8/5/2021 11:00 PM"`,
		"environment-history.json":         `"StartDateTimeUTC": "2021-06-03T15:10:00.0"`,
		"environment-history-2021-08.json": "\n\"StartDateTimeUtc\": \"2021-06-03T15:10:00.0\",\n",
		"database-backups.json":            "{\n\n    \"DatabaseAssets\"",
		"operation-status.json":            `"CompletionDate": null`,
		"throttling-limit-reached.json":    `"ErrorMessage": "Maximum allowed API operations are 3 from 2019-09-30T04:01:01.9999999"`,
		"entra-error.json":                 "\"correlation_id\": \"aaaa0000-bb11-2222-33cc-444444dddddd\", \n",
	} {
		b, err := contract.Bytes(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", file, want)
		}
	}
}

// TestFieldsOfTheExamplesAreTheDocumentedOnes: every documented example's rows carry exactly the
// documented fields (the tutorial's two extra properties aside), so the manifest's field lists
// are the documents' and not ours.
func TestFieldsOfTheExamplesAreTheDocumentedOnes(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range c.Examples {
		ep, ok := c.Endpoint(ex.Endpoint)
		if ex.Kind != "response" || !ok || len(ep.Fields) == 0 {
			continue
		}
		b, _ := contract.Bytes(ex.File)
		var body map[string]json.RawMessage
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		rows := []map[string]json.RawMessage{body}
		if ep.Items != "" {
			rows = nil
			if err := json.Unmarshal(body[ep.Items], &rows); err != nil {
				t.Fatalf("%s: %s: %v", ex.File, ep.Items, err)
			}
		}
		for _, row := range rows {
			for _, f := range ep.Fields {
				found := false
				for _, n := range f.Names() {
					_, has := row[n]
					found = found || has
				}
				if !found && !f.Optional {
					t.Errorf("%s: a row lacks the documented %s", ex.File, f.Name)
				}
			}
			for k, v := range row {
				if f, ok := ep.Field(k); ok {
					checkValue(t, c, ex.File, f, v)
				}
				_, documented := ep.Field(k)
				_, envelope := envelopeField(c, k)
				extra := ex.Source == "environment-metadata-tutorial" && (k == "DatabaseDailyBackupsEnabled" || k == "DatabaseBackupLocation")
				if !documented && !envelope && !extra {
					t.Errorf("%s: %s is not a documented field of %s", ex.File, k, ep.Name)
				}
			}
		}
	}
}

func envelopeField(c *contract.Contract, name string) (contract.Field, bool) {
	for _, f := range c.Envelope.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return contract.Field{}, false
}

// checkValue checks a documented example's value against its field's type, format and the GUID
// spellings the manifest says the documents show.
func checkValue(t *testing.T, c *contract.Contract, file string, f contract.Field, v json.RawMessage) {
	t.Helper()
	if string(v) == "null" {
		if !f.Nullable {
			t.Errorf("%s: %s is null but the manifest says it cannot be", file, f.Name)
		}
		return
	}
	text := string(v)
	switch f.Type {
	case "string":
		if err := json.Unmarshal(v, &text); err != nil {
			t.Errorf("%s: %s is not a string: %s", file, f.Name, v)
			return
		}
	case "number", "integer":
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			t.Errorf("%s: %s is not a number: %s", file, f.Name, v)
		}
	case "boolean":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			t.Errorf("%s: %s is not a boolean: %s", file, f.Name, v)
		}
	}
	if f.Format != "" && !c.Formats[f.Format].Match(text) {
		t.Errorf("%s: %s = %s is not %s", file, f.Name, v, f.Format)
	}
	if f.Format == "guid" && len(f.Shown) > 0 {
		form := "undashed"
		if strings.Contains(text, "-") {
			form = "dashed"
		}
		if !contains(f.Shown, form) {
			t.Errorf("%s: %s = %s is %s, but the manifest says the documents show only %v", file, f.Name, text, form, f.Shown)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
