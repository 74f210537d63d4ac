package report_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (installed by .ci/run) or another Chromium build.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the layout test drives headless Chromium: not in -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("headless Chromium is not installed (bash .ci/run installs Debian's chromium): the report's layout test is skipped")
	return ""
}

// wrapCheck is run in the page: every cell of a number, a time or an identifier (td/th with class
// num, time or id) whose text takes more than one line is listed, and every table wider than its
// box. A cell's lines are its text's line boxes: the distinct tops of a Range's client rectangles
// over the cell's content (one per line; a cell of one line has one top whatever its height).
const wrapCheck = `(() => {
  const lines = (el) => {
    const r = document.createRange();
    r.selectNodeContents(el);
    const tops = new Set();
    for (const rect of r.getClientRects()) {
      if (rect.width > 0 && rect.height > 0) tops.add(Math.round(rect.top));
    }
    return tops.size;
  };
  const wrapped = [];
  let cells = 0;
  for (const el of document.querySelectorAll("td.num, td.time, td.id, th.num, th.time, th.id")) {
    cells++;
    if (lines(el) > 1) wrapped.push(el.closest("section").id + ": " + el.textContent);
  }
  const wide = [];
  for (const el of document.querySelectorAll("div.scroll")) {
    if (el.scrollWidth > el.clientWidth + 1) wide.push(el.closest("section").id + " (" + el.scrollWidth + "px in " + el.clientWidth + "px)");
  }
  // The check itself: a number squeezed into a narrow cell without the report's rule wraps.
  const probe = document.createElement("table");
  probe.innerHTML = '<tbody><tr><td style="width:12px;max-width:12px;white-space:normal;overflow-wrap:anywhere">1284330</td></tr></tbody>';
  document.body.appendChild(probe);
  const probeLines = lines(probe.querySelector("td"));
  probe.remove();
  return JSON.stringify({cells: cells, wrapped: wrapped, wide: wide, probe: probeLines});
})()`

// TestReportHTMLNumbersNeverWrap: the HTML report of a realistic night, in headless Chromium at
// 1400 px, shows every number, time and identifier on one line, and every table fits its box.
// CUTOVER_REPORT_HTML names another report to check as well (a demo's: cutover report -o).
func TestReportHTMLNumbersNeverWrap(t *testing.T) {
	path := chromium(t)
	_, doc := goldenReport(t)
	files := []string{filepath.Join(t.TempDir(), "report.html")}
	if err := os.WriteFile(files[0], []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if other := os.Getenv("CUTOVER_REPORT_HTML"); other != "" {
		abs, err := filepath.Abs(other)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, abs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-default-apps", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	for i, file := range files {
		if err := chromedp.Do(bctx,
			chromedp.EmulateViewport(1400, 1000),
			chromedp.Navigate("file://"+file),
			chromedp.WaitReady(chromedp.CSS("#journal-integrity")),
		); err != nil {
			t.Fatalf("%s did not load in Chromium: %v", file, err)
		}
		if shot := os.Getenv("CUTOVER_REPORT_SCREENSHOT"); shot != "" && i == 0 {
			if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(shot, png, 0o600)
			}
		}
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](wrapCheck))
		if err != nil {
			t.Fatalf("the check did not run on %s: %v", file, err)
		}
		var res struct {
			Cells   int      `json:"cells"`
			Wrapped []string `json:"wrapped"`
			Wide    []string `json:"wide"`
			Probe   int      `json:"probe"`
		}
		if err := json.Unmarshal([]byte(got), &res); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		if res.Probe < 2 {
			t.Fatalf("the check cannot see a wrapped number (the probe took %d line(s)): it proves nothing", res.Probe)
		}
		if i == 0 && res.Cells < 100 {
			t.Fatalf("only %d number, time and identifier cells found: the report is not the one expected", res.Cells)
		}
		if len(res.Wrapped) > 0 {
			t.Errorf("%s: %d cell(s) wrap at 1400 px:\n%s", file, len(res.Wrapped), strings.Join(res.Wrapped, "\n"))
		}
		if len(res.Wide) > 0 {
			t.Errorf("%s: table(s) wider than the page at 1400 px:\n%s", file, strings.Join(res.Wide, "\n"))
		}
	}
}
