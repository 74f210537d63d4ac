package engine_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/engine"
)

// preflightWith runs a preflight step with the given `with:` entries over facts.
func preflightWith(t *testing.T, with string, facts engine.PreflightFacts, want engine.StepState) (engine.StepView, []string) {
	t.Helper()
	h := newHarness(t, "name: t\n"+replConnections+lcsSection+"steps:\n  - {id: preflight, title: Pre-flight, kind: preflight, with: {"+with+"}}\n")
	h.opts.Ports = engine.Ports{Preflight: fakePreflight{facts}, LCS: newFakeLCS()}
	h.start()
	st := h.waitStep("preflight", want)
	var lines []string
	for _, l := range h.e.Logs(100, "preflight") {
		lines = append(lines, l.Msg)
	}
	return st, lines
}

// fakeExe writes a file holding a version resource's VS_FIXEDFILEINFO (signature 0xFEEF04BD,
// structure version 1.0, then the file version's two 32-bit halves) among other bytes, after a
// decoy signature with another structure version.
func fakeExe(t *testing.T, v [4]uint16) string {
	t.Helper()
	b := []byte("MZ\x90\x00 this program cannot be run in DOS mode ")
	le := binary.LittleEndian
	b = le.AppendUint32(b, 0xFEEF04BD)
	b = le.AppendUint32(b, 0x12345678) // not a structure version: a stray signature
	b = append(b, "VS_VERSION_INFO"...)
	b = le.AppendUint32(b, 0xFEEF04BD)
	b = le.AppendUint32(b, 0x00010000)
	b = le.AppendUint32(b, uint32(v[0])<<16|uint32(v[1]))
	b = le.AppendUint32(b, uint32(v[2])<<16|uint32(v[3]))
	b = append(b, make([]byte, 64)...)
	path := filepath.Join(t.TempDir(), "DataMigrationTool.exe")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const ignoreXML = `<?xml version="1.0" encoding="utf-8"?>
<IgnoreTables>
    <Name>
        <Table>NON_AOT_TABLE1</Table>
        <Table>%s</Table>
    </Name>
</IgnoreTables>
`

// TestPreflightDocumentedChecks: the checks the documents name beside the server's — the AX
// database's collation (a warning with the toolkit's note), the ignore list holding only non-AOT
// tables (an AOT table fails, quoting the documented warning), the toolkit's version (read from
// DataMigrationTool.exe, or a line to confirm) and the pre-upgrade checklist (a line to confirm).
func TestPreflightDocumentedChecks(t *testing.T) {
	f := goodFacts()
	f.DatabaseCollation = "Latin1_General_CI_AS"
	_, lines := preflightWith(t, "confirmed: [toolkit_version, upgrade_checklist]", f, engine.StateSucceeded)
	if !hasLine(lines, "WARN collation", "the AX database uses Latin1_General_CI_AS (the server's: SQL_Latin1_General_CP1_CI_AS); the cloud supports SQL_Latin1_General_CP1_CI_AS only",
		"the Data Migration Toolkit changes the collation (FastTrack's upgrade analysis, rule 3000)") {
		t.Errorf("collation:\n%s", strings.Join(lines, "\n"))
	}
	f = goodFacts()
	f.DatabaseCollation, f.Unavailable = "", map[string]string{"collation": "sys.databases shows no collation for AX"}
	if _, lines = preflightWith(t, "confirmed: [toolkit_version, upgrade_checklist]", f, engine.StateSucceeded); !hasLine(lines, "WARN collation", "could not check: sys.databases shows no collation") {
		t.Errorf("unknown collation:\n%s", strings.Join(lines, "\n"))
	}

	// The ignore list.
	confirmed := "confirmed: [toolkit_version, upgrade_checklist], ignore_file: "
	bad := writeFile(t, "IgnoreTables.xml", strings.Replace(ignoreXML, "%s", "salesline", 1))
	st, lines := preflightWith(t, confirmed+bad, goodFacts(), engine.StateFailed)
	if !hasLine(lines, "FAIL ignore list", "1 of the 2 table(s) in IgnoreTables.xml exist in the AOT: salesline",
		"Including tables that exist in the AOT will result in an error during the data upgrade.") || !strings.Contains(st.LastError, "failed: ignore list") {
		t.Errorf("an AOT table on the ignore list: %q\n%s", st.LastError, strings.Join(lines, "\n"))
	}
	good := writeFile(t, "IgnoreTables.xml", strings.Replace(ignoreXML, "%s", "USERADDHISTORYLIST_2019", 1))
	if _, lines = preflightWith(t, confirmed+good, goodFacts(), engine.StateSucceeded); !hasLine(lines, "PASS ignore list", "2 table(s) in IgnoreTables.xml, none in the AOT") {
		t.Errorf("non-AOT tables:\n%s", strings.Join(lines, "\n"))
	}
	f = goodFacts()
	f.AOTTables, f.Unavailable = nil, map[string]string{"AOT tables": "Invalid object name 'dbo.SQLDICTIONARY'."}
	if _, lines = preflightWith(t, confirmed+good, f, engine.StateSucceeded); !hasLine(lines, "WARN ignore list", "could not check the 2 table(s)", "SQLDICTIONARY") {
		t.Errorf("the AX model unknown:\n%s", strings.Join(lines, "\n"))
	}
	broken := writeFile(t, "IgnoreTables.xml", "<IgnoreTables><Name><Table>X</Name>")
	if _, lines = preflightWith(t, confirmed+broken, goodFacts(), engine.StateFailed); !hasLine(lines, "FAIL ignore list", "write it in the toolkit's format") {
		t.Errorf("a broken file:\n%s", strings.Join(lines, "\n"))
	}

	// The toolkit's version and the checklist.
	st, lines = preflightWith(t, "", goodFacts(), engine.StateSucceeded)
	if st.Message != "13 checks: 11 passed, 2 warnings, 0 failed" || !hasLine(lines, "WARN toolkit version", "confirm the Data Migration Toolkit is version 1.0.12 or higher") ||
		!hasLine(lines, "WARN pre-upgrade checklist", "Dynamics 365 for Unified Operations data upgrade checklist", "Set up user mapping", "prepare-data-upgrade.md") {
		t.Errorf("checklist lines: %q\n%s", st.Message, strings.Join(lines, "\n"))
	}
	if st, _ = preflightWith(t, "warnings_fail: true", goodFacts(), engine.StateFailed); !strings.Contains(st.LastError, "toolkit version, pre-upgrade checklist") {
		t.Errorf("with warnings_fail the unconfirmed lines fail: %q", st.LastError)
	}
	if _, lines = preflightWith(t, "toolkit_exe: "+fakeExe(t, [4]uint16{1, 0, 12, 3}), goodFacts(), engine.StateSucceeded); !hasLine(lines, "PASS toolkit version", "DataMigrationTool.exe file version 1.0.12.3") {
		t.Errorf("toolkit 1.0.12.3:\n%s", strings.Join(lines, "\n"))
	}
	if _, lines = preflightWith(t, "toolkit_exe: "+fakeExe(t, [4]uint16{1, 0, 8, 0}), goodFacts(), engine.StateSucceeded); !hasLine(lines, "WARN toolkit version", "file version 1.0.8.0: the documents ask for toolkit 1.0.12 or higher", "unblock the ZIP") {
		t.Errorf("toolkit 1.0.8:\n%s", strings.Join(lines, "\n"))
	}
	if _, lines = preflightWith(t, "toolkit_exe: "+writeFile(t, "x.exe", "MZ nothing"), goodFacts(), engine.StateSucceeded); !hasLine(lines, "WARN toolkit version", "no version resource") {
		t.Errorf("no version resource:\n%s", strings.Join(lines, "\n"))
	}
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	h.src = "name: t\n" + replConnections + "steps:\n  - {id: p, title: P, kind: preflight, with: {confirmed: [toolkit]}}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), `confirmed: "toolkit" is not a checklist item`) {
		t.Errorf("an unknown checklist item: %v", err)
	}
}
