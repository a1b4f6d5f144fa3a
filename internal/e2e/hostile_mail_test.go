package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// canary is an HTTP server on another loopback address (127.0.0.2) that
// the hostile mails point at: every request it gets is a request that left
// for a "remote host".
type canary struct {
	addr string
	mu   sync.Mutex
	hits []string
}

func startCanary(t *testing.T) *canary {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("canary listen on 127.0.0.2: %v", err)
	}
	c := &canary{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits = append(c.hits, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func (c *canary) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.hits...)
}

// fetchHostileCorpus appends testdata/hostile/*.eml to a private
// Dovecot (their remote URLs pointing at the canary) and fetches them into
// a new mailbox the agent works on. It returns the mailbox id.
func fetchHostileCorpus(t *testing.T, e *env, canaryAddr string) (int64, int) {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob("testdata/hostile/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile corpus: %v", err)
	}
	sort.Strings(files)
	d := testserver.StartDovecot(t)
	d.AddUser(t, "support", "secret-pass")
	var msgs [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, []byte(strings.ReplaceAll(string(raw), "CANARY", canaryAddr)))
	}
	d.AppendMany(t, "support", "INBOX", msgs)
	mb := dovecotMailbox(t, e, d, "support")
	sum, err := fetcher.New(e.store, fetcher.Config{Holder: "test"}).RunLeased(ctx, e.local, fetcher.Job{MailboxID: mb, Trigger: "test"})
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if sum.New != len(files) {
		t.Fatalf("fetched %+v, want %d new", sum, len(files))
	}
	return mb, len(files)
}

// browser opens a tab for the test in the package's shared Chromium, in a
// browser context of its own, with headless Chromium's default window.
func browser(t *testing.T) context.Context {
	t.Helper()
	return testserver.ChromiumTab(t, 800, 600)
}

