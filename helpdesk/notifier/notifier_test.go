package notifier

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// env is one helpdesk database with a mailbox, users who get
// notifications, and an SMTP sink.
type env struct {
	s     *store.Store
	url   string
	mb    int64
	sink  *testserver.SMTPSink
	users []*helpdesk.User
	uid   uint32
}

func setup(t *testing.T, dialect string, users int) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{url: teststore.URL(t, dialect), sink: testserver.StartSMTP(t)}
	e.s = teststore.OpenURL(t, e.url, store.Options{})
	var err error
	e.mb, err = e.s.CreateMailbox(ctx, helpdesk.MailboxInput{
		Name: "Support", Email: "help@alpha.example", IMAPHost: "127.0.0.1", IMAPPort: 143,
		IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		u, err := e.s.CreateUser(ctx, helpdesk.UserInput{
			Email: fmt.Sprintf("agent%d@staff.example", i), Name: fmt.Sprintf("Agent %d", i),
			Role: helpdesk.RoleAdmin, Password: "password-123456",
		})
		if err != nil {
			t.Fatal(err)
		}
		e.users = append(e.users, u)
	}
	return e
}

// ingestNew ingests n new customer conversations: n*len(users)
// notifications.
func (e *env) ingestNew(t *testing.T, n int) {
	t.Helper()
	for range n {
		e.uid++
		id := fmt.Sprintf("c%d@customer.example", e.uid)
		msg := &helpdesk.IncomingMessage{
			MessageID: id, From: helpdesk.Address{Name: "Cüstomer", Email: fmt.Sprintf("cus%d@customer.example", e.uid)},
			Subject: fmt.Sprintf("Drucker brennt %d", e.uid), Text: "Bitte helfen Sie.", DedupKey: "mid:" + id,
			Raw: []byte("Message-ID: <" + id + ">\r\n\r\nBitte helfen Sie.\r\n"),
		}
		src := helpdesk.MessageSource{MailboxID: e.mb, Folder: "INBOX", UIDValidity: 1, UID: e.uid}
		if _, err := teststore.Ingest(context.Background(), e.s, src, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// messageIDs are the Message-IDs of every outbox row, in angle brackets.
func (e *env) messageIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, kind := range []string{"notification", "reply", "auto-ack", "alert", "test"} {
		rows, err := e.s.OutboxByKind(context.Background(), kind, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids["<"+r.MessageID+">"] = true
		}
	}
	return ids
}

// testConfig is quick to retry and poll, for tests.
func testConfig(e *env, instance string) Config {
	return Config{
		SMTPURL: e.sink.URL(), Instance: instance, Batch: 7, LeaseFor: 20 * time.Second,
		Logger: discardLogger(), Workers: 2, PollEvery: 50 * time.Millisecond,
		MaxAttempts: 60, RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, s *store.Store, cfg Config) *Service {
	t.Helper()
	svc := New(s, cfg)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

// waitDistinct waits until the sink has want distinct Message-IDs.
func waitDistinct(t *testing.T, sink *testserver.SMTPSink, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for n := want; ; n++ {
		msgs := sink.WaitMessages(t, n, time.Until(deadline))
		if _, distinct := tally(msgs); distinct >= want {
			return
		}
	}
}

// tally counts deliveries and distinct Message-IDs at the sink.
func tally(msgs []testserver.SMTPMessage) (total, distinct int) {
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.MessageID] = true
	}
	return len(msgs), len(seen)
}

// checkDelivered is the sink-side checker: every outbox row arrived (as
// many distinct Message-IDs as rows, all of them ours) and the outbox has
// nothing pending or failed. It returns total and distinct deliveries.
func checkDelivered(t *testing.T, e *env) (total, distinct int) {
	t.Helper()
	waitSettled(t, e.s)
	ids := e.messageIDs(t)
	msgs := e.sink.Messages()
	for _, m := range msgs {
		if !ids[m.MessageID] {
			t.Errorf("sink got Message-ID %q that is no outbox row", m.MessageID)
		}
	}
	total, distinct = tally(msgs)
	if distinct != len(ids) {
		t.Errorf("%d distinct Message-IDs at the sink, want %d (one per outbox row)", distinct, len(ids))
	}
	st, err := e.s.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Failed != 0 {
		t.Errorf("outbox after delivery: %+v", st)
	}
	return total, distinct
}

func TestBackoff(t *testing.T) {
	base, maxDelay := time.Second, time.Minute
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 10: time.Minute, 100: time.Minute} {
		for range 50 {
			if d := backoff(attempt, base, maxDelay); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestCompose(t *testing.T) {
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	m := helpdesk.OutboxMessage{
		ID: 1, MessageID: "hd-abc@alpha.example", CreatedAt: created,
		OutboundMail: helpdesk.OutboundMail{
			Kind: "reply", From: "help@alpha.example", To: []string{"cus@customer.example"},
			Subject: "Re: Drucker brennt — Grüße [#7]", BodyText: "Zeile eins\nZeile zwei: äöü\n",
			Headers: map[string]string{
				"In-Reply-To": "<c2@customer.example>", "References": "<c1@customer.example> <c2@customer.example>",
				"Message-ID": "<evil@x>", "X-Note": "héllo",
			},
		},
	}
	data, err := Compose(m)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Compose(m)
	if !bytes.Equal(data, again) {
		t.Fatal("composing the same row twice gives different messages")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	checks := map[string]string{
		"Message-Id":  "<hd-abc@alpha.example>",
		"In-Reply-To": "<c2@customer.example>",
		"References":  "<c1@customer.example> <c2@customer.example>",
		"From":        "<help@alpha.example>",
		"To":          "<cus@customer.example>",
		"Date":        "Tue, 04 Mar 2025 05:06:07 +0000",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if raw := h.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?") || decode2047(t, raw) != m.Subject {
		t.Errorf("Subject %q: want RFC 2047 encoding of %q", raw, m.Subject)
	}
	if got := decode2047(t, h.Get("X-Note")); got != "héllo" {
		t.Errorf("X-Note %q", got)
	}
	if len(h["Message-Id"]) != 1 {
		t.Errorf("Message-ID headers %v: a stored header must not add a second", h["Message-Id"])
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(h.Get("Content-Type"), "charset=utf-8") || h.Get("Content-Transfer-Encoding") != "quoted-printable" ||
		!bytes.Contains(body, []byte("Zeile zwei: =C3=A4=C3=B6=C3=BC\r\n")) {
		t.Errorf("body %q, headers %v", body, h)
	}
}

func decode2047(t *testing.T, s string) string {
	t.Helper()
	out, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSendEachOnce: notifications of ingested mail, a test email and an
// alert all arrive once, through the one sending path.
func TestSendEachOnce(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect, 2)
			ctx := context.Background()
			e.ingestNew(t, 10)
			if err := e.s.EnqueueTestEmail(ctx, "admin@staff.example", "agent0@staff.example"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []int{1, 2, 3, 4} {
				if err := e.s.UpdateFetchAlert(ctx, e.mb, f); err != nil {
					t.Fatal(err)
				}
			}
			want := 10*2 + 1 + 1
			start(t, e.s, testConfig(e, "n1"))
			waitDistinct(t, e.sink, want, time.Minute)
			total, distinct := checkDelivered(t, e)
			if total != want || distinct != want {
				t.Fatalf("total %d distinct %d, want %d", total, distinct, want)
			}
			var sawTest, sawAlert bool
			for _, m := range e.sink.Messages() {
				parsed, _ := mail.ReadMessage(bytes.NewReader(m.Data))
				subj := parsed.Header.Get("Subject")
				sawTest = sawTest || subj == "Helpdesk test email"
				sawAlert = sawAlert || strings.HasPrefix(subj, "Fetching mail for Support")
				if parsed.Header.Get("Auto-Submitted") != "auto-generated" || m.From != "help@alpha.example" {
					t.Fatalf("mail %q from %q: headers %v", subj, m.From, parsed.Header)
				}
			}
			if !sawTest || !sawAlert {
				t.Fatalf("test email %v, alert %v", sawTest, sawAlert)
			}
		})
	}
}

// TestDoubleCron: two notifier services plus a duplicate of one of them
// (same instance name, the scheduler installed twice), all started at the
// same moment on one PostgreSQL database: every notification once.
func TestDoubleCron(t *testing.T) {
	t.Parallel()
	e := setup(t, "postgres", 3)
	e.ingestNew(t, 60)
	want := 60 * 3
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for _, inst := range []string{"node-a", "node-b", "node-b"} {
		cfg := testConfig(e, inst)
		cfg.Batch = 3
		svc := New(e.s, cfg)
		t.Cleanup(svc.Stop)
		wg.Go(func() {
			<-gate
			if err := svc.Start(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	close(gate)
	wg.Wait()
	waitDistinct(t, e.sink, want, time.Minute)
	total, distinct := checkDelivered(t, e)
	if total != want || distinct != want {
		t.Fatalf("total %d, distinct %d, want %d each", total, distinct, want)
	}
}

// TestFaultySMTP: the server answers 451 at random, drops connections in
// the middle of DATA and is slow while the CPU is saturated. Every mail is
// delivered, and exactly once: all failures happen before the 250.
func TestFaultySMTP(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect, 2)
			e.ingestNew(t, 50)
			want := 50 * 2
			e.sink.FailRate(0.3)
			e.sink.DropRate(0.2)
			e.sink.Delay(5 * time.Millisecond)
			ctx, burnDone := context.WithCancel(context.Background())
			defer burnDone()
			for range runtime.NumCPU() {
				go burn(ctx)
			}
			start(t, e.s, testConfig(e, "n1"))
			start(t, e.s, testConfig(e, "n2"))
			waitDistinct(t, e.sink, want, 3*time.Minute)
			burnDone()
			total, distinct := checkDelivered(t, e)
			// Nothing lost and nothing twice: every fault happens before the
			// sink accepts a mail, and claims are renewed while the
			// saturated CPU slows the sends down.
			if total != want || distinct != want {
				t.Fatalf("total %d, distinct %d, want %d each", total, distinct, want)
			}
			if e.sink.Attempts() <= want {
				t.Fatalf("%d DATA attempts for %d mails: the faults did not happen", e.sink.Attempts(), want)
			}
			t.Logf("%d mails, %d DATA attempts", want, e.sink.Attempts())
		})
	}
}

// TestSlowSMTPServer: the server takes longer to accept each DATA than
// a claim's lease lasts, and three notifiers share the outbox. The claims
// are renewed while the server takes its time: each mail arrives once.
func TestSlowSMTPServer(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect, 2)
			e.ingestNew(t, 6)
			want := 6 * 2
			const lease = 2 * time.Second
			e.sink.Delay(lease + lease/2)
			for _, inst := range []string{"n1", "n2", "n3"} {
				cfg := testConfig(e, inst)
				cfg.LeaseFor, cfg.Batch = lease, 2
				start(t, e.s, cfg)
			}
			waitDistinct(t, e.sink, want, 2*time.Minute)
			total, distinct := checkDelivered(t, e)
			if total != want || distinct != want {
				t.Fatalf("total %d, distinct %d, want %d each: a slow server led to a second send", total, distinct, want)
			}
		})
	}
}

