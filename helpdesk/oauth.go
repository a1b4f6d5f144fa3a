package helpdesk

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

// ErrNeedsReconnect: the OAuth2 provider no longer accepts the mailbox's
// refresh token (consent revoked, password changed, token expired). No
// token requests are made until an admin connects the mailbox again.
var ErrNeedsReconnect = errors.New("the mailbox must be reconnected: its OAuth2 sign-in was revoked or expired; " +
	"an admin must connect it again (admin page of the mailbox, Connect)")

// Mailbox sign-in methods (Mailbox.IMAPAuth).
const (
	AuthPassword = "password"
	AuthOAuth2   = "oauth2"
)

// MailboxOAuth is how an OAuth2 mailbox signs in to IMAP and SMTP. The
// secrets stay encrypted here; store.OAuthCredentials decrypts them for
// the token refresher alone.
type MailboxOAuth struct {
	Provider        string    `db:"provider" json:"provider"` // google, microsoft, generic
	AuthURL         string    `db:"auth_url" json:"auth_url"`
	TokenURL        string    `db:"token_url" json:"token_url"`
	Scopes          string    `db:"scopes" json:"scopes"` // space-separated
	ClientID        string    `db:"client_id" json:"client_id"`
	ClientSecretEnc string    `db:"client_secret_enc" json:"-"`
	RefreshTokenEnc string    `db:"refresh_token_enc" json:"-"`
	TokenVersion    int64     `db:"token_version" json:"-"`
	Account         string    `db:"account" json:"account"` // who consented, when the provider said
	NeedsReconnect  bool      `db:"needs_reconnect" json:"needs_reconnect"`
	ReconnectReason string    `db:"reconnect_reason" json:"reconnect_reason,omitempty"`
	UpdatedAt       time.Time `db:"updated_at" json:"updated_at"`
}

// OAuthCredentials are a mailbox's decrypted OAuth2 client and refresh
// token, with the version the refresh token was stored under.
type OAuthCredentials struct {
	MailboxID      int64
	TokenURL       string
	ClientID       string
	ClientSecret   string
	Scopes         []string
	RefreshToken   string
	Version        int64
	NeedsReconnect bool
}

// OAuthProvider is a provider preset: where to ask for consent and
// tokens, which scopes give IMAP and SMTP access (with a refresh token),
// and the provider's own mail servers.
type OAuthProvider struct {
	Name     string
	Title    string
	AuthURL  string
	TokenURL string
	Scopes   []string
	// AuthParams are extra authorization request parameters for a
	// refresh token (Google gives one only with offline access and consent).
	AuthParams map[string]string
	IMAPHost   string
	SMTPURL    string // without the user: smtp://host:port
}

// OAuthProviders are the presets; "generic" takes URLs and scopes from the mailbox.
var OAuthProviders = map[string]OAuthProvider{
	"google": {
		Name: "google", Title: "Google",
		AuthURL:    "https://accounts.google.com/o/oauth2/auth",
		TokenURL:   "https://oauth2.googleapis.com/token",
		Scopes:     []string{"https://mail.google.com/", "openid", "email"},
		AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"},
		IMAPHost:   "imap.gmail.com",
		SMTPURL:    "smtp://smtp.gmail.com:587",
	},
	"microsoft": {
		Name: "microsoft", Title: "Microsoft",
		AuthURL:  "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
		TokenURL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send",
			"offline_access", "openid", "email"},
		AuthParams: map[string]string{"prompt": "select_account"},
		IMAPHost:   "outlook.office365.com",
		SMTPURL:    "smtp://smtp.office365.com:587",
	},
	"generic": {Name: "generic", Title: "generic OAuth2 provider"},
}

// OAuthInput is the OAuth2 part of a MailboxInput. Empty URLs and scopes
// of a preset provider are the preset's; a generic provider needs a token
// URL. An empty RefreshToken leaves the mailbox waiting for an admin to
// connect it.
type OAuthInput struct {
	Provider     string
	AuthURL      string
	TokenURL     string
	Scopes       string
	ClientID     string
	ClientSecret string
	RefreshToken string
	Account      string
}

// Validate fills preset values in and reports problems into bad.
func (in *OAuthInput) Validate(bad map[string]string) {
	in.Provider = strings.ToLower(strings.TrimSpace(in.Provider))
	if in.Provider == "" {
		in.Provider = "generic"
	}
	p, ok := OAuthProviders[in.Provider]
	if !ok {
		bad["oauth_provider"] = "must be google, microsoft or generic"
		return
	}
	if in.AuthURL == "" {
		in.AuthURL = p.AuthURL
	}
	if in.TokenURL == "" {
		in.TokenURL = p.TokenURL
	}
	if in.Scopes == "" {
		in.Scopes = strings.Join(p.Scopes, " ")
	}
	if !isHTTPURL(in.TokenURL) {
		bad["oauth_token_url"] = "required for a generic provider: the provider's token endpoint, an http(s) URL"
	}
	if in.AuthURL != "" && !isHTTPURL(in.AuthURL) {
		bad["oauth_auth_url"] = "must be an http(s) URL"
	}
	in.ClientID = strings.TrimSpace(in.ClientID)
	if in.ClientID == "" || len(in.ClientID) > 500 {
		bad["oauth_client_id"] = "required"
	}
	if strings.ContainsAny(in.RefreshToken+in.ClientSecret, "\r\n") {
		bad["oauth_refresh_token"] = "must not contain line breaks"
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
