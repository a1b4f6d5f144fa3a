package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// "Connect with Google / Microsoft / generic provider" on a mailbox's
// page: the OAuth2 authorization-code flow with PKCE. The state and the
// PKCE verifier travel in a short-lived cookie; the state is bound to the
// admin's session, so a callback started by anyone else is refused. The
// provider redirects back to HELPDESK_PUBLIC_URL + oauthCallbackPath.

// OAuthClient is the helpdesk's registered client at a provider
// (HELPDESK_OAUTH_GOOGLE_CLIENT_ID / _SECRET and the Microsoft pair).
type OAuthClient struct {
	ID     string
	Secret string
}

const (
	oauthCallbackPath = "/admin/oauth/callback"
	oauthCookie       = "hd_oauth_connect"
	oauthCookieTTL    = 10 * time.Minute
)

// oauthPending is what the callback needs from the start of the flow.
type oauthPending struct {
	State    string `json:"state"`
	Verifier string `json:"verifier"`
	Mailbox  int64  `json:"mailbox"`
	Provider string `json:"provider"`
}

// connectOption is a "Connect with ..." button of a mailbox.
type connectOption struct {
	Name, Title string
}

// connectOptions are the providers a mailbox can be connected with: the
// presets with a client configured, and the mailbox's own generic
// provider when it has an authorization endpoint and a client.
func (s *Server) connectOptions(ctx context.Context, m *helpdesk.Mailbox) []connectOption {
	var opts []connectOption
	for _, name := range []string{"google", "microsoft", "generic"} {
		if _, err := s.oauthConfig(ctx, m, name); err == nil {
			opts = append(opts, connectOption{Name: name, Title: helpdesk.OAuthProviders[name].Title})
		}
	}
	return opts
}

// oauthConfig is the client of provider for mailbox m: the configured
// client of a preset, else the mailbox's own stored one.
func (s *Server) oauthConfig(ctx context.Context, m *helpdesk.Mailbox, provider string) (*oauth2.Config, error) {
	p, ok := helpdesk.OAuthProviders[provider]
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	if s.cfg.PublicURL == "" {
		return nil, errors.New("HELPDESK_PUBLIC_URL is not set: the provider would not know where to send the admin back")
	}
	cfg := &oauth2.Config{Scopes: p.Scopes, RedirectURL: strings.TrimSuffix(s.cfg.PublicURL, "/") + oauthCallbackPath,
		Endpoint: oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	if c, ok := s.cfg.OAuthClients[provider]; ok && c.ID != "" {
		cfg.ClientID, cfg.ClientSecret = c.ID, c.Secret
		return cfg, nil
	}
	o := m.OAuth
	if o == nil || o.Provider != provider || o.ClientID == "" || o.AuthURL == "" {
		return nil, fmt.Errorf("no OAuth2 client configured for %s", p.Title)
	}
	creds, err := s.cfg.Store.OAuthCredentials(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	cfg.ClientID, cfg.ClientSecret = o.ClientID, creds.ClientSecret
	cfg.Endpoint.AuthURL, cfg.Endpoint.TokenURL, cfg.Scopes = o.AuthURL, o.TokenURL, strings.Fields(o.Scopes)
	return cfg, nil
}

// adminOAuthConnect starts the flow: a new state and verifier, and off to
// the provider's consent page.
func (s *Server) adminOAuthConnect(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	m, err := s.cfg.Store.Mailbox(c.Request().Context(), id)
	if err != nil {
		return err
	}
	provider := c.FormValue("provider")
	cfg, err := s.oauthConfig(c.Request().Context(), m, provider)
	if err != nil {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"provider": err.Error()}}
	}
	nonce := secret.NewToken()
	pending := oauthPending{State: sessionBoundState(currentSession(c), nonce), Verifier: oauth2.GenerateVerifier(),
		Mailbox: id, Provider: provider}
	value, err := json.Marshal(pending)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: oauthCookie, Value: base64.RawURLEncoding.EncodeToString(value), Path: oauthCallbackPath,
		MaxAge: int(oauthCookieTTL.Seconds()), HttpOnly: true, Secure: s.secureCookies(c), SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pending.Verifier)}
	for k, v := range helpdesk.OAuthProviders[provider].AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if m.IMAPUser != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", m.IMAPUser))
	}
	s.log.Info("web: oauth2 connect started", "mailbox_id", id, "provider", provider, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, cfg.AuthCodeURL(pending.State, opts...))
}

