package mailparse

import (
	"mime"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
)

const maxParamSections = 64 // RFC 2231 continuations kept per parameter

type contentType struct {
	mediaType string // lower-case "type/subtype"; empty when missing or invalid
	params    map[string]string
}

func (ct contentType) isText(subtype string) bool {
	mt := ct.mediaType
	if mt == "" {
		mt = "text/plain" // RFC 2045 5.2: the default, also for a broken header
	}
	return mt == "text/"+subtype
}

type contentDisposition struct {
	kind   string // "attachment", "inline" or empty
	params map[string]string
}

func parseContentType(h textproto.Header) contentType {
	mt, params := parseParamHeader(h.Get("Content-Type"))
	if !validMediaType(mt) {
		mt = ""
	}
	return contentType{mediaType: mt, params: params}
}

func parseContentDisposition(h textproto.Header) contentDisposition {
	kind, params := parseParamHeader(h.Get("Content-Disposition"))
	return contentDisposition{kind: kind, params: params}
}

// parseParamHeader parses "value; key=val; ..." with the standard library
// and fills in what it rejects or drops: parameters after a syntax error and
// RFC 2231 values in charsets other than UTF-8. Names are decoded to UTF-8,
// including the RFC 2047 words that many mailers put into filenames.
func parseParamHeader(v string) (string, map[string]string) {
	value, params, err := mime.ParseMediaType(v)
	if err != nil && value == "" {
		value = strings.ToLower(strings.TrimSpace(strings.Split(v, ";")[0]))
	}
	if params == nil {
		params = map[string]string{}
	}
	for k, val := range lenientParams(v) {
		if _, ok := params[k]; !ok {
			params[k] = val
		}
	}
	for _, k := range []string{"name", "filename"} {
		if val, ok := params[k]; ok {
			params[k] = decodeEncodedWords(val)
		}
	}
	return value, params
}

func validMediaType(mt string) bool {
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && isToken(typ) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// lenientParams parses parameters one by one so that one broken parameter
// does not lose the others, and assembles RFC 2231 extended and continued
// values (name*=charset'lang'%XX, name*0*=, name*1=...).
func lenientParams(v string) map[string]string {
	sections := map[string]map[int]paramSection{}
	out := map[string]string{}
	pieces := splitOutsideQuotes(v, ';')
	for _, piece := range pieces[1:] {
		key, val, ok := strings.Cut(piece, "=")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = unquote(strings.TrimSpace(val))
		name, index, extended := splitParamKey(key)
		if index < 0 {
			if _, seen := out[name]; !seen {
				out[name] = val
			}
			continue
		}
		if sections[name] == nil {
			sections[name] = map[int]paramSection{}
		}
		if _, seen := sections[name][index]; !seen && len(sections[name]) < maxParamSections {
			sections[name][index] = paramSection{value: val, extended: extended}
		}
	}
	for name, secs := range sections {
		out[name] = joinSections(secs) // RFC 2231 values win over plain ones
	}
	return out
}

type paramSection struct {
	value    string
	extended bool // percent-encoded; the first one carries charset'lang'
}

// splitParamKey parses "name", "name*", "name*N" and "name*N*". index is -1
// for a plain parameter.
func splitParamKey(key string) (name string, index int, extended bool) {
	name, rest, ok := strings.Cut(key, "*")
	if !ok {
		return key, -1, false
	}
	if rest == "" {
		return name, 0, true
	}
	extended = strings.HasSuffix(rest, "*")
	n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
	if err != nil || n < 0 || n >= maxParamSections {
		return key, -1, false
	}
	return name, n, extended
}

func joinSections(secs map[int]paramSection) string {
	indexes := make([]int, 0, len(secs))
	for i := range secs {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	var raw strings.Builder
	label := ""
	for _, i := range indexes {
		s := secs[i]
		if !s.extended {
			raw.WriteString(s.value)
			continue
		}
		val := s.value
		if i == indexes[0] {
			if cs, rest, ok := strings.Cut(val, "'"); ok {
				if _, after, ok := strings.Cut(rest, "'"); ok {
					label, val = cs, after
				}
			}
		}
		raw.WriteString(percentDecode(val))
	}
	return decodeCharset([]byte(raw.String()), label)
}

func percentDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if hi, lo := hexValue(s[i+1]), hexValue(s[i+2]); hi >= 0 && lo >= 0 {
				b.WriteByte(byte(hi<<4 | lo))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitOutsideQuotes splits s at sep where sep is not inside double quotes.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case sep:
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// unquote removes surrounding double quotes and backslash escapes; an
// unterminated quote keeps the text after it.
func unquote(s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	s = strings.TrimSuffix(s[1:], `"`)
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
