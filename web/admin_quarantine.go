package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// quarantineView is the data of the "quarantine" partial.
type quarantineView struct {
	Items []helpdesk.QuarantinedMessage
	Names map[int64]string
	Zone  *time.Location // the viewer's
}

// adminQuarantineRetry asks for a quarantined message to be retried on
// its mailbox's next fetch and goes back to the page it was asked from.
func (s *Server) adminQuarantineRetry(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	back := safeNext(c.FormValue("back"))
	if back == "/" {
		back = "/admin/status"
	}
	if err := s.cfg.Store.RetryQuarantined(c.Request().Context(), id); err != nil {
		if errors.Is(err, helpdesk.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no held quarantined message with this id")
		}
		return err
	}
	s.log.Info("web: quarantine retry requested", "quarantine_id", id, "user_id", currentUser(c).ID)
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, back+sep+"notice=retry-requested")
}
