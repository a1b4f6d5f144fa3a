package web

import (
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Attachments are the customer's bytes: they are never rendered as a page
// of our origin. Every answer carries nosniff and a CSP sandbox; downloads
// are "attachment" and, unless the type is known to be inert, typed
// application/octet-stream. Inline (cid:) parts are served inline only
// when they are raster images.

// inertTypes may keep their content type on download.
var inertTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"application/pdf": true, "text/plain": true, "text/csv": true,
	"application/zip": true, "application/octet-stream": true,
}

// inlineImageTypes may be shown inline in a mail body (no SVG: it is a
// document that can carry script).
var inlineImageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// attachmentDownload answers GET /attachments/:id (and the API's).
func (s *Server) attachmentDownload(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.cfg.Store.Attachment(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	return serveAttachment(c, a, false)
}

// attachmentInline answers GET /threads/:id/inline?cid=CONTENT-ID, the
// rewritten cid: URLs of a thread's HTML.
func (s *Server) attachmentInline(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	cid := c.QueryParam("cid")
	if cid == "" || len(cid) > 500 {
		return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"cid": "required: the Content-ID of a part"}}
	}
	a, err := s.cfg.Store.InlineAttachment(c.Request().Context(), viewer(c), id, cid)
	if err != nil {
		return err
	}
	return serveAttachment(c, a, true)
}

func serveAttachment(c echo.Context, a *helpdesk.StoredAttachment, inline bool) error {
	ct := strings.ToLower(strings.TrimSpace(a.ContentType))
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	disposition := "attachment"
	if inline && inlineImageTypes[ct] {
		disposition = "inline"
	}
	if !inertTypes[ct] && !(disposition == "inline") {
		ct = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, contentDisposition(disposition, a.Filename))
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set(echo.HeaderCacheControl, "private, no-store")
	return c.Blob(http.StatusOK, ct, a.Data)
}

// contentDisposition builds the header with a filename that is safe
// whatever the mail said: no path, quotes, controls or line breaks;
// non-ASCII names are RFC 2231-encoded by mime.FormatMediaType.
func contentDisposition(disposition, filename string) string {
	name := safeFilename(filename)
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": name}); v != "" {
		return v
	}
	return disposition + `; filename="attachment"`
}

func safeFilename(filename string) string {
	filename = strings.ReplaceAll(filename, "\\", "/")
	filename = path.Base(filename)
	var b strings.Builder
	for _, r := range filename {
		switch {
		case unicode.IsControl(r), r == '"', r == '/', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|',
			r == unicode.ReplacementChar, unicode.Is(unicode.Cf, r): // Cf: bidi overrides that fake extensions
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.Trim(strings.TrimSpace(b.String()), ".")
	if name == "" || name == "_" {
		name = "attachment"
	}
	if len(name) > 200 {
		ext := path.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		name = strings.ToValidUTF8(name[:200-len(ext)], "") + ext
	}
	return name
}
