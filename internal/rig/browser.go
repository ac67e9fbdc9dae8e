package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromedpDisabledFeatures is what chromedp's DefaultExecAllocatorOptions
// (v0.23.0) put into --disable-features. We build the flag list ourselves,
// and Chromium keeps only the last --disable-features, so we merge them into
// one flag.
const chromedpDisabledFeatures = "Translate,BlinkGenPropertyTrees"

// DisableFeatures is the value of the one --disable-features flag. Without
// WebRtcHideLocalIpsWithMdns, ICE host candidates carry the real address
// (127.0.0.1) instead of a .local name that nothing resolves in the netns.
const DisableFeatures = "WebRtcHideLocalIpsWithMdns," + chromedpDisabledFeatures

// BrowserSwitches are the switches Chromium gets, besides the ones chromedp
// adds itself (--remote-debugging-pipe, a fresh temporary --user-data-dir,
// and the first URL about:blank).
var BrowserSwitches = []string{
	"--headless",
	"--no-sandbox",
	"--use-fake-device-for-media-stream",
	"--use-fake-ui-for-media-stream",
	"--disable-gpu",
	"--disable-background-networking",
	"--no-first-run",
	"--allow-loopback-in-peer-connection",
	"--autoplay-policy=no-user-gesture-required",
	"--disable-component-update",
	"--disable-sync",
	"--disable-quic",
	"--disable-features=" + DisableFeatures,
}

const (
	browserStartTimeout = 60 * time.Second
	browserStopTimeout  = 15 * time.Second
	pageOpenTimeout     = 60 * time.Second
	// DefaultEvalTimeout bounds one Page.EvalErr unless Page.Timeout says else.
	DefaultEvalTimeout = 45 * time.Second
)

// Browser is a running headless Chromium.
type Browser struct {
	ctx       context.Context // the browser's first tab; parent of pages
	cancel    context.CancelFunc
	output    *Buffer
	execPath  string
	closeOnce sync.Once
	closeErr  error
}

// StartBrowser starts headless Chromium (see ChromiumPath) with exactly
// BrowserSwitches and a fresh temporary profile, and checks the switches on
// the running process. Close stops it. A missing Chromium is a
// *MissingError.
func StartBrowser() (*Browser, error) {
	full, err := ChromiumPath()
	if err != nil {
		return nil, missing("chromium", err)
	}
	b := &Browser{output: NewBuffer(1 << 20), execPath: full}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(full),
		chromedp.CombinedOutput(b.output),
	}
	for _, sw := range BrowserSwitches {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(sw, "--"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(f string, a ...any) { fmt.Fprintf(b.output, "chromedp error: "+f+"\n", a...) }),
	)
	b.ctx = ctx
	b.cancel = func() {
		cancel()
		allocCancel()
	}

	// The first Run starts the browser; its context must have no deadline,
	// so bound it from the outside.
	if err := runBounded(browserStartTimeout, b.cancel, func() error { return chromedp.Do(ctx) }); err != nil {
		b.Close()
		return nil, fmt.Errorf("rig: Chromium (%s) did not start: %w\noutput:\n%s", full, err, b.output.String())
	}

	// Chromium keeps only the last --disable-features: make sure there is
	// exactly one and that it has WebRtcHideLocalIpsWithMdns.
	args, err := b.CommandLine()
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("rig: reading Chromium's command line: %w", err)
	}
	var df []string
	for _, a := range args {
		if strings.HasPrefix(a, "--disable-features=") {
			df = append(df, a)
		}
	}
	if len(df) != 1 || !strings.Contains(df[0], "WebRtcHideLocalIpsWithMdns") {
		b.Close()
		return nil, fmt.Errorf("rig: Chromium must get exactly one --disable-features with WebRtcHideLocalIpsWithMdns, got %q in %q", df, args)
	}
	for _, sw := range BrowserSwitches {
		if !slices.Contains(args, sw) {
			b.Close()
			return nil, fmt.Errorf("rig: switch %s is missing from Chromium's command line %q", sw, args)
		}
	}
	return b, nil
}

// Close kills the browser and waits (at most 15 s) until it is gone. It is
// safe to call twice.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			b.cancel() // kills the process and waits for it
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(browserStopTimeout):
			b.closeErr = fmt.Errorf("rig: Chromium did not stop within %v", browserStopTimeout)
		}
	})
	return b.closeErr
}

