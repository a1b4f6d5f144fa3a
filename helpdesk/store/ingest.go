package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// IngestBatch is one transaction in which the fetcher stores messages one
// after another (a group commit: under load one commit covers many
// messages). Each message is whole in it: its customer, conversation,
// thread, attachments, raw bytes, notifications and ledger row, or, if
// Ingest fails, the caller rolls the batch back and stores its messages
// again one per batch. The batch holds the mailbox's fence until it ends.
type IngestBatch struct {
	t     *tx
	fence int64
}

// Commit makes the batch's messages stored; only then may the fetcher act
// on them on the server.
func (b *IngestBatch) Commit(ctx context.Context) error {
	return b.t.commit(ctx)
}

// Rollback drops what the batch wrote; after Commit it does nothing.
func (b *IngestBatch) Rollback() { b.t.rollback() }

// Ingest adds one customer message to the batch.
func (b *IngestBatch) Ingest(ctx context.Context, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage) (helpdesk.IngestResult, error) {
	if src.MailboxID != b.t.fetch.mailbox.ID || src.Fence != b.fence {
		return helpdesk.IngestResult{}, fmt.Errorf("ingest %s: batch is for mailbox %d fence %d", src, b.t.fetch.mailbox.ID, b.fence)
	}
	cleanText(msg)
	if msg.DedupKey == "" {
		msg.DedupKey = "raw:" + fmt.Sprintf("%x", sha256.Sum256(msg.Raw))
	}
	res, err := ingestTx(ctx, b.t, src, msg)
	if err != nil {
		return helpdesk.IngestResult{}, fmt.Errorf("ingest %s: %w", src, err)
	}
	return res, nil
}

func ingestTx(ctx context.Context, t *tx, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage) (helpdesk.IngestResult, error) {
	prior, err := priorLedger(ctx, t, src, msg.DedupKey)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	if prior.seen && !(prior.seenOutcome == helpdesk.OutcomeQuarantined && src.QuarantineID != 0) {
		return helpdesk.IngestResult{Outcome: helpdesk.OutcomeDuplicate, ThreadID: prior.seenThread}, nil
	}
	if prior.stored {
		writeLedger(t, src, msg.DedupKey, helpdesk.OutcomeDuplicate, prior.storedThread)
		return helpdesk.IngestResult{Outcome: helpdesk.OutcomeDuplicate, ThreadID: prior.storedThread}, nil
	}
	if src.QuarantineID != 0 {
		q, err := quarantineThread(ctx, t, src.QuarantineID)
		if err != nil {
			return helpdesk.IngestResult{}, err
		}
		if q.ThreadID.Valid {
			return ingestRetriedUnreadable(ctx, t, src, msg, q.ThreadID.Int64)
		}
	}

	customerID, err := customer(ctx, t, msg.Sender())
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	convID, err := findConversation(ctx, t, src.MailboxID, msg)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	var conv threadedConversation
	if convID == 0 {
		conv, err = insertConversation(ctx, t, src.MailboxID, customerID, msg)
	} else {
		conv, err = touchConversation(ctx, t, convID, msg)
	}
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	rawID, err := storeRaw(ctx, t, msg.Raw, msg.RawGzip)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	threadID, err := insertCustomerThread(ctx, t, conv.ID, rawID, msg)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	if err := indexMessage(ctx, t, conv, msg); err != nil {
		return helpdesk.IngestResult{}, err
	}
	return storedAsNew(ctx, t, src, msg, conv, threadID)
}

// ingestRetriedUnreadable stores a retried message that agents already see
// unparsed (in thread threadID) in that thread's place.
func ingestRetriedUnreadable(ctx context.Context, t *tx, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage, threadID int64) (helpdesk.IngestResult, error) {
	conv, err := replaceUnreadable(ctx, t, threadID, msg)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	return storedAsNew(ctx, t, src, msg, conv, threadID)
}

// storedAsNew finishes a message stored in thread threadID of conv: its
// participants, the ledger, the notifications (none for a folder's first
// import: that mail is old news), and the quarantine row it was retried
// from, if any.
func storedAsNew(ctx context.Context, t *tx, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage, conv threadedConversation, threadID int64) (helpdesk.IngestResult, error) {
	if err := addParticipants(ctx, t, conv.ID, msg); err != nil {
		return helpdesk.IngestResult{}, err
	}
	writeLedger(t, src, msg.DedupKey, helpdesk.OutcomeNew, threadID)
	addIngestEvents(t, src.MailboxID, conv, threadID)
	if !src.Import {
		if err := enqueueCustomerMailNotifications(ctx, t, conv, threadID, msg); err != nil {
			return helpdesk.IngestResult{}, err
		}
	}
	if src.QuarantineID != 0 {
		if err := resolveQuarantine(ctx, t, src.QuarantineID, threadID); err != nil {
			return helpdesk.IngestResult{}, err
		}
	}
	return helpdesk.IngestResult{Outcome: helpdesk.OutcomeNew, ConversationID: conv.ID, ThreadID: threadID}, nil
}

