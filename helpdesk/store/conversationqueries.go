package store

import "github.com/jmoiron/sqlx"

// conversationQueries are the queries of queries/conversations.sql
// (queries.go): one conversation, its changes, replies and notes, tags and
// attachments. The list is composed of pieces (conversationlist.go).
type conversationQueries struct {
	ConversationTags        *sqlx.Stmt `query:"conversation-tags"`
	Conversation            *sqlx.Stmt `query:"conversation"`
	MailboxEmail            *sqlx.Stmt `query:"mailbox-email"`
	ConversationThreads     *sqlx.Stmt `query:"conversation-threads"`
	ConversationAttachments *sqlx.Stmt `query:"conversation-attachments"`
	ThreadHTML              *sqlx.Stmt `query:"thread-html"`
	SanitizedHTML           *sqlx.Stmt `query:"sanitized-html"`
	SaveSanitizedHTML       *sqlx.Stmt `query:"save-sanitized-html"`
	ConversationMailbox     *sqlx.Stmt `query:"conversation-mailbox"`
	ConversationVersions    *sqlx.Stmt `query:"conversation-versions"`
	ReplyDeliveries         *sqlx.Stmt `query:"reply-deliveries"`
	RetryReply              *sqlx.Stmt `query:"retry-reply"`
	CanSeeMailbox           *sqlx.Stmt `query:"can-see-mailbox"`
	AssignConversation      *sqlx.Stmt `query:"assign-conversation"`
	SetConversationStatus   *sqlx.Stmt `query:"set-conversation-status"`
	Assignees               *sqlx.Stmt `query:"assignees"`
	VisibleMailboxes        *sqlx.Stmt `query:"visible-mailboxes"`
	ConversationReads       *sqlx.Stmt `query:"conversation-reads"`
	MarkRead                *sqlx.Stmt `query:"mark-read"`
	MarkReadNow             *sqlx.Stmt `query:"mark-read-now"`
	MarkUnread              *sqlx.Stmt `query:"mark-unread"`
	Unread                  *sqlx.Stmt `query:"unread"`

	ReplyContext           *sqlx.Stmt `query:"reply-context"`
	OwnAddresses           *sqlx.Stmt `query:"own-addresses"`
	Author                 *sqlx.Stmt `query:"author"`
	ConversationMessageIDs *sqlx.Stmt `query:"conversation-message-ids"`
	InsertReply            *sqlx.Stmt `query:"insert-reply"`
	SetThreadMessageID     *sqlx.Stmt `query:"set-thread-message-id"`
	InsertNote             *sqlx.Stmt `query:"insert-note"`
	RecordReply            *sqlx.Stmt `query:"record-reply"`
	RecordNote             *sqlx.Stmt `query:"record-note"`
	RecordTags             *sqlx.Stmt `query:"record-tags"`

	InsertTag         *sqlx.Stmt `query:"insert-tag"`
	TagID             *sqlx.Stmt `query:"tag-id"`
	TagConversation   *sqlx.Stmt `query:"tag-conversation"`
	UntagConversation *sqlx.Stmt `query:"untag-conversation"`
	Tags              *sqlx.Stmt `query:"tags"`

	MergeThreads      *sqlx.Stmt `query:"merge-threads"`
	MergeParticipants *sqlx.Stmt `query:"merge-participants"`
	DropParticipants  *sqlx.Stmt `query:"drop-participants"`
	MergeTags         *sqlx.Stmt `query:"merge-tags"`
	DropTags          *sqlx.Stmt `query:"drop-tags"`
	RecordMergeInto   *sqlx.Stmt `query:"record-merge-into"`
	RecordMergeUnread *sqlx.Stmt `query:"record-merge-unread"`
	RecordMerged      *sqlx.Stmt `query:"record-merged"`
	RepointMerged     *sqlx.Stmt `query:"repoint-merged"`

	Customer              *sqlx.Stmt `query:"customer"`
	CustomerConversations *sqlx.Stmt `query:"customer-conversations"`
	CustomerNames         *sqlx.Stmt `query:"customer-names"`

	Attachment       *sqlx.Stmt `query:"attachment"`
	InlineAttachment *sqlx.Stmt `query:"inline-attachment"`
}
