package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// Mail from broken clients (the damaged-*.eml corpus of mailparse) is
// fetched from Dovecot and stored as conversations with the subject and
// text the parser reads (mailparse's TestParseDamagedCorpus holds those to
// what Python's email package reads). A message that still cannot be
// parsed is quarantined and shown to agents as a conversation with its raw
// text, escaped; a retry that parses puts the message into that same
// conversation.
func TestDamagedMailReachesAgents(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) { testDamagedMailReachesAgents(t, dialect) })
	}
}

func testDamagedMailReachesAgents(t *testing.T, dialect string) {
	e := setup(t, dialect)
	ctx := context.Background()
	corpus, err := filepath.Glob("../../fetcher/mailparse/testdata/eml/damaged-*.eml")
	if err != nil || len(corpus) < 10 {
		t.Fatalf("corpus: %d files (%v)", len(corpus), err)
	}
	want := map[string]*helpdesk.IncomingMessage{} // by subject
	var raws [][]byte
	for _, f := range corpus {
		if strings.HasSuffix(f, "damaged-cr-only.eml") {
			continue // Dovecot rewrites lone CR line breaks on APPEND; mailparse's test has it
		}
		raw := readFile(t, f)
		m, err := mailparse.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want[m.Subject] = m
		raws = append(raws, raw)
	}
	unreadable := readFile(t, "testdata/unreadable/first-line-folded.eml")
	if _, err := mailparse.Parse(unreadable); err == nil {
		t.Fatal("the unreadable message parses: the test needs one that does not")
	}
	raws = append(raws, unreadable)

	d := testserver.StartDovecot(t)
	d.AddUser(t, "support", "secret-pass")
	d.AppendMany(t, "support", "INBOX", raws)
	mb := dovecotMailbox(t, e, d, "support")
	fetch := func() fetcher.Summary {
		t.Helper()
		sum, err := fetcher.New(e.store, fetcher.Config{Holder: "test"}).RunLeased(ctx, e.local, fetcher.Job{MailboxID: mb, Trigger: "test"})
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		return sum
	}
	stored := len(raws) - 1
	if sum := fetch(); sum.New != stored || sum.Quarantined != 1 {
		t.Fatalf("fetched %+v, want %d new and 1 quarantined", sum, stored)
	}

	convs := e.conversations(t, mb)
	if len(convs) != stored+1 {
		t.Fatalf("%d conversations, want %d", len(convs), stored+1)
	}
	var shownID int64
	for _, c := range convs {
		d := e.conversation(t, c.ID)
		th := d.Threads[0]
		if m, ok := want[c.Subject]; ok {
			if len(d.Threads) != 1 || th.BodyText != m.Text || th.FromEmail != m.From.Email || th.Unreadable {
				t.Errorf("%q: stored %q from %q (unreadable %v), want %q from %q", c.Subject, th.BodyText, th.FromEmail, th.Unreadable, m.Text, m.From.Email)
			}
			delete(want, c.Subject)
			continue
		}
		shownID = c.ID
		if c.Subject != "My printer <b>is</b> on fire" || th.FromEmail != "zed@example.com" || !th.Unreadable {
			t.Errorf("the unreadable message is shown as %q from %q (unreadable %v)", c.Subject, th.FromEmail, th.Unreadable)
		}
		if !strings.Contains(th.BodyText, "Hello,\uFFFD the printer \uFFFD\uFFFD is on <script>") || strings.ContainsRune(th.BodyText, 0) {
			t.Errorf("raw text shown: %q", th.BodyText)
		}
	}
	if len(want) != 0 || shownID == 0 {
		t.Fatalf("not stored: %v; unreadable conversation %d", want, shownID)
	}

	// The agent's page: the raw text escaped, with the note.
	page := e.page(t, "/conversations/"+itoa(shownID))
	for _, s := range []string{"could not be fully read", "&lt;script&gt;alert(1)&lt;/script&gt;", "Zed Customer"} {
		if !strings.Contains(page, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.ContainsRune(page, 0) {
		t.Error("the raw text is not escaped")
	}

	// The admin's status page says why it is there.
	qs, err := e.store.Quarantined(ctx, mb)
	if err != nil || len(qs) != 1 || !strings.Contains(qs[0].Reason, "could not parse") ||
		qs[0].ConversationID == nil || *qs[0].ConversationID != shownID {
		t.Fatalf("quarantine %+v (%v)", qs, err)
	}
	status := e.adminPage(t, "/admin/status")
	if !strings.Contains(status, "could not parse: unparsable message") || !strings.Contains(status, `href="/conversations/`+itoa(shownID)+`"`) {
		t.Errorf("the status page lacks the reason or the conversation:\n%s", status)
	}

	// A retry that still cannot parse it keeps it where it is.
	if err := e.store.RetryQuarantined(ctx, qs[0].ID); err != nil {
		t.Fatal(err)
	}
	if sum := fetch(); sum.New != 0 {
		t.Fatalf("retry of an unreadable message: %+v", sum)
	}
	if again, _ := e.store.Quarantined(ctx, mb); len(again) != 1 || again[0].Status != "held" || !e.conversation(t, shownID).Threads[0].Unreadable {
		t.Fatalf("after a failed retry: %+v", again)
	}
	if n := len(e.conversations(t, mb)); n != len(convs) {
		t.Fatalf("%d conversations after a failed retry, want %d", n, len(convs))
	}

	// One quarantined before agents were shown such messages is shown when
	// a retry still cannot parse it.
	fence, err := e.store.Fence(ctx, mb)
	if err != nil {
		t.Fatal(err)
	}
	h := e.store.FetchHandle(mb, fence)
	legacy := helpdesk.MessageSource{MailboxID: mb, Folder: "INBOX", UIDValidity: 1, UID: 998, Fence: fence}
	if err := h.Quarantine(ctx, legacy, unreadable, int64(len(unreadable)), true, "could not parse: before"); err != nil {
		t.Fatal(err)
	}
	e.retry(t, mb, 998)
	if sum := fetch(); sum.New != 0 {
		t.Fatalf("retry of an unreadable message: %+v", sum)
	}
	if n := len(e.conversations(t, mb)); n != len(convs)+1 {
		t.Fatalf("%d conversations after the retry of a hidden unreadable message, want %d", n, len(convs)+1)
	}

	// A parser that can now read it (as this one reads the stray line that
	// the parser before it quarantined): the retry puts the parsed message
	// into the conversation agents already see.
	if fence, err = e.store.Fence(ctx, mb); err != nil {
		t.Fatal(err)
	}
	b, err := e.store.FetchHandle(mb, fence).BeginIngest(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	stray := readFile(t, "../../fetcher/mailparse/testdata/eml/damaged-stray-line.eml")
	stray = []byte(strings.Replace(string(stray), "<stray-line@example.com>", "<stray-line-2@example.com>", 1)) // not a copy of the stored one
	src := helpdesk.MessageSource{MailboxID: mb, Folder: "INBOX", UIDValidity: 1, UID: 999, Fence: fence}
	if err := b.QuarantineUnparsable(ctx, src, mailparse.Salvage(stray), int64(len(stray)), "could not parse: the old parser's verdict"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	convs = e.conversations(t, mb)
	var oldID, oldThread int64
	for _, c := range convs {
		if d := e.conversation(t, c.ID); d.Threads[0].Unreadable && c.Subject == "A stray line between headers" {
			oldID, oldThread = c.ID, d.Threads[0].ID
		}
	}
	if oldID == 0 {
		t.Fatal("the quarantined message is not shown to agents")
	}
	// What the web kept of the thread's HTML goes with the HTML it was made of.
	kept := helpdesk.SanitizedHTML{ThreadID: oldThread, Policy: 1, HTML: "<p>made of the old body</p>"}
	if err := e.store.SaveSanitizedHTML(ctx, kept); err != nil {
		t.Fatal(err)
	}
	e.retry(t, mb, 999)
	if sum := fetch(); sum.New != 1 {
		t.Fatalf("retry: %+v, want 1 new", sum)
	}
	if after := e.conversations(t, mb); len(after) != len(convs) {
		t.Fatalf("%d conversations after the retry, want %d: a second one was made", len(after), len(convs))
	}
	got := e.conversation(t, oldID)
	if got.Subject != "A stray line between headers" || len(got.Threads) != 1 || got.Threads[0].Unreadable ||
		got.Threads[0].BodyText != "Plain part after a stray line." || got.CustomerEmail != "carol@example.com" {
		t.Fatalf("after the retry the conversation is %q from %q: %+v", got.Subject, got.CustomerEmail, got.Threads)
	}
	if left, err := e.store.SanitizedHTML(ctx, helpdesk.Viewer{Admin: true}, []int64{oldThread}, false, 1); err != nil || len(left) != 0 {
		t.Fatalf("sanitised HTML of the replaced body is still kept: %v %+v", err, left)
	}
	if left, _ := e.store.Quarantined(ctx, mb); len(left) != 2 {
		t.Fatalf("quarantine after the retry: %+v", left)
	}
}

// retry asks for the quarantined message with the UID to be retried, as
// an admin does.
func (e *env) retry(t *testing.T, mailboxID int64, uid uint32) {
	t.Helper()
	qs, err := e.store.Quarantined(context.Background(), mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.UID == uid {
			if err := e.store.RetryQuarantined(context.Background(), q.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("uid %d is not in quarantine: %+v", uid, qs)
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) conversations(t *testing.T, mailboxID int64) []helpdesk.ConversationSummary {
	t.Helper()
	list, err := e.store.Conversations(context.Background(), helpdesk.ViewerOf(e.agent), helpdesk.ConversationFilter{MailboxID: mailboxID, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list.Conversations
}

func (e *env) conversation(t *testing.T, id int64) *helpdesk.ConversationDetail {
	t.Helper()
	d, err := e.store.Conversation(context.Background(), helpdesk.ViewerOf(e.agent), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// page reads a page as the agent, signed in.
func (e *env) page(t *testing.T, path string) string {
	t.Helper()
	return e.pageAs(t, e.agent, path)
}

func (e *env) adminPage(t *testing.T, path string) string {
	t.Helper()
	return e.pageAs(t, e.admin, path)
}

func (e *env) pageAs(t *testing.T, u *helpdesk.User, path string) string {
	t.Helper()
	token, _, err := e.store.CreateSession(context.Background(), u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(body)
}