func burn(ctx context.Context) {
	x := 0
	for ctx.Err() == nil {
		for i := range 100000 {
			x += i
		}
	}
	_ = x
}

// TestPermanentFailureAndManualRetry: a 5xx answer fails the mail at once,
// and so does running out of attempts; the admin's retry sends the same
// row (same Message-ID) once the problem is fixed.
func TestPermanentFailureAndManualRetry(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect, 1)
			ctx := context.Background()
			cfg := testConfig(e, "n1")
			cfg.MaxAttempts = 3
			e.sink.RequireAuth("mailer", "s3cret") // MAIL without AUTH: 502 5.7.0
			e.ingestNew(t, 1)
			svc := start(t, e.s, cfg)
			failed := waitFailed(t, e.s, 1)
			if failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "502") {
				t.Fatalf("failed row %+v: want failed after one attempt with the 502", failed[0])
			}
			svc.Stop()

			// Fixed by giving the mailbox its own SMTP URL with the login.
			mb, _ := e.s.Mailbox(ctx, e.mb)
			in := helpdesk.MailboxInput{Name: mb.Name, Email: mb.Email, IMAPHost: mb.IMAPHost, IMAPPort: mb.IMAPPort,
				IMAPSecurity: mb.IMAPSecurity, IMAPUser: mb.IMAPUser, Folders: mb.Folders, SMTPURL: e.sink.URL()}
			if err := e.s.UpdateMailbox(ctx, e.mb, in); err != nil {
				t.Fatal(err)
			}
			if err := e.s.RetryOutbox(ctx, failed[0].ID); err != nil {
				t.Fatal(err)
			}
			start(t, e.s, cfg)
			msgs := e.sink.WaitMessages(t, 1, time.Minute)
			if msgs[0].MessageID != "<"+failed[0].MessageID+">" || msgs[0].AuthUser != "mailer" {
				t.Fatalf("retried mail %q by %q, want %q authenticated", msgs[0].MessageID, msgs[0].AuthUser, failed[0].MessageID)
			}

			// Out of attempts: 451 forever.
			e.sink.FailRate(1)
			e.ingestNew(t, 1)
			failed = waitFailed(t, e.s, 1)
			if failed[0].Attempts != cfg.MaxAttempts || !strings.Contains(failed[0].LastError, "451") {
				t.Fatalf("failed row %+v: want %d attempts ending in 451", failed[0], cfg.MaxAttempts)
			}
			if st, _ := e.s.OutboxStats(ctx); st.Failed != 1 || !strings.Contains(st.LastError, "451") {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// waitSettled waits until nothing is pending: the last 250s may reach the
// sink a moment before their rows are marked sent.
func waitSettled(t testing.TB, s *store.Store) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		st, err := s.OutboxStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("outbox not settled after a minute: %+v", st)
		}
	}
}

