package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiMailboxes lists every mailbox (stored passwords are never included).
func (s *Server) apiMailboxes(c echo.Context) error {
	mbs, err := s.cfg.Store.Mailboxes(c.Request().Context())
	if err != nil {
		return err
	}
	if mbs == nil {
		mbs = []helpdesk.Mailbox{}
	}
	for i := range mbs {
		if mbs[i].Folders == nil {
			mbs[i].Folders = []string{}
		}
	}
	return c.JSON(http.StatusOK, mbs)
}

// apiMailboxStatus is a mailbox's lease (from the Inspector) and fetch
// state (from the database).
func (s *Server) apiMailboxStatus(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	_, st, err := s.mailboxStatusOf(c.Request().Context(), id, 10)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// apiMailboxFetch records a "fetch now" request for the fetch service:
// 202, the fetch runs later, under its lease, on the scheduled code path.
func (s *Server) apiMailboxFetch(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RequestFetch(c.Request().Context(), id, currentUser(c).Email); err != nil {
		return err
	}
	s.log.Info("web: fetch requested", "mailbox_id", id, "user_id", currentUser(c).ID, "via", "api")
	return c.JSON(http.StatusAccepted, map[string]any{"mailbox_id": id, "status": "requested"})
}
