package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestDemoCatchesSentMail: `helpdesk demo` without HELPDESK_SMTP_URL
// delivers what it sends to its own SMTP catcher, and an admin sees a
// reply there, with its text.
func TestDemoCatchesSentMail(t *testing.T) {
	w := newWorld(t, teststore.URL(t, "sqlite"))
	addr := freeAddr(t)
	p := w.start([]string{"HELPDESK_LISTEN=" + addr}, "demo")
	password := regexp.MustCompile(`with password (\S+)`)
	waitFor(t, time.Minute, "the demo to start", func() bool { return password.MatchString(p.Log()) })
	if !strings.Contains(p.Log(), "/admin/caught") {
		t.Fatalf("the demo does not say where sent mail goes:\n%s", p.Log())
	}
	waitFor(t, time.Minute, "the demo mail to be fetched", func() bool {
		return w.count(`SELECT COUNT(*) FROM conversations`) > 0
	})
	var conversation string
	if err := w.db.QueryRow(`SELECT CAST(MIN(id) AS TEXT) FROM conversations`).Scan(&conversation); err != nil {
		t.Fatal(err)
	}

	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	page := func(path string) string {
		t.Helper()
		resp, err := web.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post := func(path, token string, form url.Values) {
		t.Helper()
		form.Set("_csrf", token)
		resp, err := web.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/login", csrf.FindStringSubmatch(page("/login"))[1], url.Values{
		"email": {demoAdmin}, "password": {password.FindStringSubmatch(p.Log())[1]}})
	post("/conversations/"+conversation+"/replies", csrf.FindStringSubmatch(page("/conversations/" + conversation))[1],
		url.Values{"body": {"We sent a new invoice: caught-by-the-demo."}})

	// New-conversation notifications are caught too, and may come first:
	// wait until one caught mail holds the reply's text.
	caughtLink := regexp.MustCompile(`href="(/admin/caught/\d+)"`)
	waitFor(t, time.Minute, "the reply to be caught", func() bool {
		for _, l := range caughtLink.FindAllStringSubmatch(page("/admin/caught"), -1) {
			if strings.Contains(page(l[1]), "caught-by-the-demo.") {
				return true
			}
		}
		return false
	})
	if strings.Contains(p.Log(), "outbound mail waits") {
		t.Fatalf("the demo's mail waits for an SMTP server:\n%s", p.Log())
	}
}

// freeAddr is a 127.0.0.1 address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
