package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/jmoiron/sqlx"
)

// accessClause is the SQL condition (on conversations aliased c) that
// limits rows to the viewer's mailboxes, with its arguments.
func accessClause(v helpdesk.Viewer) (string, []any) {
	if v.Admin {
		return "1 = 1", nil
	}
	return "c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?)", []any{v.UserID}
}

const summaryColumns = `c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at`

const summaryFrom = `FROM conversations c
	JOIN mailboxes m ON m.id = c.mailbox_id
	JOIN customers cu ON cu.id = c.customer_id
	LEFT JOIN users u ON u.id = c.assignee_id`

// Conversations lists the viewer's conversations matching f, newest
// message first.
func (s *Store) Conversations(ctx context.Context, v helpdesk.Viewer, f helpdesk.ConversationFilter) (*helpdesk.ConversationList, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where, args := s.conversationWhere(v, f)

	// Counts per status, over every filter but the status itself.
	var counts []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	countQuery := `SELECT c.status, COUNT(*) AS n FROM conversations c`
	if f.Query != "" {
		countQuery += ` JOIN customers cu ON cu.id = c.customer_id`
	}
	countQuery += ` WHERE ` + where + ` GROUP BY c.status`
	if err := s.db.SelectContext(ctx, &counts, s.db.Rebind(countQuery), args...); err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	list := &helpdesk.ConversationList{
		Conversations: []helpdesk.ConversationSummary{},
		Page:          f.Page,
		PerPage:       f.PerPage,
		Counts:        make(map[string]int, len(helpdesk.Statuses)),
	}
	for _, st := range helpdesk.Statuses {
		list.Counts[st] = 0
	}
	for _, c := range counts {
		list.Counts[c.Status] = c.N
		if f.Status == "" || f.Status == c.Status {
			list.Total += c.N
		}
	}
	if list.Total == 0 || (f.Page-1)*f.PerPage >= list.Total {
		return list, nil
	}

	if f.Status != "" {
		where += " AND c.status = ?"
		args = append(args, f.Status)
	}
	q := `SELECT ` + summaryColumns + ` ` + summaryFrom + ` WHERE ` + where +
		` ORDER BY c.last_message_at DESC, c.id DESC LIMIT ? OFFSET ?`
	args = append(args, f.PerPage, (f.Page-1)*f.PerPage)
	if err := s.db.SelectContext(ctx, &list.Conversations, s.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	if err := s.attachTags(ctx, list.Conversations); err != nil {
		return nil, err
	}
	return list, nil
}

// conversationWhere builds the WHERE clause of the list, without status.
// It refers to conversations as c and, when searching, customers as cu.
func (s *Store) conversationWhere(v helpdesk.Viewer, f helpdesk.ConversationFilter) (string, []any) {
	where, args := accessClause(v)
	conds := []string{where}
	if f.MailboxID != 0 {
		conds = append(conds, "c.mailbox_id = ?")
		args = append(args, f.MailboxID)
	}
	if f.Unassigned {
		conds = append(conds, "c.assignee_id IS NULL")
	} else if f.AssigneeID != 0 {
		conds = append(conds, "c.assignee_id = ?")
		args = append(args, f.AssigneeID)
	}
	if f.Tag != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
			WHERE ct.conversation_id = c.id AND tg.name = ?)`)
		args = append(args, f.Tag)
	}
	if f.Query != "" {
		like := s.likeOperator()
		pattern := "%" + escapeLike(f.Query) + "%"
		conds = append(conds, `(c.subject `+like+` ? ESCAPE '\' OR cu.email `+like+` ? ESCAPE '\' OR cu.name `+like+` ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM threads th WHERE th.conversation_id = c.id AND th.body_text `+like+` ? ESCAPE '\'))`)
		args = append(args, pattern, pattern, pattern, pattern)
	}
	return strings.Join(conds, " AND "), args
}

