package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/web"
)

const (
	demoMailbox  = "support@demo.example"
	demoIMAPUser = "support"
	demoAdmin    = "admin@demo.example"
)

// cmdDemo runs the whole product on the embedded default with a demo
// mailbox on an in-process IMAP server, which receives a new customer mail
// now and then so IDLE can be seen at work. Without HELPDESK_SMTP_URL the
// sent mail goes to an in-process SMTP catcher that admins see at
// /admin/caught.
func cmdDemo(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) > 0 {
		return usageError{"demo takes no arguments"}
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	store, err := openMigratedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	imapPass := randomHex(8)
	addr, stopIMAP, err := startDemoIMAP(imapPass)
	if err != nil {
		return err
	}
	defer stopIMAP()
	if err := upsertDemoMailbox(ctx, store, addr, imapPass); err != nil {
		return err
	}
	password, err := ensureDemoAdmin(ctx, store, cfg)
	if err != nil {
		return err
	}
	var caught web.CaughtMail
	if cfg.SMTPURL == "" {
		catcher, err := startMailCatcher()
		if err != nil {
			return fmt.Errorf("demo SMTP catcher: %w", err)
		}
		defer catcher.Close()
		cfg.SMTPURL, caught = catcher.URL(), catcher
	}
	banner := fmt.Sprintf("\nhelpdesk demo: open http://%s and log in as %s with password %s\n", cfg.Listen, demoAdmin, password)
	if caught != nil {
		banner += fmt.Sprintf("helpdesk demo: sent mail is caught, not delivered: see http://%s/admin/caught\n", cfg.Listen)
	}
	fmt.Fprintln(stdout, banner) // one write: a reader never sees half of it
	go dripDemoMail(ctx, addr, imapPass, logger)
	return serve(ctx, cfg, store, map[string]bool{"web": true, "fetcher": true, "notifier": true}, logger, caught)
}

func startDemoIMAP(password string) (addr string, stop func(), err error) {
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(demoIMAPUser, password)
	if err := user.Create("INBOX", nil); err != nil {
		return "", nil, err
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	addr = ln.Addr().String()
	for i, raw := range demoMails(time.Now()) {
		if err := appendDemoMail(addr, password, raw); err != nil {
			srv.Close()
			return "", nil, fmt.Errorf("seed demo mail %d: %w", i, err)
		}
	}
	return addr, func() { srv.Close() }, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func appendDemoMail(addr, password, raw string) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(demoIMAPUser, password).Wait(); err != nil {
		return err
	}
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	if _, err := io.WriteString(cmd, raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err = cmd.Wait()
	return err
}

// upsertDemoMailbox points the demo mailbox at this run's IMAP server.
func upsertDemoMailbox(ctx context.Context, store *store.Store, addr, password string) error {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	in := helpdesk.MailboxInput{
		Name: "Demo support", Email: demoMailbox, IMAPHost: host, IMAPPort: port, IMAPSecurity: "none",
		IMAPUser: demoIMAPUser, IMAPPassword: password, Folders: []string{"INBOX"}, Enabled: true, PollIntervalS: 30,
	}
	mailboxes, err := store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	for _, m := range mailboxes {
		if m.Email == demoMailbox {
			return store.UpdateMailbox(ctx, m.ID, in)
		}
	}
	_, err = store.CreateMailbox(ctx, in)
	return err
}

// ensureDemoAdmin creates the demo admin once; its password is kept in the
// data directory so every `make run` can print it.
func ensureDemoAdmin(ctx context.Context, store *store.Store, cfg config) (string, error) {
	path := filepath.Join(cfg.DataDir, "demo-admin-password")
	if _, err := store.UserByEmail(ctx, demoAdmin); err == nil {
		b, err := os.ReadFile(path)
		if err != nil {
			return "(set earlier; " + path + " is gone)", nil
		}
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, helpdesk.ErrNotFound) {
		return "", err
	}
	password := randomHex(8)
	if _, err := store.CreateUser(ctx, helpdesk.UserInput{Email: demoAdmin, Name: "Demo Admin", Role: "admin", Password: password}); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return password, nil
}

// dripDemoMail delivers a new customer mail every 45 seconds, a few times.
func dripDemoMail(ctx context.Context, addr, password string, logger *slog.Logger) {
	ticker := time.NewTicker(45 * time.Second)
	defer ticker.Stop()
	for i := 1; i <= 10; i++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		raw := demoMail(fmt.Sprintf("Order #%d has not arrived", 4100+i), "Jamie Rivera", "jamie.rivera@customer.example",
			time.Now(), "", fmt.Sprintf("Hello,\r\n\r\nI ordered last week (order #%d) and the tracking page has not moved for three days. Can you check?\r\n\r\nThanks,\r\nJamie\r\n", 4100+i))
		if err := appendDemoMail(addr, password, raw); err != nil {
			logger.Warn("demo: could not deliver mail", "err", err)
		}
	}
}

func demoMail(subject, fromName, fromAddr string, date time.Time, extraHeaders, body string) string {
	return "From: " + fromName + " <" + fromAddr + ">\r\n" +
		"To: Demo support <" + demoMailbox + ">\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: " + date.Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + randomHex(12) + "@customer.example>\r\n" +
		extraHeaders +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
}

func demoMails(now time.Time) []string {
	day := 24 * time.Hour
	return []string{
		demoMail("Cannot log in after password reset", "Maria Keller", "maria.keller@customer.example", now.Add(-3*day), "",
			"Hi,\r\n\r\nafter resetting my password yesterday the login page says \"invalid credentials\".\r\nI tried twice. What can I do?\r\n\r\nMaria\r\n"),
		demoMail("Invoice 2026-118 shows the wrong VAT number", "Tomás Ortega", "t.ortega@shop.example", now.Add(-2*day), "",
			"Hello,\r\n\r\nour VAT number on invoice 2026-118 is wrong; it should be ES-B12345678.\r\nPlease send a corrected invoice.\r\n\r\nBest regards,\r\nTomás Ortega\r\n"),
		demoMail("=?utf-8?q?Besch=C3=A4digte_Lieferung?=", "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=", "juergen@kunde.example", now.Add(-36*time.Hour), "",
			"Guten Tag,\r\n\r\ndie Lieferung kam beschädigt an. Fotos schicke ich gern nach.\r\n\r\nViele Grüße\r\nJürgen Müller\r\n"),
		demoMail("Out of office: Re: your ticket", "Lee Chen", "lee.chen@partner.example", now.Add(-30*time.Hour), "Auto-Submitted: auto-replied\r\n",
			"I am out of the office until Monday and will answer then.\r\n"),
		demoMail("Feature request: export to CSV", "Priya Nair", "priya@startup.example", now.Add(-20*time.Hour), "",
			"Hi team,\r\n\r\nit would help us a lot to export the monthly report as CSV.\r\nIs that on your roadmap?\r\n\r\nPriya\r\n"),
		demoMail("Refund for double charge", "Sam O'Connor", "sam.oconnor@customer.example", now.Add(-5*time.Hour), "",
			"Hello,\r\n\r\nmy card was charged twice for the same order. Please refund one of them.\r\n\r\nSam\r\n"),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
