package web

import (
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
)

// role is who may call a route.
type role int

const (
	rolePublic  role = iota // anyone, signed in or not
	roleAnyUser             // any signed-in user: agent or admin
	roleAdmin               // admins only
)

func (r role) String() string {
	return [...]string{"public", "any user", "admin"}[r]
}

// kind says how a route authenticates and answers errors.
type kind int

const (
	kindPage kind = iota // HTML; session cookie; CSRF token on every state change
	kindAPI              // JSON under /api/v1; Authorization: Bearer TOKEN
	kindOps              // plain text/JSON for machines: health, readiness, metrics, static files
)

func (k kind) String() string {
	return [...]string{"page", "api", "ops"}[k]
}

// route is one row of the route table.
type route struct {
	method  string
	path    string // echo syntax: /admin/mailboxes/:id
	handler echo.HandlerFunc
	role    role
	kind    kind
}

// routes is THE route table: every path the server answers is here, with
// who may call it. The authorization test walks this table, so a route
// added here is tested for anonymous, agent and admin callers at once.
//
// The agent workspace (conversations) adds its rows here, and its pages in
// templates/conversation*.html on layout.html.
func (s *Server) routes() []route {
	return []route{
		// Operations.
		// HEAD too: load balancers probe with it.
		{http.MethodGet, "/healthz", s.healthz, rolePublic, kindOps},
		{http.MethodHead, "/healthz", s.healthz, rolePublic, kindOps},
		{http.MethodGet, "/readyz", s.readyz, rolePublic, kindOps},
		{http.MethodHead, "/readyz", s.readyz, rolePublic, kindOps},
		{http.MethodGet, "/metrics", s.metricsHandler, rolePublic, kindOps},
		{http.MethodGet, "/static/*", s.static, rolePublic, kindOps},

		// Signing in and out.
		{http.MethodGet, "/login", s.loginForm, rolePublic, kindPage},
		{http.MethodPost, "/login", s.login, rolePublic, kindPage},
		{http.MethodPost, "/logout", s.logout, roleAnyUser, kindPage},

		// Agent workspace (web/conversations.go, web/conversation_merge.go,
		// web/customers.go, web/attachments.go, web/composer.go, web/composer_mail.go).
		{http.MethodGet, "/", s.conversationsPage, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/bulk", s.conversationsBulk, roleAnyUser, kindPage},
		{http.MethodGet, "/conversations/:id", s.conversationPage, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/replies", s.conversationReply, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/notes", s.conversationNote, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/update", s.conversationUpdate, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/tags", s.conversationTagAdd, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/tags/delete", s.conversationTagRemove, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/replies/:thread/retry", s.conversationReplyRetry, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/merge", s.conversationMerge, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/unread", s.conversationMarkUnread, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/forward", s.conversationForward, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/draft", s.conversationDraft, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/saved-reply", s.conversationSavedReply, roleAnyUser, kindPage},
		{http.MethodGet, "/customers/:id", s.customerPage, roleAnyUser, kindPage},
		{http.MethodGet, "/attachments/:id", s.attachmentDownload, roleAnyUser, kindPage},
		{http.MethodGet, "/threads/:id/inline", s.attachmentInline, roleAnyUser, kindPage},
		{http.MethodGet, "/threads/:id/html", s.threadHTMLDownload, roleAnyUser, kindPage},

		// One's own account and API tokens (web/account.go, web/account_tokens.go).
		{http.MethodGet, "/account", s.accountPage, roleAnyUser, kindPage},
		{http.MethodPost, "/account/password", s.accountPassword, roleAnyUser, kindPage},
		{http.MethodPost, "/account/time-zone", s.accountTimeZone, roleAnyUser, kindPage},
		{http.MethodGet, "/account/tokens", s.accountTokens, roleAnyUser, kindPage},
		{http.MethodPost, "/account/tokens", s.accountTokenCreate, roleAnyUser, kindPage},
		{http.MethodPost, "/account/tokens/:id/revoke", s.accountTokenRevoke, roleAnyUser, kindPage},

		// Live pages (web/events.go, web/presence.go).
		{http.MethodGet, "/events", s.eventStream, roleAnyUser, kindPage},
		{http.MethodPost, "/conversations/:id/presence", s.conversationPresence, roleAnyUser, kindPage},

		// Admin pages.
		{http.MethodGet, "/admin/status", s.adminStatus, roleAdmin, kindPage},
		{http.MethodGet, "/admin/mailboxes", s.adminMailboxes, roleAdmin, kindPage},
		{http.MethodGet, "/admin/mailboxes/new", s.adminMailboxNew, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes", s.adminMailboxCreate, roleAdmin, kindPage},
		{http.MethodGet, "/admin/mailboxes/:id", s.adminMailbox, roleAdmin, kindPage},
		{http.MethodGet, "/admin/mailboxes/:id/edit", s.adminMailboxEdit, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes/:id", s.adminMailboxUpdate, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes/:id/enabled", s.adminMailboxEnabled, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes/:id/fetch", s.adminMailboxFetch, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes/:id/test", s.adminMailboxTest, roleAdmin, kindPage},
		{http.MethodPost, "/admin/mailboxes/:id/connect", s.adminOAuthConnect, roleAdmin, kindPage},
		{http.MethodGet, oauthCallbackPath, s.adminOAuthCallback, roleAdmin, kindPage},
		{http.MethodPost, "/admin/quarantine/:id/retry", s.adminQuarantineRetry, roleAdmin, kindPage},
		{http.MethodPost, "/admin/outbox/:id/retry", s.adminOutboxRetry, roleAdmin, kindPage},
		{http.MethodGet, "/admin/caught", s.adminCaught, roleAdmin, kindPage},
		{http.MethodGet, "/admin/caught/:id", s.adminCaughtMail, roleAdmin, kindPage},
		{http.MethodGet, "/admin/saved-replies", s.adminSavedReplies, roleAdmin, kindPage},
		{http.MethodPost, "/admin/saved-replies", s.adminSavedReplyCreate, roleAdmin, kindPage},
		{http.MethodGet, "/admin/saved-replies/:id", s.adminSavedReply, roleAdmin, kindPage},
		{http.MethodPost, "/admin/saved-replies/:id", s.adminSavedReplyUpdate, roleAdmin, kindPage},
		{http.MethodPost, "/admin/saved-replies/:id/delete", s.adminSavedReplyDelete, roleAdmin, kindPage},
		{http.MethodGet, "/admin/users", s.adminUsers, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users", s.adminUserCreate, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users/:id/mailboxes", s.adminUserMailboxes, roleAdmin, kindPage},
		{http.MethodGet, "/admin/users/:id", s.adminUser, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users/:id/role", s.adminUserRole, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users/:id/disabled", s.adminUserDisabled, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users/:id/password", s.adminUserPassword, roleAdmin, kindPage},
		{http.MethodPost, "/admin/users/:id/delete", s.adminUserDelete, roleAdmin, kindPage},

		// JSON API.
		{http.MethodGet, "/api/v1/mailboxes", s.apiMailboxes, roleAdmin, kindAPI},
		{http.MethodGet, "/api/v1/mailboxes/:id/status", s.apiMailboxStatus, roleAdmin, kindAPI},
		{http.MethodPost, "/api/v1/mailboxes/:id/fetch", s.apiMailboxFetch, roleAdmin, kindAPI},
		{http.MethodGet, "/api/v1/outbox", s.apiOutbox, roleAdmin, kindAPI},
		{http.MethodGet, "/api/v1/conversations", s.apiConversations, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/bulk", s.apiBulk, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/conversations/:id", s.apiConversation, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/folders", s.apiFolders, roleAnyUser, kindAPI},
		{http.MethodPatch, "/api/v1/conversations/:id", s.apiPatchConversation, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/replies", s.apiReply, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/replies/:thread/retry", s.apiReplyRetry, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/notes", s.apiNote, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/forward", s.apiForward, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/tags/:name", s.apiTagAdd, roleAnyUser, kindAPI},
		{http.MethodDelete, "/api/v1/conversations/:id/tags/:name", s.apiTagRemove, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/merge", s.apiMerge, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/conversations/:id/read", s.apiMarkRead, roleAnyUser, kindAPI},
		{http.MethodDelete, "/api/v1/conversations/:id/read", s.apiMarkUnread, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/customers/:id", s.apiCustomer, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/attachments/:id", s.attachmentDownload, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/saved-replies", s.apiSavedReplies, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/saved-replies/:id", s.apiSavedReply, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/saved-replies", s.apiSavedReplyCreate, roleAdmin, kindAPI},
		{http.MethodPut, "/api/v1/saved-replies/:id", s.apiSavedReplyUpdate, roleAdmin, kindAPI},
		{http.MethodDelete, "/api/v1/saved-replies/:id", s.apiSavedReplyDelete, roleAdmin, kindAPI},
		{http.MethodGet, "/api/v1/tokens", s.apiTokens, roleAnyUser, kindAPI},
		{http.MethodPost, "/api/v1/tokens", s.apiTokenCreate, roleAnyUser, kindAPI},
		{http.MethodDelete, "/api/v1/tokens/:id", s.apiTokenRevoke, roleAnyUser, kindAPI},
		{http.MethodGet, "/api/v1/events", s.eventStream, roleAnyUser, kindAPI},
	}
}

// clientAddress takes X-Forwarded-For from the trusted proxies only: the
// client is the address nearest to us in it that is not a trusted proxy.
// echo would trust loopback and private addresses by default; here only
// the configured ones are.
func clientAddress(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, r := range trusted {
		opts = append(opts, echo.TrustIPRange(r))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// buildEcho registers the route table with its middleware.
func (s *Server) buildEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientAddress(s.cfg.TrustedProxies)
	e.Pre(s.recoverPanics)
	e.Use(s.securityHeaders, s.limitBody, s.rejectBadText)
	s.routeTable = s.routes()
	for _, r := range s.routeTable {
		mw := []echo.MiddlewareFunc{s.observe(r)}
		mw = append(mw, s.authenticate(r)...)
		e.Add(r.method, r.path, r.handler, mw...)
	}
	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return e
}
