package helpdesk

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxSignatureLength bounds a mailbox's signature template (characters).
const MaxSignatureLength = 2000

// The placeholders of a signature template: plain text substitution, so
// an agent's name can never run code or reach another field.
const (
	SignatureAgent   = "{{agent}}"
	SignatureMailbox = "{{mailbox}}"
)

var placeholder = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// ValidateSignature checks a signature template and returns it with
// Unix line ends and without surrounding blank lines.
func ValidateSignature(tmpl string) (string, error) {
	tmpl = strings.Trim(strings.ReplaceAll(tmpl, "\r\n", "\n"), "\n")
	switch {
	case strings.ContainsRune(tmpl, 0) || !utf8.ValidString(tmpl):
		return "", signatureError("must be text without NUL characters")
	case utf8.RuneCountInString(tmpl) > MaxSignatureLength:
		return "", signatureError(fmt.Sprintf("at most %d characters", MaxSignatureLength))
	}
	for _, p := range placeholder.FindAllString(tmpl, -1) {
		if p != SignatureAgent && p != SignatureMailbox {
			return "", signatureError(fmt.Sprintf("unknown placeholder %s: use %s or %s", p, SignatureAgent, SignatureMailbox))
		}
	}
	return tmpl, nil
}

func signatureError(msg string) error {
	return &ValidationError{Fields: map[string]string{"signature": msg}}
}

// RenderSignature fills a signature template in for an agent and a
// mailbox.
func RenderSignature(tmpl, agentName, mailboxName string) string {
	return strings.NewReplacer(SignatureAgent, agentName, SignatureMailbox, mailboxName).Replace(tmpl)
}

// WithSignature is a reply's body as it is sent and stored: the text, then
// the signature after the usual "-- " separator line; the body alone when
// the signature is empty.
func WithSignature(body, signature string) string {
	if strings.TrimSpace(signature) == "" {
		return body
	}
	return strings.TrimRight(body, "\n") + "\n\n-- \n" + signature
}
