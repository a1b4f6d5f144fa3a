package web

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The HTML of customer mail is hostile until proven otherwise. It is shown
// only through sanitizeMailHTML: bluemonday's user-generated-content
// policy (no scripts, event handlers, style elements, SVG, forms, frames,
// meta, base or link elements; only http, https, mailto and cid URLs),
// inline styles cut down to an allow-list of properties whose values
// bluemonday checks (no url(), so no loads), links that open in a new tab
// without a referrer, and images that never reach a remote host unless the
// agent asks for them.
//
// bluemonday filters tokens; it does not balance tags. So the result is
// parsed as the content of a <div> and written out again from the tree
// (balanced): an end tag in the mail cannot close an element of the page
// and an unclosed tag cannot swallow what follows the mail. On the way,
// id, name and class go: they would let the mail address or borrow the
// page's elements and styles. The page keeps the result in a box that
// paints nothing outside itself (app.css, .mail-html); its
// Content-Security-Policy (script-src 'self', img-src 'self' data:,
// style-src-attr 'unsafe-inline' for the allowed inline styles) is the
// second wall behind it.

// mailHTMLPolicy is the version of what sanitizeMailHTML makes of a mail.
// Sanitised HTML is kept (store: sanitized_html); HTML kept by an older
// version is made again. Raise it with every change to the sanitiser.
const mailHTMLPolicy = 2

// mailStyles are the CSS properties a mail may set inline: its colours,
// fonts, alignment and table layout. Nothing that positions, loads or
// moves content outside its element (no position, margin, background
// images, transforms).
var mailStyles = []string{
	"color", "background-color",
	"font-family", "font-size", "font-style", "font-weight", "line-height", "letter-spacing",
	"text-align", "text-decoration", "text-indent", "vertical-align", "white-space",
	"width", "max-width", "height",
	"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
	"border", "border-top", "border-right", "border-bottom", "border-left",
	"border-color", "border-style", "border-width", "border-collapse", "border-spacing", "table-layout",
}

// htmlColor is a colour attribute's value: #rgb, #rrggbb or a name.
var htmlColor = regexp.MustCompile(`^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]{3,20})$`)

// mailHTMLOptions say how one thread's HTML is rewritten.
type mailHTMLOptions struct {
	ThreadID     int64
	RemoteImages bool // the agent allowed remote images for this view
}

// sanitizeMailHTML returns the safe HTML of a mail body and whether it had
// remote images that were blocked.
func sanitizeMailHTML(raw string, opt mailHTMLOptions) (safe string, blocked bool) {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(false) // a mail has no base URL; relative links would point into the helpdesk
	p.AllowURLSchemes("mailto", "http", "https", "cid")
	p.AllowDataURIImages()
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(?i)(left|right|center|justify)$`)).OnElements("p", "div", "td", "th", "tr")
	p.AllowStyles(mailStyles...).Globally() // each value checked by bluemonday's handler for the property
	// The colours of mail written before CSS, as Outlook still writes it.
	p.AllowAttrs("bgcolor").Matching(htmlColor).OnElements("table", "tr", "td", "th")
	p.AllowAttrs("color").Matching(htmlColor).OnElements("font")
	p.RewriteSrc(func(u *url.URL) {
		if u == nil {
			return
		}
		switch u.Scheme {
		case "cid":
			*u = inlinePartURL(opt.ThreadID, u)
		case "data":
		default:
			if !opt.RemoteImages {
				blocked = true
				*u = url.URL{}
			}
		}
	})
	return balanced(p.Sanitize(raw)), blocked
}

// inlinePartURL is where the page loads the part a cid: URL names.
func inlinePartURL(threadID int64, u *url.URL) url.URL {
	cid := u.Opaque
	if cid == "" {
		cid = u.Host + u.Path
	}
	if unescaped, err := url.PathUnescape(cid); err == nil {
		cid = unescaped
	}
	return url.URL{Path: "/threads/" + strconv.FormatInt(threadID, 10) + "/inline",
		RawQuery: url.Values{"cid": {cid}}.Encode()}
}

// balanced parses sanitised HTML as the content of a <div>, drops the
// attributes that name or classify elements, and writes the tree out
// again: every element it opens, it closes.
func balanced(sanitized string) string {
	box := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(sanitized), box)
	if err != nil { // only the reader can fail, and a strings.Reader does not
		return ""
	}
	var b strings.Builder
	for _, n := range nodes {
		dropNamingAttrs(n)
		if err := html.Render(&b, n); err != nil {
			return ""
		}
	}
	return b.String()
}

// dropNamingAttrs removes id, name and class from n and its descendants.
func dropNamingAttrs(n *html.Node) {
	if n.Type == html.ElementNode {
		kept := n.Attr[:0]
		for _, a := range n.Attr {
			switch a.Key {
			case "id", "name", "class":
			default:
				kept = append(kept, a)
			}
		}
		n.Attr = kept
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		dropNamingAttrs(c)
	}
}