func TestHostileMailInChromium(t *testing.T) {
	e := setup(t, "sqlite")
	ctx := context.Background()
	can := startCanary(t)
	mb, n := fetchHostileCorpus(t, e, can.addr)

	list, err := e.store.Conversations(ctx, helpdesk.ViewerOf(e.agent), helpdesk.ConversationFilter{MailboxID: mb, PerPage: 100})
	if err != nil || len(list.Conversations) != n {
		t.Fatalf("conversations: %v %+v", err, list)
	}

	bctx := browser(t)
	base, _ := url.Parse(e.ts.URL)
	var (
		mu       sync.Mutex
		requests []string
		dialogs  []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requests = append(requests, ev.Request.URL)
			mu.Unlock()
		case *cdppage.EventJavascriptDialogOpening:
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			go chromedp.Call(bctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatal(err)
	}
	token, _, err := e.store.CreateSession(ctx, e.agent.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	httpOnly := true
	if _, err := chromedp.Call(bctx, network.SetCookie, network.SetCookieParams{
		Name: sessionCookie, Value: token, URL: e.ts.URL, Path: "/", HTTPOnly: &httpOnly,
	}); err != nil {
		t.Fatal(err)
	}

	type probe struct {
		Pwned      string `json:"pwned"`
		Title      string `json:"title"`
		Href       string `json:"href"`
		Handlers   int    `json:"handlers"`
		Dangerous  int    `json:"dangerous"`
		Text       string `json:"text"`
		LogoLoaded bool   `json:"logoLoaded"`
		Box        struct {
			Articles     int      `json:"articles"`
			Mains        int      `json:"mains"`
			Named        int      `json:"named"`
			ForeignLinks []string `json:"foreignLinks"`
			StrayText    []string `json:"strayText"`
			Outside      []string `json:"outside"`
			BadStyles    []string `json:"badStyles"`
		} `json:"box"`
	}
	// The probe provokes what a user would (hover, focus, toggle) and then
	// looks: no payload ran, no handler or active element survived.
	const probeJS = `(() => {
		const main = document.querySelector('main');
		for (const el of main.querySelectorAll('*')) {
			for (const type of ['mouseover', 'mouseenter', 'focus', 'click', 'toggle', 'load', 'error']) {
				if (el.tagName === 'A' || el.tagName === 'BUTTON') continue;
				try { el.dispatchEvent(new Event(type, {bubbles: true})); } catch (e) {}
			}
		}
		const handlers = [...main.querySelectorAll('*')].filter(el => [...el.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length;
		const dangerous = main.querySelectorAll('.mail-html script, .mail-html iframe, .mail-html object, .mail-html embed, .mail-html svg, .mail-html math, .mail-html style, .mail-html link, .mail-html meta, .mail-html base, .mail-html form, .mail-html input, .mail-html [srcset], .mail-html [background], .mail-html [href^="javascript" i], .mail-html [src^="javascript" i]').length;
		const logo = [...document.querySelectorAll('img')].find(i => i.alt === 'logo');
		return {pwned: typeof window.__pwned, title: document.title, href: location.href, handlers, dangerous,
			text: main.innerText, logoLoaded: !!(logo && logo.complete && logo.naturalWidth === 1), box: boxProbe()};
	})()`

	// boxProbe looks for mail outside its thread's box (.mail-html): in
	// the DOM (elements, text, links, ids the page did not make) and on
	// the screen (mail elements drawn beyond the box's edges), and for
	// inline styles beyond the allowed properties.
	const boxProbeJS = `function boxProbe() {
		const main = document.querySelector('main');
		const inMail = n => !!(n.nodeType === 1 ? n : n.parentElement).closest('.mail-html');
		const box = {articles: 0, mains: document.querySelectorAll('[id="main"]').length,
			named: document.querySelectorAll('.mail-html [id], .mail-html [name], .mail-html [class]').length,
			foreignLinks: [], strayText: [], outside: [], badStyles: []};
		box.articles = [...main.querySelectorAll('article')].filter(a => !inMail(a)).length;
		for (const a of main.querySelectorAll('a[href]')) {
			if (!inMail(a) && !a.getAttribute('href').startsWith('/')) box.foreignLinks.push(a.getAttribute('href') + ' around ' + a.textContent.trim());
		}
		const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (!inMail(n) && /ESCAPE-|Demo Admin|Your order|Item|350 EUR/.test(n.textContent)) box.strayText.push(n.textContent.trim());
		}
		for (const m of main.querySelectorAll('.mail-html')) {
			const r = m.getBoundingClientRect();
			for (const el of m.querySelectorAll('*')) {
				const e = el.getBoundingClientRect();
				if (e.width === 0 && e.height === 0) continue;
				if (e.top < r.top - 1 || e.left < r.left - 1 || e.bottom > r.bottom + 1) box.outside.push(el.tagName + ' ' + el.textContent.trim().slice(0, 40));
			}
		}
		const allowed = new Set(` + "`" + `color background-color font-family font-size font-style font-weight line-height letter-spacing
			text-align text-decoration text-indent vertical-align white-space width max-width height
			padding padding-top padding-right padding-bottom padding-left border border-top border-right border-bottom border-left
			border-color border-style border-width border-collapse border-spacing table-layout` + "`" + `.split(/\s+/));
		for (const el of main.querySelectorAll('.mail-html [style]')) {
			const value = el.getAttribute('style');
			const props = value.split(';').map(d => d.split(':')[0].trim().toLowerCase()).filter(p => p);
			if (/url\(|expression|image|@import|\\/i.test(value) || props.some(p => !allowed.has(p))) box.badStyles.push(value);
		}
		return box;
	}`

	visit := func(path string) probe {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+path)); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		time.Sleep(700 * time.Millisecond) // meta refresh, delayed loads, timers
		p, err := chromedp.Run(bctx, chromedp.Evaluate[probe](boxProbeJS+";"+probeJS))
		if err != nil {
			t.Fatalf("probe %s: %v", path, err)
		}
		time.Sleep(200 * time.Millisecond)
		again, err := chromedp.Run(bctx, chromedp.Evaluate[string](`typeof window.__pwned`))
		if err != nil {
			t.Fatal(err)
		}
		if p.Pwned != "undefined" || again != "undefined" || p.Title == "pwned" {
			t.Errorf("%s: a script ran: __pwned is %s/%s, title %q", path, p.Pwned, again, p.Title)
		}
		if p.Href != e.ts.URL+path {
			t.Errorf("%s: the page navigated to %s", path, p.Href)
		}
		if p.Handlers != 0 || p.Dangerous != 0 {
			t.Errorf("%s: %d elements with event handlers, %d dangerous elements survived", path, p.Handlers, p.Dangerous)
		}
		if b := p.Box; strings.HasPrefix(path, "/conversations/") && (b.Articles != 1 || b.Mains != 1 || b.Named != 0 ||
			len(b.ForeignLinks)+len(b.StrayText)+len(b.Outside)+len(b.BadStyles) > 0) {
			t.Errorf("%s: mail outside its box: %d thread articles (want 1), %d elements with id main (want 1), %d mail elements with id, name or class; links around page content %q; mail text outside the box %q; mail drawn outside the box %q; inline styles beyond the allow-list %q",
				path, b.Articles, b.Mains, b.Named, b.ForeignLinks, b.StrayText, b.Outside, b.BadStyles)
		}
		return p
	}

	if home := visit("/?status=all"); !strings.Contains(home.Text, "Scripts everywhere") || !strings.Contains(home.Text, "Tracking pixels") {
		t.Errorf("the list lacks the hostile conversations:\n%s", home.Text)
	}
	bySubject := map[string]probe{}
	for _, c := range list.Conversations {
		p := visit("/conversations/" + itoa(c.ID))
		bySubject[c.Subject] = p
		if c.Subject == "Files for you" {
			// The inline cid: image is served from the stored part.
			if !p.LogoLoaded {
				t.Errorf("inline cid: image did not load")
			}
			for _, a := range []string{"evil.html", "logo.png"} {
				if !strings.Contains(p.Text, a) {
					t.Errorf("attachments list lacks %q:\n%s", a, p.Text)
				}
			}
		}
		if c.Subject == "Formatted order" {
			checkFormattingKept(t, bctx)
		}
		if c.Subject == "Escaping the box" && (!strings.Contains(p.Text, "ESCAPE-2") || !strings.Contains(p.Text, "Attachments:")) {
			t.Errorf("the escaping mail's text or the page's attachments label is missing:\n%s", p.Text)
		}
		if strings.HasPrefix(c.Subject, "Refund") && !strings.Contains(p.Text, "<script>window.__pwned='subject'</script>") {
			t.Errorf("hostile subject not shown as text: %q\n%s", c.Subject, p.Text)
		}
	}
	if p, ok := bySubject["Scripts everywhere"]; !ok || !strings.Contains(p.Text, "Hello agent.") || !strings.Contains(p.Text, "Bye.") {
		t.Errorf("the harmless part of the script mail is missing: %+v", p)
	}

	mu.Lock()
	var remote []string
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil {
			remote = append(remote, r)
			continue
		}
		switch u.Scheme {
		case "data", "about", "blob":
			continue
		}
		if u.Host != base.Host {
			remote = append(remote, r)
		}
	}
	gotDialogs := append([]string(nil), dialogs...)
	mu.Unlock()
	if len(remote) > 0 {
		t.Errorf("requests left for other hosts: %v", remote)
	}
	if hits := can.seen(); len(hits) > 0 {
		t.Errorf("the canary host was contacted: %v", hits)
	}
	if len(gotDialogs) > 0 {
		t.Errorf("scripts opened dialogs: %v", gotDialogs)
	}
	if len(requests) < n {
		t.Fatalf("only %d requests seen: the network listener is not working", len(requests))
	}

	// Control: when the agent allows remote images, the tracking pixel does
	// load. So the canary works, and the blocking above was real.
	for _, c := range list.Conversations {
		if c.Subject == "Tracking pixels" {
			visit("/conversations/" + itoa(c.ID) + "?images=1")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(can.seen(), " "), "/pixel.gif") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hits := can.seen(); !strings.Contains(strings.Join(hits, " "), "GET /pixel.gif") {
		t.Errorf("with remote images allowed, the pixel was not loaded: %v", hits)
	} else {
		for _, h := range hits {
			if !strings.Contains(h, ".gif") && !strings.Contains(h, ".png") {
				t.Errorf("with remote images allowed, a non-image request left: %s", h)
			}
		}
	}
}