// ChromiumPath returns the Chromium to run: $CHROMIUM if set, else
// /usr/bin/chromium (or chromium on PATH). Debian's /usr/bin/chromium is a
// shell launcher that sources /etc/chromium.d and adds its own switches
// (--enable-gpu-rasterization, --enable-remote-extensions, --load-extension=,
// ...); to run with exactly BrowserSwitches we start the binary it execs,
// /usr/lib/chromium/chromium.
func ChromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	p, err := exec.LookPath("/usr/bin/chromium")
	if err != nil {
		if p, err = exec.LookPath("chromium"); err != nil {
			return "", err
		}
	}
	if isShellScript(p) {
		const real = "/usr/lib/chromium/chromium"
		if st, err := os.Stat(real); err == nil && st.Mode()&0o111 != 0 {
			return real, nil
		}
	}
	return p, nil
}

func isShellScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := f.Read(head)
	return n == 2 && string(head) == "#!"
}

// Pid is the browser process's id (the root of Chromium's process tree),
// 0 when it is not running.
func (b *Browser) Pid() int {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0
	}
	return c.Browser.Process().Pid
}

// CommandLine returns the command line of the running browser process, as
// the kernel has it (/proc/PID/cmdline). With the Debian launcher
// /usr/bin/chromium this includes the switches it adds from
// /etc/chromium.d.
func (b *Browser) CommandLine() ([]string, error) {
	pid := b.Pid()
	if pid == 0 {
		return nil, errors.New("browser not running")
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00"), nil
}

// Output returns what Chromium printed so far.
func (b *Browser) Output() string { return b.output.String() }

// Page is one browser tab.
type Page struct {
	// Timeout bounds each EvalErr; zero means DefaultEvalTimeout.
	Timeout time.Duration

	ctx     context.Context
	cancel  context.CancelFunc
	console *Buffer
	once    sync.Once
}

// NewPage opens url in a new tab and waits until it has loaded (at most
// 20 s). The tab's console messages and uncaught exceptions are kept
// (Console). Close closes the tab; on error the tab is closed already.
func (b *Browser) NewPage(url string) (*Page, error) {
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{ctx: ctx, cancel: cancel, console: NewBuffer(1 << 20)}
	err := runBounded(pageOpenTimeout, p.Close, func() error {
		// The first Run on a tab binds the tab to its context: no deadline
		// here either. Console attaches the tab and subscribes before the
		// page loads, so no message is lost.
		msgs := chromedp.Console(ctx)
		go func() {
			for m, err := range msgs {
				if err != nil {
					return
				}
				p.addConsole(m)
			}
		}()
		return chromedp.Do(ctx, chromedp.Navigate(url))
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("rig: opening %s: %w\nconsole:\n%s", url, err, p.Console())
	}
	return p, nil
}

func (p *Page) addConsole(m chromedp.ConsoleMessage) {
	text := m.String()
	if m.Exception != nil {
		text = "exception: " + exceptionText(m.Exception)
	}
	where := ""
	if m.URL != "" {
		where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	fmt.Fprintf(p.console, "%s %s%s\n", m.Time.Format("15:04:05.000"), text, where)
}

// Console returns the console messages of the page so far.
func (p *Page) Console() string { return p.console.String() }

// EvalErr evaluates the JavaScript expression js in the page, awaits it if
// it is a promise, and decodes its JSON value into out (out may be nil).
// Errors: a thrown exception or a rejected promise, a timeout, or a JSON
// mismatch with out.
func (p *Page) EvalErr(js string, out any) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultEvalTimeout
	}
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	obj, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](js, chromedp.EvalAwaitPromise, chromedp.EvalAsValue))
	if err != nil {
		var ee *chromedp.ExceptionError
		if errors.As(err, &ee) {
			return errors.New(exceptionText(ee.ExceptionDetails))
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no result within %v: %w", timeout, err)
		}
		return err
	}
	if out == nil {
		return nil
	}
	raw := []byte(obj.Value)
	if len(bytes.TrimSpace(raw)) == 0 { // undefined
		raw = []byte("null")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding result %s: %w", Shorten(string(raw), 300), err)
	}
	return nil
}

// Close closes the tab. It is safe to call twice.
func (p *Page) Close() {
	p.once.Do(func() {
		done := make(chan struct{})
		go func() {
			p.cancel()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
}

// exceptionText describes a JavaScript exception: the thrown value's
// description (name, message and stack for an Error) or its value.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return ""
	}
	if e := d.Exception; e != nil {
		if e.Description != "" {
			return e.Description
		}
		if len(e.Value) > 0 {
			return d.Text + " " + string(e.Value)
		}
	}
	return fmt.Sprintf("%s (line %d, column %d)", d.Text, d.LineNumber+1, d.ColumnNumber+1)
}

// runBounded runs f and waits at most d for it; on timeout it calls abort
// (which must make f return) and reports the timeout.
func runBounded(d time.Duration, abort func(), f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		abort()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return fmt.Errorf("timed out after %v", d)
	}
}

// Shorten cuts s to n bytes, marking the cut.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
