package web

import "github.com/labstack/echo/v4"

// Admin handlers being written; each file replaces its stubs.
func (s *Server) adminStatus(c echo.Context) error          { return echo.ErrNotImplemented }
func (s *Server) adminMailboxes(c echo.Context) error       { return echo.ErrNotImplemented }
func (s *Server) adminMailboxNew(c echo.Context) error      { return echo.ErrNotImplemented }
func (s *Server) adminMailboxCreate(c echo.Context) error   { return echo.ErrNotImplemented }
func (s *Server) adminMailbox(c echo.Context) error         { return echo.ErrNotImplemented }
func (s *Server) adminMailboxEdit(c echo.Context) error     { return echo.ErrNotImplemented }
func (s *Server) adminMailboxUpdate(c echo.Context) error   { return echo.ErrNotImplemented }
func (s *Server) adminMailboxEnabled(c echo.Context) error  { return echo.ErrNotImplemented }
func (s *Server) adminMailboxFetch(c echo.Context) error    { return echo.ErrNotImplemented }
func (s *Server) adminMailboxTest(c echo.Context) error     { return echo.ErrNotImplemented }
func (s *Server) adminQuarantineRetry(c echo.Context) error { return echo.ErrNotImplemented }
func (s *Server) adminUsers(c echo.Context) error           { return echo.ErrNotImplemented }
func (s *Server) adminUserCreate(c echo.Context) error      { return echo.ErrNotImplemented }
func (s *Server) adminUserMailboxes(c echo.Context) error   { return echo.ErrNotImplemented }
func (s *Server) apiMailboxes(c echo.Context) error         { return echo.ErrNotImplemented }
func (s *Server) apiMailboxStatus(c echo.Context) error     { return echo.ErrNotImplemented }
func (s *Server) apiMailboxFetch(c echo.Context) error      { return echo.ErrNotImplemented }