// ledgerPrior is what the ledger already knows of a message: its row under
// this UID, and a stored copy of it under another UID (same dedup key).
type ledgerPrior struct {
	seen         bool
	seenOutcome  helpdesk.Outcome
	seenThread   int64
	stored       bool
	storedThread int64
}

func priorLedger(ctx context.Context, t *tx, src helpdesk.MessageSource, dedupKey string) (ledgerPrior, error) {
	if err := t.flushFor(ctx, uidLookup(src.Folder, src.UIDValidity, src.UID), dedupLookup(dedupKey)); err != nil {
		return ledgerPrior{}, err
	}
	var rows []struct {
		Outcome  helpdesk.Outcome `db:"outcome"`
		ThreadID sql.NullInt64    `db:"thread_id"`
		ByUID    int              `db:"by_uid"`
	}
	err := t.sel(ctx, &rows, t.q().PriorLedger,
		src.MailboxID, src.Folder, src.UIDValidity, src.UID, src.MailboxID, dedupKey)
	if err != nil {
		return ledgerPrior{}, fmt.Errorf("read ledger: %w", err)
	}
	var p ledgerPrior
	for _, r := range rows {
		if r.ByUID == 1 {
			p.seen, p.seenOutcome, p.seenThread = true, r.Outcome, r.ThreadID.Int64
		} else {
			p.stored, p.storedThread = true, r.ThreadID.Int64
		}
	}
	return p, nil
}

// writeLedger records what became of a message. A row left by quarantine
// is updated when the message is retried.
func writeLedger(t *tx, src helpdesk.MessageSource, dedupKey string, outcome helpdesk.Outcome, threadID int64) {
	var thread any
	if threadID != 0 {
		thread = threadID
	}
	t.collect(insertLedger, src.MailboxID, src.Folder, src.UIDValidity, src.UID, dedupKey, outcome, thread, src.Fence, now())
}

// upsertCustomers upserts the customers of msgs (their senders) sorted by
// address. On PostgreSQL an upserted row stays locked until commit, and one
// person may write to several support addresses at once: batches of
// several fetchers that took the same customers in different orders
// deadlocked. Taken in one order, one batch waits for the other instead.
func upsertCustomers(ctx context.Context, t *tx, msgs []*helpdesk.IncomingMessage) error {
	names := map[string]string{} // by address: the first name given
	for _, msg := range msgs {
		cleanText(msg)
		a := msg.Sender()
		email := strings.ToLower(a.Email)
		if names[email] == "" {
			names[email] = a.Name
		}
	}
	for _, email := range slices.Sorted(maps.Keys(names)) {
		if _, err := customer(ctx, t, helpdesk.Address{Email: email, Name: names[email]}); err != nil {
			return err
		}
	}
	return nil
}

// customer returns the id of the customer with this address, upserting it
// unless the transaction did already; concurrent first mails from one
// address both get the one row.
func customer(ctx context.Context, t *tx, a helpdesk.Address) (int64, error) {
	email := strings.ToLower(a.Email)
	if id, ok := t.fetch.customers[email]; ok {
		return id, nil
	}
	var id int64
	err := t.get(ctx, &id, t.q().UpsertCustomer, email, helpdesk.Truncate(a.Name, 200), now())
	if err != nil {
		return 0, fmt.Errorf("upsert customer %q: %w", a.Email, err)
	}
	if t.fetch.customers == nil {
		t.fetch.customers = map[string]int64{}
	}
	t.fetch.customers[email] = id
	return id, nil
}

// threadedConversation is the conversation a customer message went to, as
// notifications need it.
type threadedConversation struct {
	ID         int64         `db:"id"`
	Subject    string        `db:"subject"`
	AssigneeID sql.NullInt64 `db:"assignee_id"`
	created    bool          // by this message
}