// likeOperator is a case-insensitive LIKE: SQLite's LIKE already is (for
// ASCII), PostgreSQL's is not.
func (s *Store) likeOperator() string {
	if s.dialect.Name() == "postgres" {
		return "ILIKE"
	}
	return "LIKE"
}

// escapeLike makes a search term match literally inside a LIKE pattern
// with ESCAPE '\'.
func escapeLike(term string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(term)
}

// attachTags fills in the tags of a page of conversations with one query.
func (s *Store) attachTags(ctx context.Context, convs []helpdesk.ConversationSummary) error {
	if len(convs) == 0 {
		return nil
	}
	ids := make([]int64, len(convs))
	byID := make(map[int64]*helpdesk.ConversationSummary, len(convs))
	for i := range convs {
		ids[i] = convs[i].ID
		convs[i].Tags = []string{}
		byID[convs[i].ID] = &convs[i]
	}
	q, args, err := sqlx.In(`SELECT ct.conversation_id, tg.name FROM conversation_tags ct
		JOIN tags tg ON tg.id = ct.tag_id WHERE ct.conversation_id IN (?) ORDER BY tg.name`, ids)
	if err != nil {
		return fmt.Errorf("list tags: %w", err)
	}
	var rows []struct {
		ConversationID int64  `db:"conversation_id"`
		Name           string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return fmt.Errorf("list tags: %w", err)
	}
	for _, r := range rows {
		if c := byID[r.ConversationID]; c != nil {
			c.Tags = append(c.Tags, r.Name)
		}
	}
	return nil
}

const threadColumns = `id, kind, message_id, in_reply_to, from_email, from_name, to_addrs, cc_addrs, subject,
	body_text, body_html, auto_reply, user_id, created_at`

// Conversation returns one of the viewer's conversations with its threads
// and their attachments (without data), or ErrNotFound.
func (s *Store) Conversation(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.ConversationDetail, error) {
	access, args := accessClause(v)
	var d helpdesk.ConversationDetail
	err := s.db.GetContext(ctx, &d.ConversationSummary, s.db.Rebind(`SELECT `+summaryColumns+` `+summaryFrom+
		` WHERE c.id = ? AND `+access), append([]any{id}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("conversation %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get conversation %d: %w", id, err)
	}
	if err := s.db.GetContext(ctx, &d.MailboxEmail, s.db.Rebind(`SELECT email FROM mailboxes WHERE id = ?`), d.MailboxID); err != nil {
		return nil, fmt.Errorf("get mailbox of conversation %d: %w", id, err)
	}
	one := []helpdesk.ConversationSummary{d.ConversationSummary}
	if err := s.attachTags(ctx, one); err != nil {
		return nil, err
	}
	d.Tags = one[0].Tags
	if err := s.db.SelectContext(ctx, &d.Threads, s.db.Rebind(`SELECT `+threadColumns+` FROM threads
		WHERE conversation_id = ? ORDER BY id`), id); err != nil {
		return nil, fmt.Errorf("get threads of conversation %d: %w", id, err)
	}
	var atts []helpdesk.AttachmentInfo
	if err := s.db.SelectContext(ctx, &atts, s.db.Rebind(`SELECT a.`+strings.ReplaceAll(attachmentInfoColumns, ", ", ", a.")+`
		FROM attachments a JOIN threads t ON t.id = a.thread_id
		WHERE t.conversation_id = ? ORDER BY a.id`), id); err != nil {
		return nil, fmt.Errorf("get attachments of conversation %d: %w", id, err)
	}
	byThread := make(map[int64]*helpdesk.Thread, len(d.Threads))
	for i := range d.Threads {
		d.Threads[i].Attachments = []helpdesk.AttachmentInfo{}
		byThread[d.Threads[i].ID] = &d.Threads[i]
	}
	for _, a := range atts {
		if t := byThread[a.ThreadID]; t != nil {
			t.Attachments = append(t.Attachments, a)
		}
	}
	if d.Threads == nil {
		d.Threads = []helpdesk.Thread{}
	}
	return &d, nil
}

// checkAccessTx returns the mailbox of a conversation the viewer may see,
// or ErrNotFound. It reads inside tx so an action checks and writes in one
// transaction.
func checkAccessTx(ctx context.Context, tx *sqlx.Tx, v helpdesk.Viewer, convID int64) (mailboxID int64, err error) {
	access, args := accessClause(v)
	err = tx.GetContext(ctx, &mailboxID, tx.Rebind(`SELECT c.mailbox_id FROM conversations c WHERE c.id = ? AND `+access),
		append([]any{convID}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("conversation %d: %w", convID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("check access to conversation %d: %w", convID, err)
	}
	return mailboxID, nil
}

// UpdateConversation changes status and/or assignee in one transaction.
// The assignee must be a user who can see the conversation's mailbox.
// Nothing changes when any part is invalid.
func (s *Store) UpdateConversation(ctx context.Context, v helpdesk.Viewer, id int64, ch helpdesk.ConversationChange) error {
	if err := ch.Validate(); err != nil {
		return err
	}
	return s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		mailboxID, err := checkAccessTx(ctx, tx, v, id)
		if err != nil {
			return err
		}
		t := now()
		if ch.AssigneeID != nil {
			var assignee any
			if *ch.AssigneeID != 0 {
				ok, err := canSeeMailbox(ctx, tx, *ch.AssigneeID, mailboxID)
				if err != nil {
					return err
				}
				if !ok {
					return &helpdesk.ValidationError{Fields: map[string]string{"assignee": "no such user with access to this mailbox"}}
				}
				assignee = *ch.AssigneeID
			}
			res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE conversations SET assignee_id = ?, updated_at = ?
				WHERE id = ? AND assignee_id IS DISTINCT FROM ?`), assignee, t, id, assignee)
			if err != nil {
				return fmt.Errorf("assign conversation %d: %w", id, err)
			}
			// "Assigned to you" goes out in this transaction, once.
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("assign conversation %d: %w", id, err)
			} else if n > 0 {
				if err := notifyAssignedTx(ctx, s.bridge(tx), id, *ch.AssigneeID, v.UserID); err != nil {
					return err
				}
			}
		}
		if ch.Status != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE conversations SET status = ?, updated_at = ? WHERE id = ?`),
				*ch.Status, t, id); err != nil {
				return fmt.Errorf("set status of conversation %d: %w", id, err)
			}
		}
		return nil
	})
}

