package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

func TestStatusPageShowsLeaseAndFetchState(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		busy := e.mailbox(t, 1)
		idle := e.mailbox(t, 2)
		fence := e.fetched(t, busy, errors.New(`imap: select "INBOX": NO Mailbox doesn't exist`))
		qid := e.quarantined(t, busy, fence, 99)
		lease, err := e.local.Obtain(ctx, busy, fence)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()

		admin := e.session(t, e.admin)
		resp, body := admin.get("/admin/status")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status page: %d\n%s", resp.StatusCode, body)
		}
		row := between(t, body, fmt.Sprintf(`data-mailbox="%d"`, busy), "</tr>")
		for _, want := range []string{
			`class="held" data-field="lock-state">held<`,
			`data-field="holder-host">test-host<`,
			`data-field="holder-pid">4242<`,
			`data-field="holder-instance">inst-test<`,
			fmt.Sprintf(`data-field="fence">%d<`, fence),
			"1700000001", ">57<", // UIDVALIDITY, last UID
			"Mailbox doesn&#39;t exist", // last error, escaped
			"schedule · ", "3 new / 1 dup / 1 quar",
		} {
			if !strings.Contains(row, want) {
				t.Errorf("busy mailbox row lacks %q:\n%s", want, row)
			}
		}
		idleRow := between(t, body, fmt.Sprintf(`data-mailbox="%d"`, idle), "</tr>")
		if !strings.Contains(idleRow, `data-field="lock-state">idle<`) {
			t.Errorf("idle mailbox row:\n%s", idleRow)
		}
		// The quarantine, with its reason escaped and a retry button.
		if !strings.Contains(body, "bad MIME &lt;boundary&gt;") || !strings.Contains(body, fmt.Sprintf(`action="/admin/quarantine/%d/retry"`, qid)) {
			t.Errorf("quarantine not shown:\n%s", body)
		}
		if !strings.Contains(body, `data-refresh="5"`) {
			t.Error("status page does not refresh itself")
		}

		// The JSON view of the same.
		resp, js := e.api(t, e.adminToken, http.MethodGet, fmt.Sprintf("/api/v1/mailboxes/%d/status", busy))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("API status: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), js)
		}
		var st struct {
			Lock struct {
				Held   bool `json:"held"`
				Holder *struct {
					Host     string `json:"host"`
					PID      int    `json:"pid"`
					Instance string `json:"instance"`
				} `json:"holder"`
				AcquiredAt    *time.Time `json:"acquired_at"`
				LastHeartbeat *time.Time `json:"last_heartbeat"`
				TTLMillis     int64      `json:"ttl_ms"`
				Fence         int64      `json:"fence"`
			} `json:"lock"`
			Fetch struct {
				UIDValidity   uint32     `json:"uidvalidity"`
				LastUID       uint32     `json:"last_uid"`
				LastRunAt     *time.Time `json:"last_run_at"`
				LastSuccessAt *time.Time `json:"last_success_at"`
				LastError     string     `json:"last_error"`
				Failures      int        `json:"failures"`
			} `json:"fetch"`
		}
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatal(err)
		}
		l, f := st.Lock, st.Fetch
		if !l.Held || l.Holder == nil || l.Holder.Host != "test-host" || l.Holder.PID != 4242 || l.Holder.Instance != "inst-test" ||
			l.Fence != fence || l.AcquiredAt == nil || l.LastHeartbeat == nil || l.TTLMillis <= 0 || l.TTLMillis > 60000 {
			t.Errorf("lock: %s", js)
		}
		if f.UIDValidity != 1700000001 || f.LastUID != 57 || f.LastRunAt == nil || f.LastSuccessAt != nil ||
			!strings.Contains(f.LastError, "Mailbox doesn't exist") || f.Failures != 1 {
			t.Errorf("fetch: %s", js)
		}
		// Idle: held false, holder null.
		_, js = e.api(t, e.adminToken, http.MethodGet, fmt.Sprintf("/api/v1/mailboxes/%d/status", idle))
		if !strings.Contains(js, `"lock":{"held":false,"holder":null,"acquired_at":null,"last_heartbeat":null,"ttl_ms":0`) {
			t.Errorf("idle status: %s", js)
		}
		if resp, _ := e.api(t, e.adminToken, http.MethodGet, "/api/v1/mailboxes/999999/status"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown mailbox: %d", resp.StatusCode)
		}

		// The lease is undisturbed by all this looking.
		if lease.Err() != nil {
			t.Fatalf("lease disturbed: %v", lease.Err())
		}

		// Retry from the page.
		resp, _ = admin.submit(fmt.Sprintf("/admin/quarantine/%d/retry", qid), url.Values{"back": {"/admin/status"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/status?notice=retry-requested" {
			t.Fatalf("retry: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		qs, err := e.store.FetchHandle(busy, 0).QuarantinedForRetry(ctx)
		if err != nil || len(qs) != 1 || qs[0].ID != qid {
			t.Fatalf("after retry: %v %v", qs, err)
		}
		// Retrying again: it is no longer held.
		if resp, _ := admin.submit(fmt.Sprintf("/admin/quarantine/%d/retry", qid), nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("second retry: %d", resp.StatusCode)
		}
	})
}

func TestFetchNowRecordsARequest(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		a, b := e.mailbox(t, 1), e.mailbox(t, 2)
		resp, body := e.api(t, e.adminToken, http.MethodPost, fmt.Sprintf("/api/v1/mailboxes/%d/fetch", a))
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(body, `"status":"requested"`) {
			t.Fatalf("API fetch: %d %s", resp.StatusCode, body)
		}
		resp, body = e.session(t, e.admin).submit(fmt.Sprintf("/admin/mailboxes/%d/fetch", b), nil)
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(body, "Fetch requested") {
			t.Fatalf("page fetch: %d", resp.StatusCode)
		}
		_, ids, err := e.store.FetchChanges(ctx)
		if err != nil || len(ids) != 2 {
			t.Fatalf("requested: %v %v", ids, err)
		}
		if resp, _ := e.api(t, e.adminToken, http.MethodPost, "/api/v1/mailboxes/424242/fetch"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("fetch of unknown mailbox: %d", resp.StatusCode)
		}
		// The web never took a lock doing it.
		if st, _ := e.local.Inspector().Inspect(ctx, a); st.Held {
			t.Fatal("a lock is held after fetch now")
		}
	})
}

