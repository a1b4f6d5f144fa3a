package helpdesk

import (
	"fmt"
	"strings"
	"unicode"
)

// MaxBodyLength bounds replies and notes (characters).
const MaxBodyLength = 200_000

// MaxReferences bounds the References header of a reply: the first
// message of the conversation plus the newest ones.
const MaxReferences = 20

// Written is the thread an agent's reply or note became.
type Written struct {
	ConversationID int64  `json:"conversation_id"`
	ThreadID       int64  `json:"thread_id"`
	MessageID      string `json:"message_id,omitempty"` // replies only: the Message-ID the mail goes out with
}

func ValidateBody(body string) (string, error) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if strings.TrimSpace(body) == "" {
		return "", &ValidationError{Fields: map[string]string{"body": "required"}}
	}
	if len(body) > MaxBodyLength || strings.ContainsRune(body, 0) {
		return "", &ValidationError{Fields: map[string]string{"body": fmt.Sprintf("at most %d characters of text", MaxBodyLength)}}
	}
	return body, nil
}

// UsableMessageID accepts a stored Message-ID that can go into a header
// between angle brackets: no spaces, controls or brackets, not too long.
func UsableMessageID(id string) bool {
	if id == "" || len(id) > 250 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// ReplySubject is "Re: subject" on one line.
func ReplySubject(subject string) string {
	subject = strings.Join(strings.FieldsFunc(subject, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if subject == "" {
		subject = "(no subject)"
	}
	if len(subject) < 3 || !strings.EqualFold(subject[:3], "re:") {
		subject = "Re: " + subject
	}
	return Truncate(subject, 900)
}
