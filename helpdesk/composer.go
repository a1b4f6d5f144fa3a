package helpdesk

import (
	"fmt"
	"mime"
	"net/mail"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
)

// MaxRecipients bounds the CC and the BCC list of one reply each.
const MaxRecipients = 50

// Default attachment limits of the reply composer: what common mail
// servers take in one message.
const (
	DefaultAttachmentMaxBytes      = 20 << 20
	DefaultReplyAttachmentMaxBytes = 25 << 20
)

// NewAttachment is a file an agent attaches to a reply.
type NewAttachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// AttachmentLimits bound the files of one reply: each file and all
// together.
type AttachmentLimits struct {
	PerFile  int64
	PerReply int64
}

// ParseRecipients reads a CC or BCC field: addresses separated by commas
// (with or without display names), each checked with net/mail. It returns
// the bare addresses, without repeats.
func ParseRecipients(field, raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	list, err := mail.ParseAddressList(raw)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{field: "must be e-mail addresses separated by commas, like ann@example.com, bob@example.org"}}
	}
	addrs := make([]string, len(list))
	for i, a := range list {
		addrs[i] = a.Address
	}
	return CheckRecipients(field, addrs)
}

// CheckRecipients checks a list of bare addresses (the API's cc and bcc)
// and drops repeats.
func CheckRecipients(field string, addrs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if p, err := mail.ParseAddress(a); err != nil || p.Address != a || !strings.Contains(a, "@") {
			return nil, &ValidationError{Fields: map[string]string{field: fmt.Sprintf("%q is not a plain e-mail address like ann@example.com", Truncate(a, 100))}}
		}
		if key := strings.ToLower(a); !seen[key] {
			seen[key] = true
			out = append(out, a)
		}
	}
	if len(out) > MaxRecipients {
		return nil, &ValidationError{Fields: map[string]string{field: fmt.Sprintf("at most %d addresses", MaxRecipients)}}
	}
	return out, nil
}

// CheckAttachments refuses files over the limits, naming the file, and
// makes names and types safe to store and to put in a header.
func CheckAttachments(files []NewAttachment, limits AttachmentLimits) ([]NewAttachment, error) {
	var total int64
	out := make([]NewAttachment, len(files))
	for i, f := range files {
		name := AttachmentFilename(f.Filename)
		size := int64(len(f.Data))
		if size > limits.PerFile {
			return nil, &ValidationError{Fields: map[string]string{"attachments": fmt.Sprintf("%s is %s: each file may be at most %s", name, ByteSize(size), ByteSize(limits.PerFile))}}
		}
		total += size
		out[i] = NewAttachment{Filename: name, ContentType: AttachmentType(f.ContentType), Data: f.Data}
	}
	if total > limits.PerReply {
		return nil, &ValidationError{Fields: map[string]string{"attachments": fmt.Sprintf("the files are %s together: a reply may carry at most %s", ByteSize(total), ByteSize(limits.PerReply))}}
	}
	return out, nil
}

// AttachmentFilename is the base name of a file as sent, one line of
// valid text; "attachment" when nothing is left.
func AttachmentFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." || name == "/" {
		return "attachment"
	}
	return name
}

// AttachmentType is a well-formed media type without parameters, else
// application/octet-stream.
func AttachmentType(ct string) string {
	t, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(t, "/") || len(t) > 100 {
		return "application/octet-stream"
	}
	return t
}

// ByteSize is a size for people: 512 B, 1.5 KiB, 20 MiB.
func ByteSize(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// ReplyAllCc is whom "reply all" copies: the others on the newest
// customer message (its To and Cc), without the customer and without any
// of own, this helpdesk's addresses (OwnAddresses): a copy to another of
// our mailboxes would come back in as a new conversation.
func ReplyAllCc(d *ConversationDetail, own []string) []string {
	for i := len(d.Threads) - 1; i >= 0; i-- {
		t := d.Threads[i]
		if t.Kind != "customer" {
			continue
		}
		skip := addressSet(own)
		skip[strings.ToLower(d.CustomerEmail)] = true
		skip[strings.ToLower(t.FromEmail)] = true
		var cc []string
		for _, a := range strings.Split(t.To+","+t.Cc, ",") {
			a = strings.TrimSpace(a)
			if a != "" && !skip[strings.ToLower(a)] {
				skip[strings.ToLower(a)] = true
				cc = append(cc, a)
			}
		}
		return cc
	}
	return nil
}

// RefuseOwnAddresses refuses a copy or a forward (field) to one of own,
// this helpdesk's addresses: the mail would come back in as a new
// conversation.
func RefuseOwnAddresses(field string, addrs, own []string) error {
	ours := addressSet(own)
	for _, a := range addrs {
		if ours[strings.ToLower(strings.TrimSpace(a))] {
			return &ValidationError{Fields: map[string]string{field: fmt.Sprintf("%s is one of this helpdesk's own mailboxes: mail sent there would come back in as a new conversation", Truncate(a, 100))}}
		}
	}
	return nil
}

// addressSet is addrs lower-cased, for lookups.
func addressSet(addrs []string) map[string]bool {
	set := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		set[strings.ToLower(a)] = true
	}
	return set
}
