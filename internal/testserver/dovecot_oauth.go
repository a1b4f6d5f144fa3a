package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DovecotOAuth2Options configure a Dovecot that accepts OAuth2 bearer
// tokens (SASL XOAUTH2 and OAUTHBEARER), checked by RFC 7662 token
// introspection at IntrospectURL (OAuthProvider.IntrospectURL).
type DovecotOAuth2Options struct {
	IntrospectURL string
	// Mechanisms offered for tokens: "xoauth2", "oauthbearer" or both
	// (default both). Password logins (PLAIN, LOGIN) stay on for the
	// test's own appends.
	Mechanisms []string
}

// StartDovecotOAuth2 starts a Dovecot without TLS whose users log in with
// OAuth2 access tokens as well as with their passwords (AddUser). The
// token's owner must be the user logging in.
func StartDovecotOAuth2(t testing.TB, opts DovecotOAuth2Options) *Dovecot {
	t.Helper()
	if len(opts.Mechanisms) == 0 {
		opts.Mechanisms = []string{"xoauth2", "oauthbearer"}
	}
	ext, err := os.CreateTemp("", "dovecot-oauth2-*.conf.ext")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() { os.Remove(ext.Name()) })
	_, err = fmt.Fprintf(ext, "introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\n"+
		"active_attribute = active\nactive_value = true\n", opts.IntrospectURL)
	if err == nil {
		err = ext.Chmod(0o644)
	}
	if cerr := ext.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	mechs := strings.Join(opts.Mechanisms, " ")
	authConf := fmt.Sprintf(`auth_mechanisms = plain login %[1]s
passdb {
  driver = oauth2
  mechanisms = %[1]s
  args = %[2]s
}
`, mechs, filepath.Clean(ext.Name()))
	return startDovecotAuth(t, false, authConf, "")
}
