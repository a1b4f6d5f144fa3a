package web

import (
	"html/template"
	"net/url"
	"regexp"
	"strconv"

	"github.com/microcosm-cc/bluemonday"
)

// The HTML of customer mail is hostile until proven otherwise. It is shown
// only through sanitizeMailHTML: bluemonday's user-generated-content
// policy (no scripts, event handlers, style, SVG, forms, frames, meta,
// base or link elements; only http, https, mailto and cid URLs), links
// that open in a new tab without a referrer, and images that never reach a
// remote host unless the agent asks for them. The page's
// Content-Security-Policy (script-src 'self', img-src 'self' data:) is the
// second wall behind it.

// mailHTMLOptions say how one thread's HTML is rewritten.
type mailHTMLOptions struct {
	ThreadID     int64
	RemoteImages bool // the agent allowed remote images for this view
}

// sanitizeMailHTML returns the safe HTML of a mail body and whether it had
// remote images that were blocked.
func sanitizeMailHTML(raw string, opt mailHTMLOptions) (safe template.HTML, blocked bool) {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(false) // a mail has no base URL; relative links would point into the helpdesk
	p.AllowURLSchemes("mailto", "http", "https", "cid")
	p.AllowDataURIImages()
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(?i)(left|right|center|justify)$`)).OnElements("p", "div", "td", "th", "tr")
	p.RewriteSrc(func(u *url.URL) {
		if u == nil {
			return
		}
		switch u.Scheme {
		case "cid":
			cid := u.Opaque
			if cid == "" {
				cid = u.Host + u.Path
			}
			if unescaped, err := url.PathUnescape(cid); err == nil {
				cid = unescaped
			}
			*u = url.URL{Path: "/threads/" + strconv.FormatInt(opt.ThreadID, 10) + "/inline",
				RawQuery: url.Values{"cid": {cid}}.Encode()}
		case "data":
		default:
			if !opt.RemoteImages {
				blocked = true
				*u = url.URL{}
			}
		}
	})
	return template.HTML(p.Sanitize(raw)), blocked
}
