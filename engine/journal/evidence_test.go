package journal

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// TestReadEvidenceMatchesVerify: ReadEvidence returns what verifies — everything before the first
// bad line — and the same verification report as Verify, for a good, a torn and a tampered journal.
func TestReadEvidenceMatchesVerify(t *testing.T) {
	path, orig := writeJournal(t, 5)
	lines := bytes.SplitAfter(orig, []byte("\n"))
	tampered := append([]byte(nil), orig...)
	at := len(lines[0]) + len(lines[1]) + bytes.Index(lines[2], []byte(`"note"`)) + 2
	tampered[at] ^= 0x01
	cases := map[string]struct {
		data    []byte
		records int
		bad     int
	}{
		"good":     {orig, 5, 0},
		"torn":     {append(append([]byte(nil), orig...), `{"seq":6,"ti`...), 5, 0},
		"tampered": {tampered, 2, 3},
	}
	for name, c := range cases {
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		want, err := Verify(path)
		if err != nil {
			t.Fatal(err)
		}
		got, rep, err := ReadEvidence(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(rep, want) {
			t.Errorf("%s: ReadEvidence report %+v, Verify %+v", name, rep, want)
		}
		if len(got.Records) != c.records || got.Head != want.Head || (c.bad == 0) != rep.OK() {
			t.Errorf("%s: %d records (want %d), head %s (verify %s), ok %v", name, len(got.Records), c.records, got.Head, want.Head, rep.OK())
		}
		if c.bad != 0 && rep.Bad.Line != c.bad {
			t.Errorf("%s: bad line %d, want %d", name, rep.Bad.Line, c.bad)
		}
		if c.bad == 0 {
			if _, err := Read(path); err != nil {
				t.Errorf("%s: Read: %v", name, err)
			}
		}
	}
	if _, _, err := ReadEvidence(path + ".missing"); err == nil {
		t.Error("a missing journal must be an error")
	}
}