// canSeeMailbox reports whether a user exists and may see a mailbox.
func canSeeMailbox(ctx context.Context, tx *sqlx.Tx, userID, mailboxID int64) (bool, error) {
	var n int
	err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM users u WHERE u.id = ? AND (u.role = 'admin'
		OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?))`), userID, mailboxID)
	if err != nil {
		return false, fmt.Errorf("check user %d: %w", userID, err)
	}
	return n > 0, nil
}

// Assignees lists the users who can see a mailbox, by name.
func (s *Store) Assignees(ctx context.Context, mailboxID int64) ([]helpdesk.Assignee, error) {
	var us []helpdesk.Assignee
	err := s.db.SelectContext(ctx, &us, s.db.Rebind(`SELECT u.id, u.name, u.email FROM users u
		WHERE u.role = 'admin' OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?)
		ORDER BY u.name, u.id`), mailboxID)
	if err != nil {
		return nil, fmt.Errorf("list assignees of mailbox %d: %w", mailboxID, err)
	}
	return us, nil
}

// VisibleMailboxes lists the mailboxes the viewer may see, by name.
func (s *Store) VisibleMailboxes(ctx context.Context, v helpdesk.Viewer) ([]helpdesk.MailboxRef, error) {
	access, args := accessClause(v)
	var ms []helpdesk.MailboxRef
	err := s.db.SelectContext(ctx, &ms, s.db.Rebind(`SELECT c.id, c.name, c.email FROM mailboxes c
		WHERE `+strings.ReplaceAll(access, "c.mailbox_id", "c.id")+` ORDER BY c.name, c.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list visible mailboxes: %w", err)
	}
	return ms, nil
}
