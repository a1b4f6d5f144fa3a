package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Every text a request sends must be UTF-8 without NUL bytes. PostgreSQL
// refuses both in text (the request would end in a 500) and SQLite
// compares a NUL oddly (a search for it matched everything). They are
// refused here for the path, query parameters and form fields
// (rejectBadText, on every route), and in decodeJSON for JSON bodies.

const badTextMessage = "must be UTF-8 text without NUL bytes"

// isBadText reports text that no handler may pass on.
func isBadText(v string) bool {
	return strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v)
}

// rejectBadText answers 400 for a bad path or query parameter and 422 for
// a bad form field, naming it.
func (s *Server) rejectBadText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if isBadText(req.URL.Path) {
			return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"path": badTextMessage}}
		}
		if name, bad := badValue(c.QueryParams()); bad {
			return &fieldError{status: http.StatusBadRequest, fields: map[string]string{name: badTextMessage}}
		}
		if hasFormBody(req) {
			// A form that does not parse is the handler's to answer,
			// as before; the parsed fields stay for it.
			if form, err := c.FormParams(); err == nil {
				if name, bad := badValue(form); bad {
					return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{name: badTextMessage}}
				}
			}
		}
		return next(c)
	}
}

func hasFormBody(req *http.Request) bool {
	ct := req.Header.Get(echo.HeaderContentType)
	return strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm)
}

// badValue finds a bad name or value; the name it reports is quoted when
// the name itself is bad.
func badValue(vs url.Values) (name string, bad bool) {
	for k, list := range vs {
		if isBadText(k) {
			return strconv.QuoteToASCII(k), true
		}
		for _, v := range list {
			if isBadText(v) {
				return k, true
			}
		}
	}
	return "", false
}

// badJSONText finds a string (or object key) in a JSON body that is not
// UTF-8 text without NUL bytes; encoding/json would turn bad UTF-8 into
// U+FFFD silently and \u0000 into a NUL byte. It names the field by its
// path ("body" for the top level, "attachments[0].filename"). A body that
// is not JSON is left to the decoder to report.
func badJSONText(body []byte) (field string, bad bool) {
	if !utf8.Valid(body) {
		return "body", true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	return badJSONValue(v, "")
}

func badJSONValue(v any, path string) (string, bool) {
	switch x := v.(type) {
	case string:
		if isBadText(x) {
			return pathOr(path, "body"), true
		}
	case []any:
		for i, e := range x {
			if f, bad := badJSONValue(e, path+"["+strconv.Itoa(i)+"]"); bad {
				return f, true
			}
		}
	case map[string]any:
		for k, e := range x {
			if isBadText(k) {
				return pathOr(path, "body"), true
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			if f, bad := badJSONValue(e, p); bad {
				return f, true
			}
		}
	}
	return "", false
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}
