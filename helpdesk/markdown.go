package helpdesk

import (
	"bytes"
	"fmt"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// markdown renders what agents write. Raw HTML in it is left out (goldmark
// is safe unless told otherwise: no raw HTML, no javascript: links), so an
// agent cannot put markup of their own into a customer's mail. Line breaks
// stay line breaks: plain text, as most agents write it, reads the same.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Linkify, extension.Strikethrough),
	goldmark.WithRendererOptions(html.WithHardWraps()),
)

// RenderMarkdown is the HTML alternative of a reply's text: a complete
// small document.
func RenderMarkdown(text string) (string, error) {
	var body bytes.Buffer
	if err := markdown.Convert([]byte(text), &body); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n" + body.String() + "</body></html>\n", nil
}
