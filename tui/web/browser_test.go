package web_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"cutover/engine"
	"cutover/tui/web"
)

// chromium finds Debian's chromium (installed by .ci/run) or another Chromium build.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser test drives headless Chromium: not in -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("headless Chromium is not installed (bash .ci/run installs Debian's chromium): the browser test is skipped")
	return ""
}

// The page in a real headless Chromium: it loads with no request to anything but the server,
// shows the phase and the downtime clock, and updates by itself when a step changes.
func TestPageInHeadlessChromium(t *testing.T) {
	path := chromium(t)
	w := newWorld(t, web.Options{Tick: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// This machine's network is closed: Chromium must not try its own background connections.
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-default-apps", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(412, 915)) // a phone's screen
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	text := func(id string) string {
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("#%s: %v", id, err)
		}
		return s
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(w.base+"/?token="+w.token),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-step="prep"][data-state="running"]`)),
	); err != nil {
		t.Fatalf("the page did not load: %v", err)
	}
	if phase, downtime, outcome := text("phase"), text("downtime"), text("outcome"); phase != "Before downtime" || downtime != "not started" ||
		!strings.Contains(outcome, "waiting for an operator") {
		t.Errorf("before the downtime: phase %q, downtime %q, outcome %q", phase, downtime, outcome)
	}
	// A step changes in the engine: the page follows without being reloaded.
	if _, err := w.e.MarkDone("prep", ana, "ready", ""); err != nil {
		t.Fatal(err)
	}
	w.waitState("stop", engine.StateRunning)
	w.clk.Advance(30 * time.Minute)
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`tr[data-step="prep"][data-state="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-step="stop"][data-state="running"]`)),
	); err != nil {
		t.Fatalf("the page did not follow the step change: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[chromedp.Void](`document.getElementById("downtime").textContent.indexOf("30m00s / 4h00m") >= 0`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the downtime clock did not start: %v (it shows %q)", err, text("downtime"))
	}
	if phase, downtime := text("phase"), text("downtime"); phase != "Shutdown" || !strings.HasPrefix(downtime, "30m00s / 4h00m (12%)") {
		t.Errorf("after the downtime began: phase %q, downtime %q", phase, downtime)
	}
	if path := os.Getenv("CUTOVER_WEB_SCREENSHOT"); path != "" {
		if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(path, png, 0o600)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 2 {
		t.Fatalf("the network events were not seen: %v", requests)
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, w.base+"/") {
			t.Errorf("the page made a request outside its server: %s", u)
		}
	}
}