func waitFailed(t *testing.T, s *store.Store, n int) []helpdesk.OutboxMessage {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		failed, err := s.FailedOutbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) >= n {
			return failed
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d failed rows after a minute, want %d", len(failed), n)
		}
	}
}

// TestWaitingLoggedOnce: without an SMTP server every mail waits, retry
// after retry; the log says so once, not once per mail and retry.
func TestWaitingLoggedOnce(t *testing.T) {
	e := setup(t, "sqlite", 0)
	ctx := context.Background()
	for i := range 5 {
		if err := e.s.EnqueueTestEmail(ctx, fmt.Sprintf("r%d@example.net", i), "admin@staff.example"); err != nil {
			t.Fatal(err)
		}
	}
	var logged syncBuffer
	cfg := testConfig(e, "n1")
	cfg.SMTPURL, cfg.RetryBase = "", time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	svc := start(t, e.s, cfg)
	// Wait until every mail was given back twice: tried, then tried again.
	tried := map[int64]time.Time{}
	retried := map[int64]bool{}
	deadline := time.Now().Add(time.Minute)
	for len(retried) < 5 {
		rows, err := e.s.OutboxByKind(ctx, "test", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if first, ok := tried[r.ID]; ok && !r.NextAttemptAt.Equal(first) {
				retried[r.ID] = true
			} else if !ok && r.LastError != "" {
				tried[r.ID] = r.NextAttemptAt
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 mails tried, %d tried again", len(tried), len(retried))
		}
		time.Sleep(20 * time.Millisecond)
	}
	svc.Stop()
	if n := strings.Count(logged.String(), "outbound mail waits"); n != 1 {
		t.Fatalf("%d warnings that mail waits, want 1:\n%s", n, logged.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
