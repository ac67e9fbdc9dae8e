package testrig

import (
	"testing"

	"github.com/p2plive/p2plive-node/internal/rig"
)

// BrowserSwitches are the switches Chromium gets (rig.BrowserSwitches).
var BrowserSwitches = rig.BrowserSwitches

// DisableFeatures is the value of Chromium's one --disable-features flag.
const DisableFeatures = rig.DisableFeatures

// DefaultEvalTimeout bounds one Page.Eval unless Page.Timeout says else.
const DefaultEvalTimeout = rig.DefaultEvalTimeout

// Browser is a headless Chromium started for one test (rig.Browser).
type Browser struct {
	*rig.Browser
}

// StartBrowser starts headless Chromium (see rig.ChromiumPath:
// /usr/bin/chromium or $CHROMIUM) with exactly BrowserSwitches and a fresh
// temporary profile, and checks the switches on the running process.
// t.Cleanup kills it.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	b, err := rig.StartBrowser()
	check(t, err)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("testrig: %v", err)
		}
		if t.Failed() {
			t.Logf("testrig: Chromium output:\n%s", b.Output())
		}
	})
	return &Browser{b}
}

// Page is one browser tab (rig.Page) owned by a test.
type Page struct {
	*rig.Page
}

// NewPage opens url in a new tab and waits until it has loaded (at most
// 20 s). The tab's console messages and uncaught exceptions are printed with
// t.Log when the test fails. t.Cleanup closes the tab.
func (b *Browser) NewPage(t testing.TB, url string) *Page {
	t.Helper()
	p, err := b.Browser.NewPage(url)
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testrig: console of %s:\n%s", url, p.Console())
		}
		p.Close()
	})
	return &Page{p}
}

// Eval evaluates the JavaScript expression js in the page, awaits it if it is
// a promise, and decodes its JSON value into out (out may be nil). On error
// or timeout it fails the test and prints the page's console.
func (p *Page) Eval(t testing.TB, js string, out any) {
	t.Helper()
	if err := p.EvalErr(js, out); err != nil {
		t.Fatalf("testrig: eval %s: %v\nconsole:\n%s", rig.Shorten(js, 300), err, p.Console())
	}
}
