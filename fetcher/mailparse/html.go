package mailparse

import (
	"strings"

	"golang.org/x/net/html"
)

// htmlToText derives a readable plain text from an HTML body for mail that
// was sent without one: tags dropped, entities decoded, script and style
// content left out, block elements and <br> turned into line breaks.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var t textWriter
	hidden := "" // raw-text element whose content is not shown
	pre := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return t.String()
		case html.TextToken:
			if hidden == "" {
				t.text(string(z.Text()), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			start := tt != html.EndTagToken
			switch {
			case hidden != "":
				if !start && tag == hidden {
					hidden = ""
				}
			case tt == html.StartTagToken && isHiddenElement(tag):
				hidden = tag
			case tag == "pre":
				pre = adjustDepth(pre, start)
				t.lineBreaks(2)
			default:
				t.tag(tag, start)
			}
		}
	}
}

// isHiddenElement lists elements whose content is not text for the reader;
// the tokenizer returns the content of most of them as raw markup.
func isHiddenElement(tag string) bool {
	switch tag {
	case "script", "style", "title", "template", "noscript", "iframe", "noembed", "noframes":
		return true
	}
	return false
}

func adjustDepth(d int, start bool) int {
	if start {
		return d + 1
	}
	return max(d-1, 0)
}

// textWriter accumulates text, collapsing HTML white space and keeping at
// most one empty line between blocks.
type textWriter struct {
	b            strings.Builder
	pendingSpace bool
	newlines     int // line breaks at the end of b
}

func (t *textWriter) tag(tag string, start bool) {
	switch tag {
	case "br":
		t.b.WriteByte('\n')
		t.newlines++
		t.pendingSpace = false
	case "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "dl":
		t.lineBreaks(2)
	case "div", "tr", "dt", "dd", "hr", "section", "article", "header", "footer",
		"nav", "aside", "main", "address", "figure", "figcaption", "form", "fieldset", "center":
		t.lineBreaks(1)
	case "li":
		t.lineBreaks(1)
		if start {
			t.write("- ")
		}
	case "td", "th":
		t.pendingSpace = true
	}
}

func (t *textWriter) lineBreaks(n int) {
	if t.b.Len() == 0 {
		return
	}
	for t.newlines < n {
		t.b.WriteByte('\n')
		t.newlines++
	}
	t.pendingSpace = false
}

func (t *textWriter) text(s string, pre bool) {
	if pre {
		t.write(s)
		return
	}
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && !isHTMLSpace(s[j]) {
			j++
		}
		if j > i {
			if t.pendingSpace && t.newlines == 0 && t.b.Len() > 0 {
				t.b.WriteByte(' ')
			}
			t.write(s[i:j])
			t.pendingSpace = false
		}
		for j < len(s) && isHTMLSpace(s[j]) {
			t.pendingSpace = true
			j++
		}
		i = j
	}
}

func (t *textWriter) write(s string) {
	if s == "" {
		return
	}
	t.b.WriteString(s)
	trailing := len(s) - len(strings.TrimRight(s, "\n"))
	if trailing == len(s) {
		t.newlines += trailing
	} else {
		t.newlines = trailing
	}
}

// String trims each line and keeps at most one empty line in a row.
func (t *textWriter) String() string {
	var out strings.Builder
	empty := 0
	for _, l := range strings.Split(t.b.String(), "\n") {
		l = strings.TrimRight(strings.ReplaceAll(l, "\u00a0", " "), " \t")
		if l == "" {
			empty++
			if empty > 1 {
				continue
			}
		} else {
			empty = 0
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return strings.TrimSpace(out.String())
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
