package helpdesk

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// maxThreadingRefs caps how many Message-IDs of a References chain are
// looked up; the newest ones are the ones that matter.
const maxThreadingRefs = 50

var subjectToken = regexp.MustCompile(`\[#(\d{1,18})\]`)

// SubjectToken is the conversation number of a [#N] token in a subject.
// It threads a message only when its sender already takes part in
// conversation N: a stranger quoting a number must not land in someone
// else's conversation.
func SubjectToken(subject string) (number int64, ok bool) {
	m := subjectToken.FindStringSubmatch(subject)
	if m == nil {
		return 0, false
	}
	number, err := strconv.ParseInt(m[1], 10, 64)
	return number, err == nil
}

// ReferencedIDs is In-Reply-To plus the newest References, without
// repeats: the Message-IDs a reply is threaded by first.
func (msg *IncomingMessage) ReferencedIDs() []string {
	refs := msg.References
	if len(refs) > maxThreadingRefs {
		refs = refs[len(refs)-maxThreadingRefs:]
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range append([]string{msg.InReplyTo}, refs...) {
		if id != "" && !seen[id] && id != msg.MessageID {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// SubjectWithToken adds the conversation's [#N] token to a reply subject
// once, so a customer's answer threads back even without references.
func SubjectWithToken(subject string, number int64) string {
	token := fmt.Sprintf("[#%d]", number)
	if strings.Contains(subject, token) {
		return subject
	}
	return strings.TrimSpace(subject + " " + token)
}
