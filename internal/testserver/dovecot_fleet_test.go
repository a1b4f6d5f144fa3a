package testserver

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// More connections than Dovecot's default limit of 100 processes stay open
// at once, each in IDLE, and every one of them hears of the mail that
// AppendEach delivers to its user.
func TestDovecotFleetConnections(t *testing.T) {
	t.Parallel()
	SkipShort(t, "Dovecot with many connections")
	const n = 150
	d := StartDovecotFleet(t, DovecotFleetOptions{Connections: n})
	users := map[string]string{}
	for i := range n {
		users[fmt.Sprintf("u%03d", i)] = fmt.Sprintf("pw%d", i)
	}
	d.AddUsers(t, users)

	var mu sync.Mutex
	notified := map[string]time.Time{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for user, pass := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- idleUntilClosed(t, d, user, pass, func() {
				mu.Lock()
				notified[user] = time.Now()
				mu.Unlock()
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	mails := map[string][]byte{}
	for user := range users {
		mails[user] = testMessage(len(mails), 300)
	}
	appended := d.AppendEach(t, "INBOX", mails)
	if len(appended) != n {
		t.Fatalf("AppendEach confirmed %d appends, want %d", len(appended), n)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		got := len(notified)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d IDLE connections were told of their new mail", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var worst time.Duration
	for user, at := range notified {
		worst = max(worst, at.Sub(appended[user]))
	}
	t.Logf("%d connections in IDLE; slowest notification %s after the APPEND", n, worst.Round(time.Millisecond))
}

// idleUntilClosed logs user in, selects INBOX and IDLEs in the background
// until the test ends; onNew runs when the server announces new mail.
func idleUntilClosed(t testing.TB, d *Dovecot, user, pass string, onNew func()) error {
	var once sync.Once
	c, err := imapclient.DialInsecure(d.Addr(), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil && *data.NumMessages > 0 {
					once.Do(onNew)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		return fmt.Errorf("login %s: %w", user, err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return fmt.Errorf("select %s: %w", user, err)
	}
	if _, err := c.Idle(); err != nil {
		return fmt.Errorf("idle %s: %w", user, err)
	}
	return nil
}

// Without IDLE the server announces exactly its usual capabilities less
// IDLE, before login and after.
func TestDovecotWithoutIdle(t *testing.T) {
	t.Parallel()
	SkipShort(t, "Dovecot")
	usual, without := StartDovecot(t), StartDovecotWithoutIdle(t)
	usual.AddUser(t, "support", "secret")
	without.AddUser(t, "support", "secret")
	want := capsAfterLogin(t, usual)
	if !slices.Contains(want, "IDLE") {
		t.Fatalf("the usual server does not offer IDLE: %v", want)
	}
	want = slices.DeleteFunc(want, func(c string) bool { return c == "IDLE" })
	if got := capsAfterLogin(t, without); !slices.Equal(got, want) {
		t.Fatalf("capabilities without IDLE:\n got %v\nwant %v (the usual ones less IDLE)", got, want)
	}
	c, err := imapclient.DialInsecure(without.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Caps().Has(imap.CapIdle) {
		t.Fatalf("IDLE announced before login: %v", c.Caps())
	}
}

// capsAfterLogin are the capabilities the server announces to a logged-in
// client, sorted, without the AUTH= ones.
func capsAfterLogin(t *testing.T, d *Dovecot) []string {
	t.Helper()
	c := d.Dial(t, "support")
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cap := range caps {
		out = append(out, string(cap))
	}
	slices.Sort(out)
	return out
}