func insertConversation(ctx context.Context, t *tx, mailboxID, customerID int64, msg *helpdesk.IncomingMessage) (threadedConversation, error) {
	at := now()
	var c threadedConversation
	err := t.get(ctx, &c, t.q().InsertConversation,
		mailboxID, customerID, subjectOrDefault(msg.Subject), preview(msg.Text), at, at, at, at)
	if err != nil {
		return c, fmt.Errorf("insert conversation: %w", err)
	}
	c.created = true
	return c, nil
}

// touchConversation moves a conversation up on a new customer message and
// reopens it, unless the message is an auto-reply.
func touchConversation(ctx context.Context, t *tx, convID int64, msg *helpdesk.IncomingMessage) (threadedConversation, error) {
	at := now()
	reopen := !msg.AutoReply
	var c threadedConversation
	err := t.get(ctx, &c, t.q().TouchConversation, at, at, preview(msg.Text), at, reopen, reopen, reopen, convID)
	if err != nil {
		return c, fmt.Errorf("update conversation %d: %w", convID, err)
	}
	return c, nil
}

func insertCustomerThread(ctx context.Context, t *tx, convID, rawID int64, msg *helpdesk.IncomingMessage) (int64, error) {
	id, err := t.nextID(ctx, "threads")
	if err != nil {
		return 0, err
	}
	t.collect(insertThread, id, convID, "customer", msg.MessageID, msg.InReplyTo, msg.Sender().Email,
		helpdesk.Truncate(msg.Sender().Name, 200), joinAddresses(msg.To), joinAddresses(msg.Cc), msg.Subject,
		msg.Text, msg.HTML, msg.AutoReply, rawID, now(), mailDate(msg))
	for _, a := range msg.Attachments {
		t.collect(insertAttachment, id, a.Filename, a.ContentType, a.ContentID, a.Inline, int64(len(a.Data)), a.Data)
	}
	return id, nil
}

// addParticipants records the sender and the other addresses on the mail
// (not the mailbox itself), who may thread by [#N] subject token later.
func addParticipants(ctx context.Context, t *tx, convID int64, msg *helpdesk.IncomingMessage) error {
	addrs := append([]helpdesk.Address{msg.Sender()}, msg.Cc...)
	addrs = append(addrs, msg.To...)
	for _, a := range addrs {
		email := strings.ToLower(a.Email)
		if email == "" || email == t.fetch.mailbox.Email {
			continue
		}
		t.collect(insertParticipant, convID, email)
	}
	return nil
}

func joinAddresses(as []helpdesk.Address) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, a.Email)
	}
	return strings.Join(parts, ", ")
}

func subjectOrDefault(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no subject)"
	}
	return helpdesk.Truncate(s, 998)
}

// preview is the start of the text on one line; only the start is read,
// as a long mail would otherwise cost more here than its insert.
func preview(text string) string {
	return helpdesk.Truncate(strings.Join(strings.Fields(helpdesk.Truncate(text, 2000)), " "), 200)
}

// cleanText makes the text fields storable in both databases: PostgreSQL
// refuses NUL bytes and invalid UTF-8 in text columns.
func cleanText(msg *helpdesk.IncomingMessage) {
	fields := []*string{&msg.Subject, &msg.Text, &msg.HTML, &msg.From.Name, &msg.From.Email, &msg.MessageID, &msg.InReplyTo}
	for i := range msg.References {
		fields = append(fields, &msg.References[i])
	}
	for _, list := range [][]helpdesk.Address{msg.To, msg.Cc, msg.ReplyTo} {
		for i := range list {
			fields = append(fields, &list[i].Name, &list[i].Email)
		}
	}
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		fields = append(fields, &a.Filename, &a.ContentType, &a.ContentID)
	}
	for _, f := range fields {
		*f = storable(*f)
	}
}

func storable(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s // the parser's output: checked fast, as bodies can be megabytes
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// addIngestEvents tells the web of a stored customer message: a new
// conversation, or a changed one, and its new thread.
func addIngestEvents(t *tx, mailboxID int64, conv threadedConversation, threadID int64) {
	if conv.created {
		t.addEvent(helpdesk.EventConversationCreated, mailboxID, conv.ID, 0)
	} else {
		t.addEvent(helpdesk.EventConversationUpdated, mailboxID, conv.ID, 0)
	}
	t.addEvent(helpdesk.EventThreadCreated, mailboxID, conv.ID, threadID)
}

// mailDate is the mail's Date header for the threads table: NULL when the
// mail had none or an unparsable one.
func mailDate(msg *helpdesk.IncomingMessage) any {
	if msg.Date.IsZero() {
		return nil
	}
	return msg.Date.UTC()
}
