package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var pt0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

// testPicture is a small picture as a monitor takes it.
func testPicture() *ReplicationView {
	return &ReplicationView{At: pt0, PendingAt: pt0, TotalPending: 40, DrainRate: 2, ETA: 20 * time.Second, Cycles: 3,
		Tables: []TableLag{
			{Table: "dbo.SALESLINE", Publication: "AX_PUB_PkTable_2", HasPK: true, Published: true, Pending: 40, PendingAt: pt0, Source: 90, SourceAt: pt0, Target: 50, TargetAt: pt0, OnTarget: true, Rate: 2, ETA: 20 * time.Second, Trend: []int64{60, 50, 40}},
			{Table: "dbo.CUSTTABLE", Publication: "AX_PUB_PkTable_1", HasPK: true, Published: true, PendingAt: pt0, Source: 7, SourceAt: pt0, Target: 7, TargetAt: pt0, OnTarget: true},
		},
		Trend:  []TrendPoint{{At: pt0.Add(-time.Minute), Pending: 60}, {At: pt0, Pending: 40}},
		Health: []SourceHealth{{Name: SourceAX, State: HealthFailing, Since: pt0, LastOK: pt0.Add(-time.Minute), LastError: "reset", Failures: 3}},
	}
}

func encoded(t testing.TB, v *ReplicationView) []byte {
	var b bytes.Buffer
	if err := encodePicture(&b, v, pt0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodePictureRefusesWhatNoPollTakes(t *testing.T) {
	good := string(encoded(t, testPicture()))
	if _, err := decodePicture([]byte(good)); err != nil {
		t.Fatalf("a picture as the monitor takes it: %v", err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("no %q in %s", old, good)
		}
		return strings.Replace(good, old, new, 1)
	}
	for name, in := range map[string]string{
		"empty":          "",
		"not json":       "picture",
		"array":          "[]",
		"null":           "null",
		"no picture":     `{"version":1}`,
		"other version":  edit(`"version":1`, `"version":2`),
		"no time":        edit(`"At":"2026-12-05T18:00:00Z","Tables"`, `"At":"0001-01-01T00:00:00Z","Tables"`),
		"never polled":   edit(`"Cycles":3`, `"Cycles":0`),
		"nameless table": edit(`"Table":"dbo.CUSTTABLE"`, `"Table":""`),
		"table twice":    edit(`"Table":"dbo.CUSTTABLE"`, `"Table":"SALESLINE"`),
		"negative count": edit(`"Source":7`, `"Source":-7`),
		"negative ETA":   edit(`"ETA":20000000000,"Trend"`, `"ETA":-1,"Trend"`),
		"huge rate":      edit(`"DrainRate":2`, `"DrainRate":1e999`),
		"negative total": edit(`"TotalPending":40`, `"TotalPending":-40`),
		"unknown source": edit(`"Name":"source"`, `"Name":"elsewhere"`),
		"bad health":     edit(`"State":"failing"`, `"State":"sideways"`),
		"bad trend":      edit(`{"At":"2026-12-05T17:59:00Z","Pending":60}`, `{"At":"2026-12-05T17:59:00Z","Pending":-60}`),
		"wrong type":     edit(`"Cycles":3`, `"Cycles":"three"`),
	} {
		if v, err := decodePicture([]byte(in)); err == nil {
			t.Errorf("%s: accepted %+v", name, v)
		}
	}
}

// FuzzDecodePicture: whatever the file holds, reading it and seeding a monitor with it never
// panics, and what is shown is in table order.
func FuzzDecodePicture(f *testing.F) {
	f.Add(encoded(f, testPicture()))
	f.Add([]byte(`{"version":1,"replication":{"At":"2026-12-05T18:00:00Z","Cycles":1,"Tables":[{"Table":"b"},{"Table":"a","Trend":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18]}]}}`))
	f.Add([]byte(`{"version":1,"replication":{"At":"2026-12-05T18:00:00Z","Cycles":1,"Agents":[{"Publication":"p","Status":9}],"Health":[{"Name":"target"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodePicture(b)
		if err != nil {
			return
		}
		m := newMonitor(func() time.Time { return pt0 }, monitorHooks{}, nil, MonitorConfig{})
		shown := m.restore(v)
		if shown == nil || !shown.Restored {
			t.Fatalf("a fresh monitor did not take the picture")
		}
		for i := 1; i < len(shown.Tables); i++ {
			if TableKey(shown.Tables[i-1].Table) >= TableKey(shown.Tables[i].Table) {
				t.Fatalf("tables out of order: %q before %q", shown.Tables[i-1].Table, shown.Tables[i].Table)
			}
		}
		for _, tl := range shown.Tables {
			if len(tl.Trend) > m.cfg.TableTrendPoints {
				t.Fatalf("table trend of %d points", len(tl.Trend))
			}
			shown.Table(tl.Table)
		}
		shown.Judge(DefaultThresholds(), pt0)
	})
}

// TestRestoreLeavesHealthUnknownAndStepsBlind: the sources' state is not carried over (a failing
// source that recovers while no engine ran must not be journaled as an outage of hours), and the
// steps see no figures until the first poll.
func TestRestoreLeavesHealthUnknownAndStepsBlind(t *testing.T) {
	m := newMonitor(func() time.Time { return pt0 }, monitorHooks{}, nil, MonitorConfig{Ignore: []string{"CUSTTABLE"}})
	v := m.restore(testPicture())
	ax := v.SourceHealth(SourceAX)
	if ax.State != HealthUnknown || !ax.Since.IsZero() || ax.Failures != 0 || !ax.LastOK.Equal(pt0.Add(-time.Minute)) || ax.LastError != "reset" {
		t.Fatalf("restored health %+v", ax)
	}
	if c, _ := v.Table("CUSTTABLE"); !c.Ignored {
		t.Fatal("the runbook's ignore list decides what is ignored")
	}
	if got := m.measured(); got.Restored || len(got.Tables) != 0 {
		t.Fatalf("a step sees the restored picture: %+v", got)
	}
	if m.latest() != v {
		t.Fatal("the front ends see the restored picture")
	}
	// A monitor that polled keeps its own picture.
	m.cycles = 1
	if m.restore(testPicture()) != nil {
		t.Fatal("a restored picture replaced a polled one")
	}
}

func TestPictureSaverCadence(t *testing.T) {
	dir := t.TempDir()
	real := pt0
	var warned []string
	s := &pictureSaver{path: filepath.Join(dir, PictureFileName), realNow: func() time.Time { return real }, warn: func(m string) { warned = append(warned, m) }}
	saved := func() time.Time {
		t.Helper()
		v, err := loadPicture(dir)
		if err != nil || v == nil {
			t.Fatalf("load: %v %v", v, err)
		}
		return v.At
	}
	pic := func(at time.Time) *ReplicationView { p := testPicture(); p.At = at; return p }

	s.save(&ReplicationView{At: pt0}, pt0, true) // never polled: not written, even forced
	if _, err := os.Stat(s.path); !os.IsNotExist(err) {
		t.Fatalf("an empty picture was written (%v)", err)
	}
	s.save(pic(pt0), pt0, false)
	if saved() != pt0 {
		t.Fatal("the first picture is written at once")
	}
	real = real.Add(time.Minute)
	s.save(pic(pt0.Add(15*time.Second)), pt0.Add(15*time.Second), false)
	if saved() != pt0 {
		t.Fatal("written again within PictureEvery of engine time")
	}
	s.save(pic(pt0.Add(time.Hour)), pt0.Add(time.Hour), false)
	if saved() != pt0.Add(time.Hour) {
		t.Fatal("not written when both gaps passed")
	}
	// A fast demo clock: engine time flies, real time does not.
	real = real.Add(time.Second)
	s.save(pic(pt0.Add(2*time.Hour)), pt0.Add(2*time.Hour), false)
	if saved() != pt0.Add(time.Hour) {
		t.Fatal("written again a real second later")
	}
	real = real.Add(pictureMinGap)
	s.save(pic(pt0.Add(2*time.Hour)), pt0.Add(2*time.Hour), false)
	if saved() != pt0.Add(2*time.Hour) {
		t.Fatal("not written once the real gap passed")
	}
	s.save(pic(pt0.Add(2*time.Hour+2*time.Second)), pt0.Add(2*time.Hour+2*time.Second), true)
	if saved() != pt0.Add(2*time.Hour+2*time.Second) {
		t.Fatal("a forced write (the engine stopping) was skipped")
	}
	restored := pic(pt0.Add(3 * time.Hour))
	restored.Restored = true
	s.save(restored, pt0.Add(3*time.Hour), true)
	if saved() != pt0.Add(2*time.Hour+2*time.Second) {
		t.Fatal("a restored picture was written back")
	}
	// A failure is said once.
	s.path = filepath.Join(dir, "missing", PictureFileName)
	for i := 0; i < 3; i++ {
		s.save(pic(pt0.Add(4*time.Hour)), pt0.Add(4*time.Hour), true)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "the run is not affected") {
		t.Fatalf("warnings %q", warned)
	}
}