// sessionBoundState is nonce plus a hash of it with the session's own
// secret: only the session that started a flow can finish it.
func sessionBoundState(sess *helpdesk.Session, nonce string) string {
	sum := sha256.Sum256([]byte("oauth2 state\x00" + sess.CSRFToken + "\x00" + nonce))
	return nonce + "." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// adminOAuthCallback finishes the flow: the state must be this session's
// and the cookie's, the code is exchanged with the PKCE verifier, and the
// refresh token is stored and a fetch requested; the mailbox's page says
// which account was connected.
func (s *Server) adminOAuthCallback(c echo.Context) error {
	pending, err := s.takePending(c)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if e := c.QueryParam("error"); e != "" {
		return echo.NewHTTPError(http.StatusBadRequest, "the provider did not grant access: "+helpdesk.OneLine(e+" "+c.QueryParam("error_description"), 300))
	}
	ctx := c.Request().Context()
	m, err := s.cfg.Store.Mailbox(ctx, pending.Mailbox)
	if err != nil {
		return err
	}
	cfg, err := s.oauthConfig(ctx, m, pending.Provider)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	tok, err := cfg.Exchange(ctx, c.QueryParam("code"), oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "the provider's token endpoint refused the code: "+err.Error())
	}
	account := idTokenEmail(tok)
	err = s.cfg.Store.ConnectMailboxOAuth(ctx, m.ID, helpdesk.OAuthInput{Provider: pending.Provider,
		AuthURL: cfg.Endpoint.AuthURL, TokenURL: cfg.Endpoint.TokenURL, Scopes: strings.Join(cfg.Scopes, " "),
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RefreshToken: tok.RefreshToken, Account: account})
	if fields := errorFields(err); fields != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "the provider's answer cannot be used: "+err.Error())
	}
	if err != nil {
		return err
	}
	// Fetch at once what waited on the server, not at the next retry.
	if err := s.cfg.Store.RequestFetch(ctx, m.ID, currentUser(c).Email); err != nil {
		return err
	}
	s.log.Info("web: oauth2 connected", "mailbox_id", m.ID, "provider", pending.Provider, "account", account,
		"user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/admin/mailboxes/"+strconv.FormatInt(m.ID, 10)+"?notice=connected")
}

// takePending reads and clears the flow's cookie and checks the state.
func (s *Server) takePending(c echo.Context) (oauthPending, error) {
	var p oauthPending
	ck, err := c.Cookie(oauthCookie)
	if err != nil {
		return p, errors.New("no connection to the provider was started in this browser (or it took over 10 minutes): start it again")
	}
	c.SetCookie(&http.Cookie{Name: oauthCookie, Path: oauthCallbackPath, MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookies(c), SameSite: http.SameSiteLaxMode})
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || json.Unmarshal(raw, &p) != nil {
		return p, errors.New("the connection's cookie is damaged: start it again")
	}
	nonce, _, _ := strings.Cut(p.State, ".")
	if c.QueryParam("state") != p.State || sessionBoundState(currentSession(c), nonce) != p.State {
		return p, errors.New("the answer does not belong to a connection this session started (state mismatch)")
	}
	return p, nil
}

// idTokenEmail is the email claim of the OpenID Connect ID token that
// came with the tokens, "" without one. The token came straight from the
// provider's token endpoint over the connection the client opened, so
// its signature needs no check (OpenID Connect Core 3.1.3.7).
func idTokenEmail(tok *oauth2.Token) string {
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"` // Microsoft's
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	if claims.Email == "" {
		claims.Email = claims.PreferredUsername
	}
	return helpdesk.OneLine(claims.Email, 320)
}
