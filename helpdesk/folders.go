package helpdesk

import (
	"fmt"
	"slices"
	"strings"
)

// Folders of the conversation list, per mailbox. Mine, Unassigned and
// Assigned hold the open conversations (active or pending); spam is in
// Spam only.
const (
	FolderMine       = "mine"
	FolderUnassigned = "unassigned"
	FolderAssigned   = "assigned" // to anyone
	FolderClosed     = "closed"
	FolderSpam       = "spam"
)

// Folders lists every folder, in the order the sidebar shows them.
var Folders = []string{FolderMine, FolderUnassigned, FolderAssigned, FolderClosed, FolderSpam}

// Orders of the conversation list.
const (
	SortLastMessage = "last"    // newest message first (the default)
	SortCreated     = "created" // newest conversation first
	SortWaiting     = "waiting" // the oldest unanswered customer message first
)

// Sorts lists every order of the list.
var Sorts = []string{SortLastMessage, SortCreated, SortWaiting}

// FolderCount is one folder of a mailbox: its conversations and how many
// of them the viewer has not read since the customer last wrote.
type FolderCount struct {
	Folder string `json:"folder"`
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
}

// MailboxFolders are the folders of one mailbox the viewer may see, in
// the order of Folders. Mine is part of Assigned.
type MailboxFolders struct {
	MailboxID   int64         `json:"mailbox_id"`
	MailboxName string        `json:"mailbox_name"`
	Folders     []FolderCount `json:"folders"`
}

// validateFolderSort checks the folder and the order of a list filter.
func validateFolderSort(f *ConversationFilter, bad map[string]string) {
	f.Folder = strings.TrimSpace(f.Folder)
	f.Sort = strings.TrimSpace(f.Sort)
	if f.Folder != "" && !slices.Contains(Folders, f.Folder) {
		bad["folder"] = "must be one of " + strings.Join(Folders, ", ")
	}
	if f.Sort != "" && !slices.Contains(Sorts, f.Sort) {
		bad["sort"] = "must be one of " + strings.Join(Sorts, ", ")
	}
}

// Bulk actions on selected conversations of the list.
const (
	BulkAssign = "assign"
	BulkStatus = "status"
	BulkTag    = "tag"
	BulkMerge  = "merge"
	BulkRead   = "read"   // for the viewer only
	BulkUnread = "unread" // for the viewer only
)

// MaxBulk bounds the conversations of one bulk action: a page.
const MaxBulk = MaxPerPage

// BulkChange is one action on several conversations, each applied as its
// own change (versions, events) as if done on its page.
type BulkChange struct {
	Action     string
	IDs        []int64
	Seen       map[int64]int64 // per conversation, the version the list showed; 0: not given
	Status     string          // BulkStatus
	AssigneeID int64           // BulkAssign; 0 unassigns
	Tag        string          // BulkTag
	Into       int64           // BulkMerge: the conversation the others go into
}

// Validate reports every problem of the action itself at once.
func (b *BulkChange) Validate() error {
	bad := map[string]string{}
	switch {
	case len(b.IDs) == 0:
		bad["ids"] = "select at least one conversation"
	case len(b.IDs) > MaxBulk:
		bad["ids"] = fmt.Sprintf("at most %d conversations at once", MaxBulk)
	}
	switch b.Action {
	case BulkAssign:
		if b.AssigneeID < 0 {
			bad["assignee"] = "must be a user id"
		}
	case BulkStatus:
		if !ValidStatus(b.Status) {
			bad["status"] = "must be one of " + strings.Join(Statuses, ", ")
		}
	case BulkTag:
		if _, err := NormalizeTag(b.Tag); err != nil {
			bad["tag"] = "must be a tag of at most " + fmt.Sprint(MaxTagLength) + " characters"
		}
	case BulkMerge:
		if b.Into < 1 {
			bad["into"] = "choose the conversation to merge into"
		}
	case BulkRead, BulkUnread:
	default:
		bad["action"] = "must be one of assign, status, tag, merge, read, unread"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// BulkResult is what became of one conversation of a bulk action; Err is
// nil when its change was made.
type BulkResult struct {
	ID  int64
	Err error
}
