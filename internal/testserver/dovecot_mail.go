package testserver

// Users, folders and mail of the private Dovecot: what tests put in it.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// AddUser adds a user, at once usable without a restart. Its mailbox is
// created on first login. Calling it again for an existing user changes the
// password, which Dovecot may take up to a second to notice. User names may
// not contain '/', ':' or line breaks, passwords no ':' or line breaks.
func (d *Dovecot) AddUser(t testing.TB, user, pass string) {
	t.Helper()
	if user == "" || user == "." || user == ".." || strings.ContainsAny(user, "/:\r\n") || strings.ContainsAny(pass, ":\r\n") {
		t.Fatalf("testserver: invalid dovecot user %q or password", user)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[user] = pass
	// One passwd-file per user: Dovecot rereads a changed file at most once
	// a second, but opens a new user's file on first use. Write and rename,
	// so it never reads a half-written file.
	tmp := filepath.Join(d.dir, "users", "."+user+".tmp")
	if err := os.WriteFile(tmp, []byte(user+":{PLAIN}"+pass+"\n"), 0o644); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "users", user)); err != nil {
		t.Fatalf("testserver: %v", err)
	}
}

func (d *Dovecot) password(t testing.TB, user string) string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	pass, ok := d.users[user]
	if !ok {
		t.Fatalf("testserver: dovecot user %q not added (call AddUser first)", user)
	}
	return pass
}

// Dial returns a client logged in as user over plain IMAP; it is closed at
// cleanup. Use it for assertions (select, list UIDs, flags).
func (d *Dovecot) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	pass := d.password(t, user)
	c, err := imapclient.DialInsecure(d.Addr(), nil)
	if err != nil {
		t.Fatalf("testserver: dial dovecot: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("testserver: login %q: %v", user, err)
	}
	return c
}

// CreateFolder creates a folder for user; an existing folder is not an error.
func (d *Dovecot) CreateFolder(t testing.TB, user, folder string) {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := createFolder(c, folder); err != nil {
		t.Fatalf("testserver: create %q: %v", folder, err)
	}
}

func createFolder(c *imapclient.Client, folder string) error {
	if strings.EqualFold(folder, "INBOX") {
		return nil
	}
	err := c.Create(folder, nil).Wait()
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}

// DeleteFolder deletes a folder and its messages. Creating it again gives it
// a new UIDVALIDITY.
func (d *Dovecot) DeleteFolder(t testing.TB, user, folder string) {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := c.Delete(folder).Wait(); err != nil {
		t.Fatalf("testserver: delete %q: %v", folder, err)
	}
}

// Append stores one message in user's folder (created if missing) with IMAP
// APPEND and returns its UID.
func (d *Dovecot) Append(t testing.TB, user, folder string, raw []byte) uint32 {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := createFolder(c, folder); err != nil {
		t.Fatalf("testserver: create %q: %v", folder, err)
	}
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	if data.UID == 0 {
		t.Fatal("testserver: append: server returned no APPENDUID")
	}
	return uint32(data.UID)
}

// A MULTIAPPEND command carries at most appendBatch messages and, unless it
// is a single message, at most appendBatchBytes.
const (
	appendBatch      = 500
	appendBatchBytes = 32 << 20
)

// appendBatches splits msgs into [start, end) ranges for MULTIAPPEND.
func appendBatches(msgs [][]byte) [][2]int {
	var out [][2]int
	start, size := 0, 0
	for i, m := range msgs {
		if i > start && (i-start == appendBatch || size+len(m) > appendBatchBytes) {
			out = append(out, [2]int{start, i})
			start, size = i, 0
		}
		size += len(m)
	}
	return append(out, [2]int{start, len(msgs)})
}

// AppendMany stores msgs, in order, in user's folder (created if missing) and
// returns their UIDs. It uses one connection, MULTIAPPEND (RFC 3502) with
// non-synchronizing literals, and pipelines the batches, so seeding thousands
// of messages takes seconds.
func (d *Dovecot) AppendMany(t testing.TB, user, folder string, msgs [][]byte) []uint32 {
	t.Helper()
	if len(msgs) == 0 {
		return nil
	}
	d.CreateFolder(t, user, folder)
	uids, err := d.appendMany(user, d.password(t, user), folder, msgs)
	if err != nil {
		t.Fatalf("testserver: append %d messages: %v", len(msgs), err)
	}
	return uids
}

