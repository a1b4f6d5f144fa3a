package testserver

import (
	"bytes"
	"errors"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPMessage is one message the sink accepted.
type SMTPMessage struct {
	From      string    // envelope sender (MAIL FROM)
	To        []string  // envelope recipients (RCPT TO)
	Data      []byte    // the message as sent after DATA
	MessageID string    // the Message-ID header as written, "<...>"; empty if none
	AuthUser  string    // the user that authenticated; empty without AUTH
	AuthMech  string    // the SASL mechanism it used (PLAIN, XOAUTH2)
	Received  time.Time // when the sink accepted it
}

// SMTPSink is an in-process SMTP server that records every message it
// accepts. Faults can be switched on and off while it runs: FailRate,
// DropRate and Delay. It offers AUTH PLAIN (without TLS).
type SMTPSink struct {
	srv  *smtp.Server
	addr string

	failRate atomic.Uint64 // math.Float64bits of the probability
	dropRate atomic.Uint64
	delay    atomic.Int64 // time.Duration
	attempts atomic.Int64
	sessions atomic.Int64 // connections open now

	mu       sync.Mutex
	msgs     []SMTPMessage
	changed  chan struct{} // closed and replaced when a message arrives or a session ends
	user     string
	pass     string
	authReqd bool
	// checkToken, when set, makes XOAUTH2 the only way in: it says
	// whether the bearer token is valid for the user.
	checkToken func(user, token string) bool
}

// StartSMTP starts an SMTP sink on a free 127.0.0.1 port; cleanup closes it.
func StartSMTP(t testing.TB) *SMTPSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: smtp listen: %v", err)
	}
	s := &SMTPSink{addr: ln.Addr().String(), changed: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.sessions.Add(1)
		return &smtpSession{sink: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.MaxRecipients = 1000
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		s.srv.Close()
		<-done
	})
	return s
}

// Addr is "127.0.0.1:PORT".
func (s *SMTPSink) Addr() string { return s.addr }

// Port is the TCP port.
func (s *SMTPSink) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// URL is smtp://host:port, or smtp://user:pass@host:port after RequireAuth.
func (s *SMTPSink) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authReqd {
		return "smtp://" + url.UserPassword(s.user, s.pass).String() + "@" + s.addr
	}
	return "smtp://" + s.addr
}

// RequireAuth makes the sink accept only AUTH PLAIN with user and pass, and
// refuse MAIL before that (530). Without it, any credentials are accepted
// and AUTH is optional.
func (s *SMTPSink) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass, s.authReqd = user, pass, true
}

// FailRate makes the sink answer DATA with 451 (a temporary failure) with
// probability p, from 0 to 1.
func (s *SMTPSink) FailRate(p float64) { s.failRate.Store(math.Float64bits(p)) }

// DropRate makes the sink close the connection in the middle of DATA,
// without an answer, with probability p, from 0 to 1.
func (s *SMTPSink) DropRate(p float64) { s.dropRate.Store(math.Float64bits(p)) }

// Delay makes the sink wait d before answering each DATA.
func (s *SMTPSink) Delay(d time.Duration) { s.delay.Store(int64(d)) }

// Attempts is how many DATA commands arrived, whether accepted, failed or
// dropped.
func (s *SMTPSink) Attempts() int { return int(s.attempts.Load()) }

// Messages returns a copy of the accepted messages, in arrival order.
func (s *SMTPSink) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.msgs...)
}

// WaitNoSessions waits until no client has a connection open, e.g. a
// sender's idle session has ended; it fails the test after timeout.
func (s *SMTPSink) WaitNoSessions(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if s.sessions.Load() == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("testserver: smtp sink still has %d sessions open after %v", s.sessions.Load(), timeout)
		}
	}
}

// WaitMessages waits until at least n messages were accepted and returns
// them; it fails the test after timeout.
func (s *SMTPSink) WaitMessages(t testing.TB, n int, timeout time.Duration) []SMTPMessage {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("testserver: smtp sink has %d messages after %v, want %d", got, timeout, n)
		}
	}
}

func (s *SMTPSink) record(m SMTPMessage) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	s.signal()
}

// signal wakes the waiters: a message arrived or a session ended.
func (s *SMTPSink) signal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

func chance(bits *atomic.Uint64) bool {
	p := math.Float64frombits(bits.Load())
	return p > 0 && rand.Float64() < p
}

type smtpSession struct {
	sink     *SMTPSink
	conn     *smtp.Conn
	authUser string
	authMech string
	from     string
	to       []string
}

// RequireXOAuth2 makes the sink accept only AUTH XOAUTH2 with a token
// that check accepts for the user, as Gmail and Microsoft 365 do; a
// refused token gets Gmail's JSON error challenge, then 535.
func (s *SMTPSink) RequireXOAuth2(check func(user, token string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkToken, s.authReqd = check, true
}

func (ss *smtpSession) AuthMechanisms() []string {
	ss.sink.mu.Lock()
	defer ss.sink.mu.Unlock()
	if ss.sink.checkToken != nil {
		return []string{"XOAUTH2"}
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	ss.sink.mu.Lock()
	check := ss.sink.checkToken
	ss.sink.mu.Unlock()
	if check != nil {
		if mech != "XOAUTH2" {
			return nil, smtp.ErrAuthUnknownMechanism
		}
		return &xoauth2Server{check: check, sess: ss}, nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.sink.mu.Lock()
		user, pass, reqd := ss.sink.user, ss.sink.pass, ss.sink.authReqd
		ss.sink.mu.Unlock()
		if reqd && (username != user || password != pass) {
			return smtp.ErrAuthFailed
		}
		ss.authUser, ss.authMech = username, sasl.Plain
		return nil
	}), nil
}

// xoauth2Server is the server side of XOAUTH2: one initial response
// "user=U\x01auth=Bearer T\x01\x01".
type xoauth2Server struct {
	check   func(user, token string) bool
	sess    *smtpSession
	refused bool
}

func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if x.refused { // the client's answer to the error challenge
		return nil, false, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Username and Password not accepted"}
	}
	var user, token string
	for _, f := range strings.Split(string(response), "\x01") {
		if v, ok := strings.CutPrefix(f, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
			token = v
		}
	}
	if user == "" || token == "" || !x.check(user, token) {
		x.refused = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	x.sess.authUser, x.sess.authMech = user, "XOAUTH2"
	return nil, true, nil
}

func (ss *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	ss.sink.mu.Lock()
	reqd := ss.sink.authReqd
	ss.sink.mu.Unlock()
	if reqd && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	s := ss.sink
	s.attempts.Add(1)
	if chance(&s.dropRate) {
		// Take part of the message, then hang up without an answer.
		io.CopyN(io.Discard, r, 1)
		ss.conn.Conn().Close()
		return errors.New("dropped by test sink")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if chance(&s.failRate) {
		return &smtp.SMTPError{
			Code:         451,
			EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message:      "temporary failure injected by test sink",
		}
	}
	var msgID string
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		msgID = m.Header.Get("Message-Id")
	}
	s.record(SMTPMessage{
		From:      ss.from,
		To:        append([]string(nil), ss.to...),
		Data:      data,
		MessageID: msgID,
		AuthUser:  ss.authUser,
		AuthMech:  ss.authMech,
		Received:  time.Now(),
	})
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *smtpSession) Logout() error {
	ss.sink.sessions.Add(-1)
	ss.sink.signal()
	return nil
}
