package store

import "github.com/jmoiron/sqlx"

// userQueries are the queries of queries/users.sql (queries.go): users,
// their mailboxes, sessions and API tokens.
type userQueries struct {
	CreateUser         *sqlx.Stmt `query:"create-user"`
	User               *sqlx.Stmt `query:"user"`
	UserByEmail        *sqlx.Stmt `query:"user-by-email"`
	Users              *sqlx.Stmt `query:"users"`
	UserWithPassword   *sqlx.Stmt `query:"user-with-password"`
	UserMailboxIDs     *sqlx.Stmt `query:"user-mailbox-ids"`
	ClearUserMailboxes *sqlx.Stmt `query:"clear-user-mailboxes"`
	AddUserMailbox     *sqlx.Stmt `query:"add-user-mailbox"`

	CreateSession         *sqlx.Stmt `query:"create-session"`
	SessionByToken        *sqlx.Stmt `query:"session-by-token"`
	DeleteSession         *sqlx.Stmt `query:"delete-session"`
	DeleteExpiredSessions *sqlx.Stmt `query:"delete-expired-sessions"`

	DeleteOtherSessions *sqlx.Stmt `query:"delete-other-sessions"`

	// The lifecycle of an account (userlifecycle.go).
	PasswordHash              *sqlx.Stmt `query:"password-hash"`
	SetPassword               *sqlx.Stmt `query:"set-password"`
	SetRole                   *sqlx.Stmt `query:"set-role"`
	SetTimeZone               *sqlx.Stmt `query:"set-time-zone"`
	DisableUser               *sqlx.Stmt `query:"disable-user"`
	EnableUser                *sqlx.Stmt `query:"enable-user"`
	DeleteUser                *sqlx.Stmt `query:"delete-user"`
	ActiveAdmins              *sqlx.Stmt `query:"active-admins"`
	OpenAssignedConversations *sqlx.Stmt `query:"open-assigned-conversations"`
	DeleteUserTokens          *sqlx.Stmt `query:"delete-user-tokens"`

	CreateAPIToken *sqlx.Stmt `query:"create-api-token"`
	UserByAPIToken *sqlx.Stmt `query:"user-by-api-token"`
	TouchAPIToken  *sqlx.Stmt `query:"touch-api-token"`
	APITokens      *sqlx.Stmt `query:"api-tokens"`
	RevokeAPIToken *sqlx.Stmt `query:"revoke-api-token"`
}
