package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// customerPage shows a customer: their names and address and every
// conversation of theirs in the mailboxes the agent may see.
func (s *Server) customerPage(c echo.Context) error {
	cu, err := s.customer(c)
	if err != nil {
		return err
	}
	title := cu.Name
	if title == "" {
		title = cu.Email
	}
	return s.render(c, http.StatusOK, "customer.html", title, cu)
}

// apiCustomer is GET /api/v1/customers/:id: the customer with their
// conversations.
func (s *Server) apiCustomer(c echo.Context) error {
	cu, err := s.customer(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cu)
}

func (s *Server) customer(c echo.Context) (*helpdesk.Customer, error) {
	id, err := parseID(c, "id")
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.Customer(c.Request().Context(), viewer(c), id)
}
