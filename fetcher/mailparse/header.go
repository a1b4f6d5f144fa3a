package mailparse

import (
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"

	"github.com/helpdesk/helpdesk/helpdesk"
)

const maxAddressBytes = 320 // RFC 3696: 64 local + @ + 255 domain

// parseAddressList parses an address header with go-message and, when the
// header is broken, extracts what looks like addresses instead of failing.
func parseAddressList(h mail.Header, key string) []helpdesk.Address {
	v := h.Get(key)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	list, err := h.AddressList(key)
	if err != nil {
		return lenientAddressList(v)
	}
	out := make([]helpdesk.Address, 0, len(list))
	for _, a := range list {
		if addr, ok := cleanAddress(a.Name, a.Address); ok {
			out = append(out, addr)
		}
	}
	return out
}

// lenientAddressList splits a broken address header on commas and
// semicolons outside quotes and brackets and takes from each piece either
// the text in angle brackets or a word containing '@'.
func lenientAddressList(v string) []helpdesk.Address {
	var out []helpdesk.Address
	for _, piece := range splitAddressPieces(v) {
		name, email, bracketed := splitNameAndEmail(piece)
		if !bracketed && !strings.Contains(email, "@") {
			continue
		}
		if addr, ok := cleanAddress(decodeEncodedWords(name), email); ok {
			out = append(out, addr)
		}
	}
	return out
}

func splitAddressPieces(v string) []string {
	var pieces []string
	inQuote, inAngle, depth, start := false, false, 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case (c == ',' || c == ';') && !inAngle && depth == 0:
			pieces = append(pieces, v[start:i])
			start = i + 1
		}
	}
	return append(pieces, v[start:])
}

// splitNameAndEmail takes "Name <email>" apart; without brackets it returns
// the first word with an '@' as the email.
func splitNameAndEmail(piece string) (name, email string, bracketed bool) {
	if lt := strings.LastIndexByte(piece, '<'); lt >= 0 {
		email, _, _ = strings.Cut(piece[lt+1:], ">")
		name = strings.Trim(strings.TrimSpace(piece[:lt]), `"' `)
		return name, email, true
	}
	for _, f := range strings.Fields(piece) {
		if strings.Contains(f, "@") {
			return "", f, false
		}
	}
	return "", "", false
}

// cleanAddress lower-cases the email, strips what cannot be in one and
// makes the display name a single clean line.
func cleanAddress(name, email string) (helpdesk.Address, bool) {
	email = strings.ToValidUTF8(email, "")
	email = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>"(),;`, r) {
			return -1
		}
		return r
	}, email)
	email = strings.Trim(email, "'[]:")
	email = truncateUTF8(strings.ToLower(email), maxAddressBytes)
	if email == "" {
		return helpdesk.Address{}, false
	}
	return helpdesk.Address{Name: cleanHeaderText(name), Email: email}, true
}

// cleanHeaderText decodes RFC 2047 words and returns one clean line:
// controls decoded from encoded words are a header injection vector.
func cleanHeaderText(v string) string {
	return cleanLine(decodeEncodedWords(v))
}

// cleanLine returns v as one line of valid UTF-8: CR, LF and other
// controls become spaces and runs of space collapse.
func cleanLine(v string) string {
	v = replaceInvalidUTF8(v)
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, v)
	return strings.Join(strings.Fields(v), " ")
}

// decodeEncodedWords decodes RFC 2047 encoded words. Words in a charset we
// do not know keep their bytes, made valid UTF-8, so nothing is dropped.
func decodeEncodedWords(v string) string {
	if strings.Contains(v, "=?") {
		d := mime.WordDecoder{CharsetReader: lenientCharsetReader}
		if decoded, err := d.DecodeHeader(repairEncodedWords(v)); err == nil {
			v = decoded
		}
	}
	return replaceInvalidUTF8(v)
}

// encodedWord is an RFC 2047 encoded word: charset, encoding, text.
var encodedWord = regexp.MustCompile(`=\?([^?]+)\?([bBqQ])\?([^?]*)\?=`)

// repairEncodedWords rewrites the encoded words that mime.WordDecoder would
// leave undecoded into ones it decodes as Python's email package does: a B
// word keeps only base64 characters and gets its missing padding, a Q word's
// "=" not followed by two hex digits stands for itself. A B word that
// cannot be repaired (one character too many) is left as it is.
func repairEncodedWords(v string) string {
	return encodedWord.ReplaceAllStringFunc(v, func(word string) string {
		m := encodedWord.FindStringSubmatch(word)
		charset, enc, text := m[1], m[2], m[3]
		if enc == "b" || enc == "B" {
			text = strings.Map(func(r rune) rune {
				if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '+' || r == '/') {
					return r
				}
				return -1
			}, text)
			if len(text)%4 == 1 {
				return word
			}
			text += "=="[:(4-len(text)%4)%4]
		} else {
			text = escapeStrayEquals(text)
		}
		return "=?" + charset + "?" + enc + "?" + text + "?="
	})
}

// escapeStrayEquals escapes each "=" of Q text that does not start a
// two-digit hex escape.
func escapeStrayEquals(text string) string {
	isHex := func(i int) bool { return i < len(text) && strings.IndexByte("0123456789abcdefABCDEF", text[i]) >= 0 }
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '=' && !(isHex(i+1) && isHex(i+2)) {
			b.WriteString("=3D")
			continue
		}
		b.WriteByte(text[i])
	}
	return b.String()
}

// replaceInvalidUTF8 replaces each byte that is not part of valid UTF-8 by
// U+FFFD, as Python's email package does with 8-bit header bytes (where
// strings.ToValidUTF8 would replace a whole run by one).
func replaceInvalidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s { // an invalid byte is one utf8.RuneError
		b.WriteRune(r)
	}
	return b.String()
}

// lenientCharsetReader never fails: an unknown charset passes the bytes
// through, to be made valid UTF-8 by the caller.
func lenientCharsetReader(label string, input io.Reader) (io.Reader, error) {
	if r, err := charsetReader(label, input); err == nil {
		return r, nil
	}
	return input, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
