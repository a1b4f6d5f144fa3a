package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// home is a placeholder for "/": the agent workspace replaces it with the
// conversations list (delete this file and templates/home.html then).
func (s *Server) home(c echo.Context) error {
	return s.render(c, http.StatusOK, "home.html", "Conversations", nil)
}
