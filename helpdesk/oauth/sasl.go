package oauth

import (
	"errors"
	"fmt"

	"github.com/emersion/go-sasl"
)

// SASL mechanisms for bearer tokens.
const (
	XOAuth2     = "XOAUTH2"
	OAuthBearer = sasl.OAuthBearer
)

// RejectedError is the server's refusal of an access token during SASL:
// the token expired or was revoked before its expires_in, or belongs to
// another user. The server's challenge (a JSON error) is kept for the
// message. After it the connection is still inside AUTHENTICATE: close it.
type RejectedError struct {
	Mechanism string
	Challenge string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("server rejected the access token (%s): %s", e.Mechanism, e.Challenge)
}

// IsRejected reports whether err is a server's refusal of an access token.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// NewSASLClient returns a client of mechanism (XOAuth2 or OAuthBearer)
// that signs user in with an access token. A challenge from the server
// means the token was refused: Next returns a *RejectedError.
func NewSASLClient(mechanism, user, token string) sasl.Client {
	if mechanism == OAuthBearer {
		return &rejecting{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token}), mech: mechanism}
	}
	return &rejecting{Client: xoauth2Client{user: user, token: token}, mech: XOAuth2}
}

// rejecting turns any challenge into a RejectedError.
type rejecting struct {
	sasl.Client
	mech string
}

func (r *rejecting) Next(challenge []byte) ([]byte, error) {
	return nil, &RejectedError{Mechanism: r.mech, Challenge: string(challenge)}
}

// xoauth2Client is Google's XOAUTH2 (also Microsoft's): one initial
// response; go-sasl has no client for it.
type xoauth2Client struct{ user, token string }

func (c xoauth2Client) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c xoauth2Client) Next([]byte) ([]byte, error) {
	return nil, errors.New("XOAUTH2: unexpected challenge")
}
