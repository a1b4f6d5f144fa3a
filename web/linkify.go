package web

import (
	"html/template"
	"net/url"
	"regexp"
	"strings"
)

// Plain-text mail shows its web and mail addresses as links. The text is
// escaped piece by piece; only http, https and mailto become links, each
// rel="noopener nofollow" and opening in a new tab, so a mail cannot put
// markup or a javascript: link on the page.

var linkCandidate = regexp.MustCompile(`(?i)\b(?:https?://|mailto:)[^\s<>"'` + "`" + `]+`)

// trailingPunctuation ends a sentence more often than a URL.
const trailingPunctuation = `.,;:!?)]}*_`

// linkify returns text as HTML with its http, https and mailto URLs linked.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range linkCandidate.FindAllStringIndex(text, -1) {
		start, end := m[0], m[0]+len(trimURL(text[m[0]:m[1]]))
		href, ok := safeLink(text[start:end])
		if !ok {
			continue
		}
		b.WriteString(template.HTMLEscapeString(text[last:start]))
		b.WriteString(`<a href="` + template.HTMLEscapeString(href) + `" rel="noopener nofollow" target="_blank">`)
		b.WriteString(template.HTMLEscapeString(text[start:end]))
		b.WriteString(`</a>`)
		last = end
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// trimURL drops punctuation that closes the sentence around a URL; a ")"
// stays when the URL opened one, as in Wikipedia's links.
func trimURL(u string) string {
	for len(u) > 0 && strings.ContainsRune(trailingPunctuation, rune(u[len(u)-1])) {
		if u[len(u)-1] == ')' && strings.Count(u, "(") >= strings.Count(u, ")") {
			break
		}
		u = u[:len(u)-1]
	}
	return u
}

// safeLink parses a candidate and returns it re-encoded; false unless it is
// http(s) with a host or mailto with an address.
func safeLink(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false
		}
	case "mailto":
		if u.Opaque == "" {
			return "", false
		}
	default:
		return "", false
	}
	return u.String(), true
}
