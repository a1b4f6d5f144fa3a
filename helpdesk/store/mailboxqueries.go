package store

import "github.com/jmoiron/sqlx"

// mailboxQueries are the queries of queries/mailboxes.sql (queries.go).
type mailboxQueries struct {
	CreateMailbox       *sqlx.Stmt `query:"create-mailbox"`
	CreateMailboxFence  *sqlx.Stmt `query:"create-mailbox-fence"`
	UpdateMailbox       *sqlx.Stmt `query:"update-mailbox"`
	BumpVersion         *sqlx.Stmt `query:"bump-mailboxes-version"`
	SetMailboxEnabled   *sqlx.Stmt `query:"set-mailbox-enabled"`
	ClearMailboxFolders *sqlx.Stmt `query:"clear-mailbox-folders"`
	AddMailboxFolder    *sqlx.Stmt `query:"add-mailbox-folder"`
	Mailbox             *sqlx.Stmt `query:"mailbox"`
	MailboxFolders      *sqlx.Stmt `query:"mailbox-folders"`
	Mailboxes           *sqlx.Stmt `query:"mailboxes"`
	AllMailboxFolders   *sqlx.Stmt `query:"all-mailbox-folders"`
	SetMailboxSignature *sqlx.Stmt `query:"set-mailbox-signature"`
	ReplySignature      *sqlx.Stmt `query:"reply-signature"`
}
