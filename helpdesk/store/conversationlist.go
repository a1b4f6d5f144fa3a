package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The conversation list is composed from the pieces in
// queries/conversationlist.sql, a condition for each filter given, rather
// than one static query with parameters such as "(? = 0 OR c.mailbox_id
// = ?)", which BenchmarkConversationList (100,000 conversations) measured
// slower on both databases. PostgreSQL pulls a subquery up into a join
// before it folds the parameters, so under "? OR ..." the agent's mailboxes
// stayed a filter over every conversation instead of a semi-join over
// conversations_list (p50 13 ms, static 47 ms), and the tag's EXISTS was
// costed so high that it was JIT-compiled (21 ms, static 205 ms). SQLite
// plans a statement once for any parameters, so the list of one mailbox
// scanned every conversation instead of conversations_list (8 ms, static
// 46 ms).
//
// Counts read conversations_folders alone (mailbox, status, assignee,
// customer_v); SQLite is told so (INDEXED BY), as it scanned the table's
// rows instead, and its index is partial on a condition only the counts
// state, as SQLite otherwise took it for pages too and sorted every
// matching row joined to its mailbox and customer. For the same reason
// SQLite's tag and assignee conditions do not choose an index (unary +),
// and the open folders' pages walk conversations_open. The tag is a set
// of ids probed per conversation. Unread is per agent: conversation_reads holds
// the version each agent read, unread is a customer message (customer_v)
// after it; the folders' unread counts subtract the groups the agent read
// from the groups with customer mail, so they cost as many rows as the
// agent read (folders.go).

// listPieces are the pieces of queries/conversationlist.sql.
type listPieces struct {
	count, countSearching, countEnd, page, pageSearching, limit             string
	orderLast, orderCreated, orderWaiting, orderRank                        string
	agent, mailbox, mailboxNamed, unassigned, assignee, tag, search, status string
	open, assigned, folderCounts, folderReads, folderEnd, mailboxes         string
}

func readListPieces(dialect string) (listPieces, error) {
	texts, err := readQueries("conversationlist.sql", dialect)
	if err != nil {
		return listPieces{}, err
	}
	var p listPieces
	pieces := map[string]*string{
		"count": &p.count, "count-searching": &p.countSearching, "count-end": &p.countEnd, "page": &p.page,
		"page-searching": &p.pageSearching, "limit": &p.limit,
		"order-last": &p.orderLast, "order-created": &p.orderCreated, "order-waiting": &p.orderWaiting,
		"order-rank": &p.orderRank,
		"agent":      &p.agent, "mailbox": &p.mailbox, "mailbox-named": &p.mailboxNamed,
		"unassigned": &p.unassigned, "assignee": &p.assignee,
		"tag": &p.tag, "search": &p.search, "status": &p.status,
		"open": &p.open, "assigned": &p.assigned,
		"folder-counts": &p.folderCounts, "folder-reads": &p.folderReads, "folder-end": &p.folderEnd,
		"mailboxes": &p.mailboxes,
	}
	for name, text := range texts {
		dst, ok := pieces[name]
		if !ok {
			return listPieces{}, fmt.Errorf("queries/conversationlist.sql: piece %q is not used", name)
		}
		*dst = text
		delete(pieces, name)
	}
	for name := range pieces {
		return listPieces{}, fmt.Errorf("queries/conversationlist.sql: no piece %q for %s", name, dialect)
	}
	return p, nil
}

// listQuery is a query composed of pieces, with its parameters.
type listQuery struct {
	pieces []string
	args   []any
}

func (q *listQuery) add(piece string, args ...any) {
	q.pieces = append(q.pieces, piece)
	q.args = append(q.args, args...)
}

// sel runs the query; on PostgreSQL pgx prepares it once per connection.
func (q *listQuery) sel(ctx context.Context, s *Store, dest any) error {
	return s.db.SelectContext(ctx, dest, s.db.Rebind(strings.Join(q.pieces, "\n")), q.args...)
}

// filter adds the conditions of the viewer and of every filter but the
// status and the search's words.
func (p *listPieces) filter(q *listQuery, v helpdesk.Viewer, f helpdesk.ConversationFilter) {
	if !v.Admin {
		q.add(p.agent, v.UserID)
	}
	if f.MailboxID != 0 {
		q.add(p.mailbox, f.MailboxID)
	}
	if f.Unassigned {
		q.add(p.unassigned)
	} else if f.AssigneeID != 0 {
		q.add(p.assignee, f.AssigneeID)
	}
	if f.Tag != "" {
		q.add(p.tag, f.Tag)
	}
	if f.Search != nil && f.Search.Mailbox != "" {
		q.add(p.mailboxNamed, f.Search.Mailbox, f.Search.Mailbox)
	}
	p.folder(q, v, f.Folder)
}

// folder adds the conditions of a folder (helpdesk.Folders).
func (p *listPieces) folder(q *listQuery, v helpdesk.Viewer, folder string) {
	switch folder {
	case helpdesk.FolderMine:
		q.add(p.open)
		q.add(p.assignee, v.UserID)
	case helpdesk.FolderUnassigned:
		q.add(p.open)
		q.add(p.unassigned)
	case helpdesk.FolderAssigned:
		q.add(p.open)
		q.add(p.assigned)
	case helpdesk.FolderClosed, helpdesk.FolderSpam:
		q.add(p.status, folder)
	}
}

// order is the page's order: the chosen one, else best match in a
// search and newest message otherwise.
func (p *listPieces) order(sort string, searching bool) string {
	switch {
	case sort == helpdesk.SortCreated:
		return p.orderCreated
	case sort == helpdesk.SortWaiting:
		return p.orderWaiting
	case sort == "" && searching:
		return p.orderRank
	}
	return p.orderLast
}

// Conversations lists the viewer's conversations matching f in the
// order f.Sort, each marked unread or not for the viewer.
func (s *Store) Conversations(ctx context.Context, v helpdesk.Viewer, f helpdesk.ConversationFilter) (*helpdesk.ConversationList, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	p := s.list
	match := s.dialect.searchMatch(f.Search)
	var count listQuery
	if match != "" {
		count.add(p.countSearching)
		count.add(p.search, match)
	} else {
		count.add(p.count)
	}
	p.filter(&count, v, f)
	count.add(p.countEnd)
	var counts []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := count.sel(ctx, s, &counts); err != nil {
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
		list.Counts[c.Status] += c.N
		if f.Status == "" || f.Status == c.Status {
			list.Total += c.N
		}
	}
	if list.Total == 0 || (f.Page-1)*f.PerPage >= list.Total {
		return list, nil
	}

	var page listQuery
	if match != "" {
		page.add(p.pageSearching, match)
	} else {
		page.add(p.page)
	}
	p.filter(&page, v, f)
	if f.Status != "" {
		page.add(p.status, f.Status)
	}
	page.add(p.order(f.Sort, match != ""))
	page.add(p.limit, f.PerPage, (f.Page-1)*f.PerPage)
	if err := page.sel(ctx, s, &list.Conversations); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	if match != "" {
		highlight(list.Conversations, f.Search)
	}
	if err := s.attachTags(ctx, list.Conversations); err != nil {
		return nil, err
	}
	if err := s.markUnread(ctx, v, list.Conversations); err != nil {
		return nil, err
	}
	return list, nil
}
