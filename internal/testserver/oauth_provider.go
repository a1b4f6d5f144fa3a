package testserver

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// OAuthProvider is an OAuth2 provider for tests, in process (an
// httptest server): the token endpoint (refresh_token and
// authorization_code grants, PKCE S256 checked), an authorization
// endpoint that consents at once and redirects back with a code, and RFC
// 7662 introspection for Dovecot (StartDovecotOAuth2). Hooks expire
// access tokens and revoke consent; counters tell what clients asked.
type OAuthProvider struct {
	srv          *httptest.Server
	ClientID     string
	ClientSecret string

	mu        sync.Mutex
	lifetime  time.Duration
	rotate    bool
	refresh   map[string]string      // live refresh token -> account
	access    map[string]accessGrant // issued access token -> grant
	codes     map[string]authCode
	consent   string         // account the authorization endpoint consents as
	requests  map[string]int // grant type -> token requests
	inFlight  int            // refresh requests being answered now
	maxFlight int
}

type accessGrant struct {
	account string
	expires time.Time
}

type authCode struct {
	account, challenge, redirectURI string
}

// StartOAuthProvider starts a provider with one client; access tokens live
// an hour until SetLifetime.
func StartOAuthProvider(t testing.TB) *OAuthProvider {
	t.Helper()
	p := &OAuthProvider{
		ClientID: "helpdesk-test-client", ClientSecret: "client-secret-" + secret.NewToken()[:8],
		lifetime: time.Hour, refresh: map[string]string{}, access: map[string]accessGrant{},
		codes: map[string]authCode{}, requests: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /introspect", p.introspect)
	mux.HandleFunc("GET /authorize", p.authorize)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TokenURL, IntrospectURL and AuthURL are the endpoints.
func (p *OAuthProvider) TokenURL() string      { return p.srv.URL + "/token" }
func (p *OAuthProvider) IntrospectURL() string { return p.srv.URL + "/introspect" }
func (p *OAuthProvider) AuthURL() string       { return p.srv.URL + "/authorize" }

// Grant gives a refresh token for account, as a consent would.
func (p *OAuthProvider) Grant(account string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newRefresh(account)
}

func (p *OAuthProvider) newRefresh(account string) string {
	tok := "refresh-" + secret.NewToken()
	p.refresh[tok] = account
	return tok
}

// SetLifetime sets expires_in of access tokens issued from now on.
func (p *OAuthProvider) SetLifetime(d time.Duration) {
	p.mu.Lock()
	p.lifetime = d
	p.mu.Unlock()
}

// RotateRefreshTokens makes every refresh answer with a new refresh token
// and forget the one used (a second use of it is invalid_grant), as
// Microsoft's and many other providers do.
func (p *OAuthProvider) RotateRefreshTokens() {
	p.mu.Lock()
	p.rotate = true
	p.mu.Unlock()
}

// ExpireAccessTokens makes every access token issued so far dead:
// introspection reports it inactive, although its expires_in has not
// passed.
func (p *OAuthProvider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tok, g := range p.access {
		g.expires = time.Now().Add(-time.Second)
		p.access[tok] = g
	}
}

// Revoke withdraws account's consent: its refresh tokens give
// invalid_grant and its access tokens are dead.
func (p *OAuthProvider) Revoke(account string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tok, a := range p.refresh {
		if a == account {
			delete(p.refresh, tok)
		}
	}
	for tok, g := range p.access {
		if g.account == account {
			delete(p.access, tok)
		}
	}
}

// ValidAccessToken reports whether tok is a live access token of account
// (what a mail server's introspection learns).
func (p *OAuthProvider) ValidAccessToken(account, tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.access[tok]
	return ok && g.account == account && time.Now().Before(g.expires)
}

// LiveRefreshToken reports whether tok is a refresh token the provider accepts.
func (p *OAuthProvider) LiveRefreshToken(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.refresh[tok]
	return ok
}

// TokenRequests counts token requests of a grant type
// ("refresh_token", "authorization_code").
func (p *OAuthProvider) TokenRequests(grant string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[grant]
}

// MaxConcurrentRefreshes is the most refresh requests answered at once.
func (p *OAuthProvider) MaxConcurrentRefreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxFlight
}

// ConsentAs makes the authorization endpoint consent as account.
func (p *OAuthProvider) ConsentAs(account string) {
	p.mu.Lock()
	p.consent = account
	p.mu.Unlock()
}

func (p *OAuthProvider) token(w http.ResponseWriter, r *http.Request) {
	grant := r.PostFormValue("grant_type")
	p.mu.Lock()
	p.requests[grant]++
	p.mu.Unlock()
	if r.PostFormValue("client_id") != p.ClientID || r.PostFormValue("client_secret") != p.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch grant {
	case "refresh_token":
		p.refreshGrant(w, r.PostFormValue("refresh_token"))
	case "authorization_code":
		p.codeGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func (p *OAuthProvider) refreshGrant(w http.ResponseWriter, used string) {
	p.mu.Lock()
	p.inFlight++
	p.maxFlight = max(p.maxFlight, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	account, ok := p.refresh[used]
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	newRefresh := ""
	if p.rotate {
		delete(p.refresh, used)
		newRefresh = p.newRefresh(account)
	}
	p.issue(w, account, newRefresh)
}

func (p *OAuthProvider) codeGrant(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	code, ok := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || code.redirectURI != r.PostFormValue("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.issue(w, code.account, p.newRefresh(code.account))
}

// issue answers with a new access token (and refreshToken unless empty);
// the caller holds p.mu.
func (p *OAuthProvider) issue(w http.ResponseWriter, account, refreshToken string) {
	access := "access-" + secret.NewToken()
	p.access[access] = accessGrant{account: account, expires: time.Now().Add(p.lifetime)}
	body := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(p.lifetime.Seconds()),
		"id_token": unsignedIDToken(account)}
	if refreshToken != "" {
		body["refresh_token"] = refreshToken
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// unsignedIDToken is an OpenID Connect ID token naming the account (the
// helpdesk reads its email claim; it came straight from the token endpoint).
func unsignedIDToken(account string) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"email": account, "sub": account})
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(claims) + "."
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "test provider: " + code})
}

func (p *OAuthProvider) introspect(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	g, ok := p.access[r.PostFormValue("token")]
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok || time.Now().After(g.expires) {
		json.NewEncoder(w).Encode(map[string]any{"active": false})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": g.account, "exp": g.expires.Unix()})
}

// authorize consents at once as ConsentAs's account and redirects back
// with a code bound to the PKCE challenge and the redirect URI.
func (p *OAuthProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	account := p.consent
	p.mu.Unlock()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || account == "" {
		http.Error(w, "test provider: bad authorization request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Scheme == "" {
		http.Error(w, "test provider: bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := "code-" + secret.NewToken()
	p.mu.Lock()
	p.codes[code] = authCode{account: account, challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	p.mu.Unlock()
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}