func TestAPIMailboxesHidesSecrets(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		e.mailbox(t, 1)
		resp, body := e.api(t, e.adminToken, http.MethodGet, "/api/v1/mailboxes")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var mbs []map[string]any
		if err := json.Unmarshal([]byte(body), &mbs); err != nil || len(mbs) != 1 {
			t.Fatalf("%v: %s", err, body)
		}
		if mbs[0]["email"] != "support1@example.com" || mbs[0]["imap_user"] != "support1" {
			t.Errorf("mailbox: %s", body)
		}
		if strings.Contains(body, "password") || strings.Contains(body, "imap-secret-password") || strings.Contains(body, "v1:") {
			t.Errorf("secret leaked: %s", body)
		}
	})
}

// between returns the text of s from the first from up to the next to.
func between(t testing.TB, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("%q not found in:\n%s", from, s)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

// countingInspector counts the calls of each method and can hold the
// lock reads until released.
type countingInspector struct {
	inner       leaseview.Inspector
	inspects    atomic.Int64  // Inspect calls
	inspectMany atomic.Int64  // InspectMany calls
	fleets      atomic.Int64  // Fleet calls
	gate        chan struct{} // when not nil, Inspect and InspectMany wait for it to close
}

func (c *countingInspector) Inspect(ctx context.Context, id int64) (leaseview.State, error) {
	c.inspects.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.inner.Inspect(ctx, id)
}

func (c *countingInspector) InspectMany(ctx context.Context, ids []int64) ([]leaseview.State, error) {
	c.inspectMany.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.inner.InspectMany(ctx, ids)
}

func (c *countingInspector) Fleet(ctx context.Context) ([]leaseview.Member, error) {
	c.fleets.Add(1)
	return c.inner.Fleet(ctx)
}

// TestStatusCache: concurrent loads share one reading, and a reading
// serves the loads of the next second.
func TestStatusCache(t *testing.T) {
	t.Parallel()
	insp := &countingInspector{gate: make(chan struct{})}
	e := setup(t, "sqlite", func(c *Config) {
		insp.inner = c.Inspector
		c.Inspector = insp
		c.StatusCacheTTL = time.Hour
	})
	e.mailbox(t, 1)
	e.mailbox(t, 2)
	admin := e.session(t, e.admin)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, _ := admin.get("/admin/status"); resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	// Let the first reading start, then release it.
	for insp.inspectMany.Load() == 0 {
		runtime.Gosched()
	}
	close(insp.gate)
	wg.Wait()
	admin.get("/admin/status")
	if n, one := insp.inspectMany.Load(), insp.inspects.Load(); n != 1 || one != 0 {
		t.Fatalf("6 loads of 2 mailboxes made %d InspectMany and %d Inspect calls, want one reading: 1 and 0", n, one)
	}
}

// TestStatusPageShowsOutbox: the status page shows the outbox backlog, the
// counts, the newest send error and the failed mails, escaped; only an
// admin's CSRF-checked Retry puts a failed mail back to pending.
func TestStatusPageShowsOutbox(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		e.mailbox(t, 1) // the sender of the test mails
		for i := range 4 {
			if err := e.store.EnqueueTestEmail(ctx, fmt.Sprintf("bob%d@customer.example", i), "Ada"); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := e.store.ClaimOutbox(ctx, "test-notifier", 3, time.Minute)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claimed %d: %v", len(claimed), err)
		}
		slices.SortFunc(claimed, func(a, b helpdesk.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
		failed, retried, sent := claimed[0], claimed[1], claimed[2]
		if err := e.store.FailOutbox(ctx, failed, `550 5.1.1 <bob0@customer.example>: recipient rejected`); err != nil {
			t.Fatal(err)
		}
		m, err := e.store.OutboxMessage(ctx, failed.ID)
		if err != nil || m.FailedAt == nil {
			t.Fatalf("failed mail without failed_at: %+v %v", m, err)
		}
		failedAt := m.FailedAt.UTC()
		// The newest error of an unsent mail is the send path's last error.
		if err := e.store.RescheduleOutbox(ctx, retried, time.Now().Add(time.Hour), "451 4.7.1 greylisted & try later"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.MarkOutboxSent(ctx, sent.LeaseOwner, []int64{sent.ID}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // the oldest pending mail is over a second old

		admin := e.session(t, e.admin)
		resp, body := admin.get("/admin/status")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status page: %d\n%s", resp.StatusCode, body)
		}
		for _, want := range []string{
			`data-field="outbox-pending">2<`,
			`data-field="outbox-sent">1<`,
			`data-field="outbox-failed"><span class="bad">1<`,
			`data-field="outbox-last-error">451 4.7.1 greylisted &amp; try later<`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("outbox figures lack %s:\n%s", want, between(t, body, "<h2>Outbox</h2>", "</table>"))
			}
		}
		if !regexp.MustCompile(`data-field="outbox-oldest">\d+\.\ds<`).MatchString(body) {
			t.Errorf("oldest pending age not shown in seconds:\n%s", between(t, body, "<h2>Outbox</h2>", "</table>"))
		}
		row := between(t, body, fmt.Sprintf(`data-outbox="%d"`, failed.ID), "</tr>")
		for _, want := range []string{
			"<td>test</td>", "bob0@customer.example", "Helpdesk test email", "<td>1</td>",
			"550 5.1.1 &lt;bob0@customer.example&gt;: recipient rejected",
			fmt.Sprintf(`form="outbox-retry" formaction="/admin/outbox/%d/retry"`, failed.ID),
			`data-field="failed-at">` + formatWhen(failedAt, time.UTC) + "<",
		} {
			if !strings.Contains(row, want) {
				t.Errorf("failed mail row lacks %q:\n%s", want, row)
			}
		}
		// The button submits the page's form, which carries the session's CSRF token.
		if form := between(t, body, `<form id="outbox-retry" method="post"`, "</form>"); !strings.Contains(form, `name="_csrf" value="`+admin.csrf+`"`) {
			t.Errorf("retry form without the CSRF token: %s", form)
		}
		if strings.Contains(body, "<bob0@customer.example>") {
			t.Error("last error not escaped")
		}
		if strings.Contains(body, fmt.Sprintf(`data-outbox="%d"`, retried.ID)) {
			t.Error("a pending mail is listed as failed")
		}

		// The API shows the same figures.
		resp, js := e.api(t, e.adminToken, http.MethodGet, "/api/v1/outbox")
		var api struct {
			Pending     int           `json:"pending"`
			Sent        int           `json:"sent"`
			Failed      int           `json:"failed"`
			OldestAge   time.Duration `json:"oldest_pending_age_ns"`
			LastError   string        `json:"last_error"`
			FailedMails []struct {
				ID        int64      `json:"id"`
				LastError string     `json:"last_error"`
				FailedAt  *time.Time `json:"failed_at"`
			} `json:"failed_mails"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(js), &api) != nil {
			t.Fatalf("API outbox: %d %s", resp.StatusCode, js)
		}
		if api.Pending != 2 || api.Sent != 1 || api.Failed != 1 || api.OldestAge < time.Second ||
			api.LastError != "451 4.7.1 greylisted & try later" || len(api.FailedMails) != 1 ||
			api.FailedMails[0].ID != failed.ID || !strings.HasPrefix(api.FailedMails[0].LastError, "550 ") {
			t.Errorf("API outbox: %s", js)
		}
		if at := api.FailedMails[0].FailedAt; at == nil || !at.Equal(failedAt) {
			t.Errorf("API outbox failed_at %v, want %v: %s", at, failedAt, js)
		}
		if strings.Contains(js, "test email from the helpdesk") {
			t.Errorf("API outbox shows mail bodies: %s", js)
		}

		stillFailed := func(who string) {
			t.Helper()
			if m, err := e.store.OutboxMessage(ctx, failed.ID); err != nil || m.Status != "failed" {
				t.Fatalf("after %s: %+v %v", who, m, err)
			}
		}
		retryPath := fmt.Sprintf("/admin/outbox/%d/retry", failed.ID)
		if resp, body := e.session(t, e.agent).submit(retryPath, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "admins only") {
			t.Errorf("agent retry: %d %s", resp.StatusCode, body)
		}
		stillFailed("the agent's retry")
		if resp, _ := admin.post(retryPath, url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("retry without CSRF token: %d", resp.StatusCode)
		}
		stillFailed("a retry without CSRF token")

		resp, _ = admin.submit(retryPath, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/status?notice=outbox-retried" {
			t.Fatalf("retry: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		m, err = e.store.OutboxMessage(ctx, failed.ID)
		if err != nil || m.Status != "pending" || m.Attempts != 0 || m.MessageID != failed.MessageID || m.FailedAt != nil {
			t.Fatalf("after retry: %+v %v", m, err)
		}
		_, body = admin.get("/admin/status?notice=outbox-retried")
		if !strings.Contains(body, "The mail is queued again") || strings.Contains(body, fmt.Sprintf(`data-outbox="%d"`, failed.ID)) ||
			!strings.Contains(body, `data-field="outbox-pending">3<`) {
			t.Errorf("page after retry:\n%s", between(t, body, "<h2>Outbox</h2>", "</div>"))
		}
		if resp, _ := admin.submit(retryPath, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("second retry: %d, want 404", resp.StatusCode)
		}
	})
}