func (d *Dovecot) appendMany(user, pass, folder string, msgs [][]byte) ([]uint32, error) {
	conn, err := net.DialTimeout("tcp", d.Addr(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Minute))
	r := bufio.NewReaderSize(conn, 64*1024)
	if _, err := r.ReadString('\n'); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	w := bufio.NewWriterSize(conn, 256*1024)
	fmt.Fprintf(w, "L LOGIN %s %s\r\n", imapQuote(user), imapQuote(pass))
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if _, err := readTagged(r, "L"); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}

	// Write every batch from one goroutine while this one reads the
	// answers, so the server never waits for a round trip.
	mbox := imapQuote(encodeMailboxName(folder))
	batches := appendBatches(msgs)
	werr := make(chan error, 1)
	go func() {
		for b, r := range batches {
			fmt.Fprintf(w, "A%d APPEND %s", b, mbox)
			for _, m := range msgs[r[0]:r[1]] {
				fmt.Fprintf(w, " {%d+}\r\n", len(m))
				w.Write(m)
			}
			if _, err := w.WriteString("\r\n"); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	uids := make([]uint32, 0, len(msgs))
	for b := range batches {
		line, err := readTagged(r, "A"+strconv.Itoa(b))
		if err != nil {
			conn.Close() // unblock the writer
			<-werr
			return nil, err
		}
		got, err := parseAppendUID(line)
		if err != nil {
			conn.Close()
			<-werr
			return nil, err
		}
		uids = append(uids, got...)
	}
	if err := <-werr; err != nil {
		return nil, err
	}
	if len(uids) != len(msgs) {
		return nil, fmt.Errorf("server reported %d UIDs for %d messages", len(uids), len(msgs))
	}
	fmt.Fprintf(w, "Z LOGOUT\r\n")
	w.Flush()
	return uids, nil
}

// readTagged reads lines until the tagged answer for tag and returns it; an
// answer other than OK is an error.
func readTagged(r *bufio.Reader, tag string) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(line, tag+" ") {
			continue // untagged data; Dovecot sends no literals here
		}
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line[len(tag)+1:], "OK") {
			return "", errors.New(line)
		}
		return line, nil
	}
}

// parseAppendUID extracts the UIDs from "... OK [APPENDUID validity set] ...".
func parseAppendUID(line string) ([]uint32, error) {
	i := strings.Index(line, "[APPENDUID ")
	if i < 0 {
		return nil, fmt.Errorf("no APPENDUID in %q", line)
	}
	f := strings.Fields(strings.SplitN(line[i+1:], "]", 2)[0])
	if len(f) != 3 {
		return nil, fmt.Errorf("bad APPENDUID in %q", line)
	}
	var uids []uint32
	for _, part := range strings.Split(f[2], ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad APPENDUID in %q", line)
		}
		bnum := a
		if isRange {
			if bnum, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return nil, fmt.Errorf("bad APPENDUID in %q", line)
			}
		}
		if bnum < a {
			a, bnum = bnum, a
		}
		for u := a; u <= bnum; u++ {
			uids = append(uids, uint32(u))
		}
	}
	return uids, nil
}

// imapQuote makes an IMAP quoted string.
func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// encodeMailboxName encodes a mailbox name in IMAP's modified UTF-7
// (RFC 3501 section 5.1.3).
func encodeMailboxName(s string) string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
	var out strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		var buf []byte
		for _, u := range utf16.Encode(pending) {
			buf = append(buf, byte(u>>8), byte(u))
		}
		out.WriteByte('&')
		var acc, bits uint
		for _, c := range buf {
			acc = acc<<8 | uint(c)
			bits += 8
			for bits >= 6 {
				bits -= 6
				out.WriteByte(b64[(acc>>bits)&63])
			}
		}
		if bits > 0 {
			out.WriteByte(b64[(acc<<(6-bits))&63])
		}
		out.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				out.WriteString("&-")
			} else {
				out.WriteRune(r)
			}
			continue
		}
		pending = append(pending, r)
	}
	flush()
	return out.String()
}
