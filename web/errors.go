package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Handlers return errors and handleError answers them all: statusOf
// turns helpdesk's errors into status codes, and the answer is an error
// page, JSON under /api/ or plain text for machines.

// fieldError is bad input found while parsing a request, before the
// domain sees it: a path parameter that is not an ID, a number field that
// is not a number.
type fieldError struct {
	status int // 400 for path/query parameters, 422 for form and JSON fields
	fields map[string]string
}

func (e *fieldError) Error() string {
	var parts []string
	for k, v := range e.fields {
		parts = append(parts, k+": "+v)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// statusOf maps an error to its HTTP status. It is the one place where
// helpdesk's sentinel errors become status codes.
func statusOf(err error) int {
	var he *echo.HTTPError
	var fe *fieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.As(err, &fe):
		return fe.status
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, helpdesk.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, helpdesk.ErrStale):
		return http.StatusConflict
	case errors.Is(err, helpdesk.ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, helpdesk.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, helpdesk.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, helpdesk.ErrBadCredentials):
		return http.StatusUnauthorized
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// errorFields lists the fields an error names, if any.
func errorFields(err error) map[string]string {
	var ve *helpdesk.ValidationError
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return fe.fields
	case errors.As(err, &ve):
		return ve.Fields
	}
	return nil
}

// publicMessage is what the client is told; internal errors stay in the log.
func publicMessage(err error, status int) string {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if m, ok := he.Message.(string); ok {
			return m
		}
	}
	if status >= 500 && status != http.StatusGatewayTimeout {
		return http.StatusText(status)
	}
	if fe := errorFields(err); fe != nil {
		return "invalid input"
	}
	if errors.Is(err, helpdesk.ErrNotFound) {
		return "not found"
	}
	return strings.TrimSpace(err.Error())
}

type errorData struct {
	Status  int
	Message string
	Fields  map[string]string
}

// handleError answers every error a handler returns: JSON under /api/,
// a page otherwise. Server errors are logged here, once.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := statusOf(err)
	msg := publicMessage(err, status)
	if status >= 500 {
		s.log.Error("web: request failed", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "err", err)
	}
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(status)
	case strings.HasPrefix(c.Request().URL.Path, "/api/"):
		body := map[string]any{"error": msg}
		if f := errorFields(err); f != nil {
			body["fields"] = f
		}
		werr = c.JSON(status, body)
	case strings.HasPrefix(c.Request().URL.Path, "/static/"), c.Request().URL.Path == "/metrics",
		c.Request().URL.Path == "/healthz", c.Request().URL.Path == "/readyz":
		werr = c.String(status, msg+"\n")
	default:
		werr = s.render(c, status, "error.html", http.StatusText(status), errorData{Status: status, Message: msg, Fields: errorFields(err)})
	}
	if werr != nil {
		s.log.Error("web: write error response", "err", werr)
	}
}
