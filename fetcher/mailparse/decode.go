package mailparse

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// decodeTransferEncoding undoes the Content-Transfer-Encoding. Base64 and
// quoted-printable are decoded leniently (missing padding, stray characters,
// bad escapes) because a partly damaged attachment is worth more than none.
// ok is false for an encoding we do not know; data is then the raw body.
func decodeTransferEncoding(header string, body []byte) (data []byte, ok bool) {
	enc, _, _ := strings.Cut(header, ";")
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return decodeBase64Lenient(body), true
	case "quoted-printable":
		return decodeQuotedPrintableLenient(body), true
	case "", "7bit", "8bit", "binary":
		return body, true
	default:
		return body, false
	}
}

// base64Value maps a byte to its 6-bit value, or -1 for bytes outside the
// alphabet (which are skipped).
func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}

// decodeBase64Lenient decodes base64 in one pass, ignoring line breaks and
// other bytes outside the alphabet. '=' ends a quantum, so concatenated
// encodings decode too; a truncated final quantum yields its whole bytes.
func decodeBase64Lenient(src []byte) []byte {
	dst := make([]byte, 0, len(src)/4*3+3)
	var acc uint32
	n := 0
	flush := func() {
		switch n {
		case 2:
			dst = append(dst, byte(acc>>4))
		case 3:
			dst = append(dst, byte(acc>>10), byte(acc>>2))
		}
		acc, n = 0, 0
	}
	for _, c := range src {
		if c == '=' {
			flush()
			continue
		}
		v := base64Value(c)
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	flush()
	return dst
}

// decodeQuotedPrintableLenient decodes quoted-printable (RFC 2045 6.7): '='
// with two hex digits is a byte, '=' at a line end is a soft break, any other
// '=' is kept, and spaces before a line end are transport padding.
func decodeQuotedPrintableLenient(src []byte) []byte {
	dst := make([]byte, 0, len(src))
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '=':
			if hi, lo := hexValue(at(src, i+1)), hexValue(at(src, i+2)); hi >= 0 && lo >= 0 {
				dst = append(dst, byte(hi<<4|lo))
				i += 3
				continue
			}
			if end, ok := blankToLineEnd(src, i+1); ok {
				i = skipLineBreak(src, end) // soft line break
				continue
			}
			dst = append(dst, '=')
			i++
		case c == ' ' || c == '\t':
			end, ok := blankToLineEnd(src, i)
			if ok {
				i = end // padding before a hard line break
				continue
			}
			dst = append(dst, src[i:end]...)
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// blankToLineEnd skips spaces and tabs from i and reports whether a line
// break or the end of input follows them.
func blankToLineEnd(b []byte, i int) (int, bool) {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i, i == len(b) || b[i] == '\n' || b[i] == '\r' && at(b, i+1) == '\n'
}

func skipLineBreak(b []byte, i int) int {
	if at(b, i) == '\r' {
		i++
	}
	if at(b, i) == '\n' {
		i++
	}
	return i
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// decodeCharset converts text in the named charset to valid UTF-8. An
// unknown or broken charset falls back to UTF-8 with invalid bytes replaced;
// NUL becomes U+FFFD too, as databases refuse it in text.
func decodeCharset(data []byte, label string) string {
	var b strings.Builder
	b.Grow(len(data))
	writeStorable(&b, convertCharset(data, label))
	return b.String()
}

// decodeText is decodeCharset for a body part, with CRLF and lone CR turned
// into LF, in one pass: bodies can be megabytes.
func decodeText(data []byte, label string) string {
	data = convertCharset(data, label)
	var b strings.Builder
	b.Grow(len(data))
	for {
		i := bytes.IndexByte(data, '\r')
		if i < 0 {
			writeStorable(&b, data)
			return b.String()
		}
		writeStorable(&b, data[:i])
		b.WriteByte('\n')
		data = bytes.TrimPrefix(data[i+1:], []byte{'\n'})
	}
}

// writeStorable writes p as valid UTF-8 without NUL bytes.
func writeStorable(b *strings.Builder, p []byte) {
	if utf8.Valid(p) && bytes.IndexByte(p, 0) < 0 {
		b.Write(p)
		return
	}
	b.WriteString(strings.ReplaceAll(strings.ToValidUTF8(string(p), "\uFFFD"), "\x00", "\uFFFD"))
}

// convertCharset returns data converted to UTF-8 (maybe invalid), or data
// itself for UTF-8 and for a charset it cannot convert.
func convertCharset(data []byte, label string) []byte {
	if isUTF8Label(label) {
		return data
	}
	r, err := charsetReader(label, bytes.NewReader(data))
	if err != nil {
		return data
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + len(data)/2)
	if _, err := buf.ReadFrom(r); err != nil {
		return data
	}
	return buf.Bytes()
}

func isUTF8Label(label string) bool {
	switch strings.ToLower(strings.Trim(label, " \t\"'")) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

// charsetReader resolves a MIME charset label with go-message's table.
// UTF-8 and ASCII pass through (validity is checked by the caller), and
// ISO-8859-1 is read as its superset windows-1252, as browsers do, because
// mail labelled Latin-1 routinely contains windows-1252 quotes and euro signs.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	if isUTF8Label(label) {
		return input, nil
	}
	label = strings.ToLower(strings.Trim(label, " \t\"'"))
	switch label {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1":
		label = "windows-1252"
	}
	return charset.Reader(label, input)
}
