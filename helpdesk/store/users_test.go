package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func forDialects(t *testing.T, test func(t *testing.T, s *store.Store)) {
	for _, d := range teststore.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			test(t, teststore.Open(t, d))
		})
	}
}

func TestUsersAndAuthentication(t *testing.T) {
	forDialects(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, helpdesk.UserInput{Email: " Ann@Example.com ", Name: "Ann", Role: "admin", Password: "ann-password"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "ann@example.com" || u.Role != "admin" || !u.IsAdmin() || !u.NotifyAssigned || u.CreatedAt.IsZero() {
			t.Fatalf("created %+v", u)
		}
		_, err = s.CreateUser(ctx, helpdesk.UserInput{Email: "ann@example.com", Name: "Ann 2", Role: "agent", Password: "ann-password"})
		var ve *helpdesk.ValidationError
		if !errors.As(err, &ve) || ve.Fields["email"] == "" {
			t.Fatalf("duplicate: %v", err)
		}
		_, err = s.CreateUser(ctx, helpdesk.UserInput{Email: "x", Name: "", Role: "root", Password: "short"})
		if !errors.As(err, &ve) || len(ve.Fields) != 4 || !errors.Is(err, helpdesk.ErrInvalid) {
			t.Fatalf("invalid: %v", err)
		}

		got, err := s.Authenticate(ctx, "ANN@example.com", "ann-password")
		if err != nil || got.ID != u.ID {
			t.Fatalf("authenticate: %v %v", got, err)
		}
		for _, c := range [][2]string{{"ann@example.com", "wrong-password"}, {"nobody@example.com", "ann-password"}, {"", ""}} {
			if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, helpdesk.ErrBadCredentials) {
				t.Errorf("authenticate %q: %v", c, err)
			}
		}
		if byID, err := s.User(ctx, u.ID); err != nil || !reflect.DeepEqual(byID.Email, u.Email) {
			t.Fatalf("User: %v %v", byID, err)
		}
		if _, err := s.User(ctx, 999999); !errors.Is(err, helpdesk.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if us, err := s.Users(ctx); err != nil || len(us) != 1 {
			t.Fatalf("Users: %v %v", us, err)
		}
	})
}

func TestUserMailboxes(t *testing.T) {
	forDialects(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, helpdesk.UserInput{Email: "a@example.com", Name: "A", Role: "agent", Password: "a-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := range 3 {
			id, err := s.CreateMailbox(ctx, helpdesk.MailboxInput{Name: "M", Email: fmt.Sprintf("m%d@example.com", i), IMAPHost: "h",
				IMAPPort: 993, IMAPSecurity: "tls", IMAPUser: "u", IMAPPassword: "p"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if got, err := s.UserMailboxIDs(ctx, u.ID); err != nil || len(got) != 0 {
			t.Fatalf("initially %v %v", got, err)
		}
		if err := s.SetUserMailboxes(ctx, u.ID, []int64{ids[2], ids[0], ids[0]}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.UserMailboxIDs(ctx, u.ID); !reflect.DeepEqual(got, []int64{ids[0], ids[2]}) {
			t.Fatalf("got %v", got)
		}
		// An unknown mailbox is refused and changes nothing.
		err = s.SetUserMailboxes(ctx, u.ID, []int64{ids[1], 424242})
		if !errors.Is(err, helpdesk.ErrInvalid) {
			t.Fatalf("unknown mailbox: %v", err)
		}
		if got, _ := s.UserMailboxIDs(ctx, u.ID); !reflect.DeepEqual(got, []int64{ids[0], ids[2]}) {
			t.Fatalf("after refused change %v", got)
		}
	})
}

func TestSessions(t *testing.T) {
	forDialects(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, helpdesk.UserInput{Email: "a@example.com", Name: "A", Role: "agent", Password: "a-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		token, sess, err := s.CreateSession(ctx, u.ID, time.Hour)
		if err != nil || len(token) != 43 || len(sess.CSRFToken) != 43 || token == sess.CSRFToken {
			t.Fatalf("create: %q %+v %v", token, sess, err)
		}
		got, err := s.SessionByToken(ctx, token)
		if err != nil || got.User.ID != u.ID || got.CSRFToken != sess.CSRFToken {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		for _, bad := range []string{"", "x", token + "x", sess.CSRFToken} {
			if _, err := s.SessionByToken(ctx, bad); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("lookup %q: %v", bad, err)
			}
		}
		// Expired sessions are not found and are cleaned up.
		old, _, err := s.CreateSession(ctx, u.ID, -time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByToken(ctx, old); !errors.Is(err, helpdesk.ErrNotFound) {
			t.Fatalf("expired: %v", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
			t.Fatalf("delete expired: %d %v", n, err)
		}
		if err := s.DeleteSession(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByToken(ctx, token); !errors.Is(err, helpdesk.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestAPITokens(t *testing.T) {
	forDialects(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, helpdesk.UserInput{Email: "a@example.com", Name: "A", Role: "agent", Password: "a-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		t1, _, err := s.CreateAPIToken(ctx, u.ID, helpdesk.APITokenInput{Name: "one"})
		if err != nil {
			t.Fatal(err)
		}
		t2, _, _ := s.CreateAPIToken(ctx, u.ID, helpdesk.APITokenInput{Name: "two"})
		if t1 == t2 || len(t1) != len(helpdesk.APITokenPrefix)+43 {
			t.Fatalf("tokens %q %q", t1, t2)
		}
		for _, tok := range []string{t1, t2} {
			if got, err := s.UserByAPIToken(ctx, tok); err != nil || got.ID != u.ID {
				t.Fatalf("lookup: %v %v", got, err)
			}
		}
		for _, bad := range []string{"", t1[:20], t1 + "x", t1[len(helpdesk.APITokenPrefix):]} {
			if _, err := s.UserByAPIToken(ctx, bad); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("lookup %q: %v", bad, err)
			}
		}
		if _, _, err := s.CreateAPIToken(ctx, 999999, helpdesk.APITokenInput{Name: "x"}); !errors.Is(err, helpdesk.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestStatusReads(t *testing.T) {
	forDialects(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var ids []int64
		for i := range 2 {
			id, err := s.CreateMailbox(ctx, helpdesk.MailboxInput{Name: "M", Email: fmt.Sprintf("m%d@example.com", i), IMAPHost: "h",
				IMAPPort: 993, IMAPSecurity: "tls", IMAPUser: "u", IMAPPassword: "p", Folders: []string{"INBOX", "Spam"}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			if err := s.ClaimFence(ctx, id, 1); err != nil {
				t.Fatal(err)
			}
			for r := range 5 {
				if _, err := s.FetchHandle(id, 1).StartRun(ctx, fmt.Sprint("run", r), "h"); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"INBOX", "Spam"} {
				if err := s.FetchHandle(id, 1).SaveProgress(ctx, f, 7, 9); err != nil {
					t.Fatal(err)
				}
			}
		}
		states, err := s.AllFetchStates(ctx)
		if err != nil || len(states) != 4 || states[0].MailboxID != ids[0] || states[0].Folder != "INBOX" || states[3].Folder != "Spam" {
			t.Fatalf("states %+v %v", states, err)
		}
		runs, err := s.AllRecentRuns(ctx, 3)
		if err != nil || len(runs) != 6 {
			t.Fatalf("runs %d %v", len(runs), err)
		}
		for i, r := range runs {
			if r.MailboxID != ids[i/3] || r.Trigger != fmt.Sprint("run", 4-i%3) {
				t.Fatalf("run %d: %+v", i, r)
			}
		}
	})
}
