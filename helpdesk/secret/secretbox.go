// Package secret keeps what must not be stored or shown in the clear:
// argon2id password hashes, random tokens and their hashes, and the
// encryption of stored IMAP and SMTP passwords.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Box encrypts stored IMAP and SMTP passwords with a key derived from
// HELPDESK_SECRET_KEY (AES-256-GCM).
type Box struct {
	aead cipher.AEAD
}

const secretPrefix = "v1:"

// NewBox derives the encryption key from the configured secret.
func NewBox(secretKey string) (*Box, error) {
	if len(secretKey) < 16 {
		return nil, errors.New("HELPDESK_SECRET_KEY must be at least 16 characters")
	}
	key := sha256.Sum256([]byte("helpdesk stored secrets\x00" + secretKey))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Encrypt returns an opaque string safe to store.
func (s *Box) Encrypt(plain string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := s.aead.Seal(nonce, nonce, []byte(plain), nil)
	return secretPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt reverses Encrypt; a wrong secret key gives a clear error.
func (s *Box) Decrypt(stored string) (string, error) {
	if stored == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, secretPrefix))
	if err != nil || !strings.HasPrefix(stored, secretPrefix) || len(raw) < s.aead.NonceSize() {
		return "", errors.New("stored secret is malformed")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", fmt.Errorf("cannot decrypt stored secret (was HELPDESK_SECRET_KEY changed?): %w", err)
	}
	return string(plain), nil
}
