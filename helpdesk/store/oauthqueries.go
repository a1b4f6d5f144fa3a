package store

import "github.com/jmoiron/sqlx"

// oauthQueries are the queries of queries/oauth.sql (queries.go).
type oauthQueries struct {
	InsertMailboxOAuth  *sqlx.Stmt `query:"insert-mailbox-oauth"`
	MailboxOAuth        *sqlx.Stmt `query:"mailbox-oauth"`
	AllMailboxOAuth     *sqlx.Stmt `query:"all-mailbox-oauth"`
	SaveRefreshToken    *sqlx.Stmt `query:"save-refresh-token"`
	MarkNeedsReconnect  *sqlx.Stmt `query:"mark-needs-reconnect"`
	ConnectMailboxOAuth *sqlx.Stmt `query:"connect-mailbox-oauth"`
	NeedsReconnect      *sqlx.Stmt `query:"oauth-needs-reconnect"`
	ClaimTokenRefresh   *sqlx.Stmt `query:"claim-token-refresh"`
	ReleaseTokenRefresh *sqlx.Stmt `query:"release-token-refresh"`
}
