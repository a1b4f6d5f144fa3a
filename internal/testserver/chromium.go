package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// ChromiumFlags returns the flags for running Chromium headless in tests.
// A new slice on every call, so callers may append to it.
func ChromiumFlags() []string {
	return []string{
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--no-first-run",
		"--disable-quic",
	}
}

// Chromium returns the path of Debian's Chromium and fails the test if it is
// not installed (skips it under -short).
func Chromium(t testing.TB) string {
	t.Helper()
	SkipShort(t, "Chromium")
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return filepath.Clean(p)
	}
	t.Fatal("testserver: chromium not found; install it with: apt-get install -y chromium")
	return ""
}

// sharedChromium is the one headless Chromium of a test binary, started by
// the first ChromiumTab and stopped by Main: a Chromium costs seconds of
// CPU to start, a browser context in a running one next to nothing.
var sharedChromium struct {
	mu   sync.Mutex
	root context.Context // the browser's first tab
	stop func()
}

// ChromiumTab opens a tab of width×height px in the test binary's shared
// headless Chromium, in a browser context of its own: its own cookies,
// storage and cache, as a fresh browser's. The tab is closed when the test
// ends. Run chromedp actions on the returned context; open another user's
// tab next to it with chromedp.NewContext(tab, chromedp.WithNewBrowserContext()).
func ChromiumTab(t testing.TB, width, height int) context.Context {
	t.Helper()
	root, err := sharedChromiumRoot(Chromium(t))
	if err != nil {
		t.Fatalf("testserver: start chromium: %v", err)
	}
	tab, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, setWindowSize(width, height)); err != nil {
		t.Fatalf("testserver: open a chromium tab: %v", err)
	}
	return tab
}

// sharedChromiumRoot starts the shared Chromium unless it runs.
func sharedChromiumRoot(path string) (context.Context, error) {
	s := &sharedChromium
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil {
		return s.root, nil
	}
	dir, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(dir)}
	for _, f := range append(ChromiumFlags(), "--disable-dev-shm-usage") {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(actx)
	stop := func() { cancelRoot(); cancelAlloc(); os.RemoveAll(dir) }
	if err := chromedp.Do(root); err != nil { // starts the browser
		stop()
		return nil, err
	}
	s.root, s.stop = root, stop
	return root, nil
}

// setWindowSize sizes the window of the tab, as --window-size does the
// first window of a browser of its own.
func setWindowSize(width, height int) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		c := chromedp.FromContext(ctx)
		w, err := cdp.Call(ctx, c.Browser, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: c.Target.TargetID})
		if err != nil {
			return fmt.Errorf("window of the tab: %w", err)
		}
		_, err = cdp.Call(ctx, c.Browser, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID,
			Bounds: &browser.Bounds{Width: int64(width), Height: int64(height), WindowState: browser.WindowStateNormal}})
		return err
	})
}

// stopSharedChromium stops the shared Chromium if a test started it.
func stopSharedChromium() {
	s := &sharedChromium
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.root, s.stop = nil, nil
	}
}