// checkFormattingKept: the customer's inline styles (colours, weight,
// style, alignment, table layout) apply in the browser, under the page's
// Content-Security-Policy, on the page that shows 09-formatted.eml.
func checkFormattingKept(t *testing.T, bctx context.Context) {
	t.Helper()
	type styles struct {
		Color, Weight, Style, Align, Layout, PriceAlign, HeadBackground string
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[styles](`(() => {
		const el = text => [...document.querySelectorAll('.mail-html *')].find(e => e.textContent.trim() === text);
		const cs = text => { const e = el(text); return e ? getComputedStyle(e) : {}; };
		const table = document.querySelector('.mail-html table');
		return {Color: cs('Your order is confirmed').color, Weight: cs('Your order is confirmed').fontWeight,
			Style: cs('Thank you for shopping with us.').fontStyle, Align: cs('Thank you for shopping with us.').textAlign,
			Layout: table ? getComputedStyle(table).tableLayout : '', PriceAlign: cs('200 EUR').textAlign,
			HeadBackground: cs('Item').backgroundColor};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	want := styles{Color: "rgb(204, 0, 0)", Weight: "700", Style: "italic", Align: "center", Layout: "fixed",
		PriceAlign: "right", HeadBackground: "rgb(238, 238, 238)"}
	if got != want {
		t.Errorf("the formatted mail lost its styles:\n got %+v\nwant %+v", got, want)
	}
}
