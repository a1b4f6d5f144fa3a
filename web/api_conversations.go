package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiAttachment is an attachment in the API, with where to download it.
type apiAttachment struct {
	helpdesk.AttachmentInfo
	URL string `json:"url"`
}

type apiThread struct {
	helpdesk.Thread
	Attachments []apiAttachment `json:"attachments"`
}

type apiConversation struct {
	*helpdesk.ConversationDetail
	Threads []apiThread `json:"threads"`
}

func toAPIConversation(d *helpdesk.ConversationDetail) apiConversation {
	out := apiConversation{ConversationDetail: d, Threads: make([]apiThread, 0, len(d.Threads))}
	for _, t := range d.Threads {
		out.Threads = append(out.Threads, toAPIThread(t))
	}
	return out
}

func toAPIThread(t helpdesk.Thread) apiThread {
	at := apiThread{Thread: t, Attachments: make([]apiAttachment, 0, len(t.Attachments))}
	for _, a := range t.Attachments {
		at.Attachments = append(at.Attachments, apiAttachment{AttachmentInfo: a, URL: "/api/v1/attachments/" + itoa(a.ID)})
	}
	return at
}

// apiConversations is GET /api/v1/conversations?mailbox=&status=&assignee=&tag=&q=&page=&per_page=.
// Without status, every status is listed.
func (s *Server) apiConversations(c echo.Context) error {
	f, err := parseConversationFilter(c, "")
	if err != nil {
		return err
	}
	list, err := s.cfg.Store.Conversations(c.Request().Context(), viewer(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// apiFolders is GET /api/v1/folders: the folders of every mailbox the
// caller may see, with their counts and the caller's unread counts.
func (s *Server) apiFolders(c echo.Context) error {
	folders, err := s.cfg.Store.FolderCounts(c.Request().Context(), viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"mailboxes": folders})
}

// apiConversation is GET /api/v1/conversations/:id with threads and
// attachments; a merged one answers 301 (mergedRedirect).
func (s *Server) apiConversation(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	d, err := s.cfg.Store.Conversation(c.Request().Context(), viewer(c), id)
	if err != nil {
		return mergedRedirect(c, err)
	}
	setETag(c, d)
	return c.JSON(http.StatusOK, toAPIConversation(d))
}

// decodeJSON reads a JSON object body strictly: malformed JSON is 400, a
// wrong type, an unknown field or a string that is not UTF-8 text without
// NUL bytes (textcheck.go) 422, naming the field.
func decodeJSON(c echo.Context, dst any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	if field, bad := badJSONText(body); bad {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: badTextMessage}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: "wrong type: " + te.Value}}
		case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"body": "must be a JSON object"}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: "unknown field"}}
		}
		return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"body": "must be a JSON object: " + err.Error()}}
	}
	if dec.More() {
		return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"body": "one JSON object only"}}
	}
	return nil
}

// apiThreadInput is the JSON of a new reply or note.
type apiThreadInput struct {
	Body    *string `json:"body"`
	Version *int64  `json:"version"`
	Status  *string `json:"status"` // replies only: the status after sending
	// Replies only: copies and files (api_replies.go).
	Cc          []string           `json:"cc"`
	Bcc         []string           `json:"bcc"`
	Attachments []apiNewAttachment `json:"attachments"`
}

// apiNote is POST /api/v1/conversations/:id/notes {"body": "...", "version": N}.
func (s *Server) apiNote(c echo.Context) error {
	return s.apiWrite(c, func(ctx context.Context, v helpdesk.Viewer, id int64, in apiThreadInput, seen int64) (*helpdesk.Written, error) {
		for field, given := range map[string]bool{"status": in.Status != nil, "cc": in.Cc != nil, "bcc": in.Bcc != nil, "attachments": in.Attachments != nil} {
			if given {
				return nil, &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: "unknown field"}}
			}
		}
		return s.cfg.Store.AddNote(ctx, v, id, *in.Body, seen)
	})
}

// apiWrite reads a new reply or note, writes it with add and answers 201
// with the thread.
func (s *Server) apiWrite(c echo.Context, add func(ctx context.Context, v helpdesk.Viewer, id int64, in apiThreadInput, seen int64) (*helpdesk.Written, error)) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	var in apiThreadInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Body == nil {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"body": "required"}}
	}
	seen, err := seenVersion(c, in.Version)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := viewer(c)
	w, err := add(ctx, v, id, in, seen)
	if err != nil {
		return s.apiRefusal(c, id, err)
	}
	t, err := s.writtenThread(c, id, w.ThreadID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

// writtenThread is a thread just written, as the API shows it; the
// answer gets the conversation's new version (ETag) and its Location.
func (s *Server) writtenThread(c echo.Context, id, threadID int64) (apiThread, error) {
	d, err := s.cfg.Store.Conversation(c.Request().Context(), viewer(c), id)
	if err != nil {
		return apiThread{}, err
	}
	for _, t := range d.Threads {
		if t.ID == threadID {
			setETag(c, d)
			c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/conversations/%d", id))
			return toAPIThread(t), nil
		}
	}
	return apiThread{}, fmt.Errorf("thread %d not found after writing it", threadID)
}

// apiReplyRetry is POST /api/v1/conversations/:id/replies/:thread/retry:
// a failed reply's mail is queued again (200 with the reply); 404 when the
// reply is not failed.
func (s *Server) apiReplyRetry(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	threadID, err := parseID(c, "thread")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := viewer(c)
	if err := s.cfg.Store.RetryReply(ctx, v, id, threadID); err != nil {
		return err
	}
	d, err := s.cfg.Store.Conversation(ctx, v, id)
	if err != nil {
		return err
	}
	for _, t := range d.Threads {
		if t.ID == threadID {
			return c.JSON(http.StatusOK, toAPIThread(t))
		}
	}
	return fmt.Errorf("thread %d not found after retrying it", threadID)
}

// seenVersion is the version a change was made on: the body's "version",
// the If-Match header ("7", W/"7" or 7), or the ?version= parameter of a
// route without a body; 0 when none is given (last write wins).
func seenVersion(c echo.Context, fromBody *int64) (int64, error) {
	bad := func(field string) error {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: "must be a conversation version (a positive whole number)"}}
	}
	if fromBody != nil {
		if *fromBody < 1 {
			return 0, bad("version")
		}
		return *fromBody, nil
	}
	field, raw := "If-Match", c.Request().Header.Get("If-Match")
	if raw == "" {
		field, raw = "version", c.QueryParam("version")
	}
	raw = strings.Trim(strings.TrimPrefix(strings.TrimSpace(raw), "W/"), `"`)
	if raw == "" || raw == "*" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return 0, bad(field)
	}
	return n, nil
}

// setETag tells the client the conversation's version, for If-Match.
func setETag(c echo.Context, d *helpdesk.ConversationDetail) {
	c.Response().Header().Set("ETag", `"`+itoa(d.Version)+`"`)
}

// apiRefusal answers a change refused on an older version: 409 with what
// changed since, by whom, and the conversation as it is now. Other errors
// go on as they are.
func (s *Server) apiRefusal(c echo.Context, id int64, err error) error {
	var se *helpdesk.StaleError
	if !errors.As(err, &se) {
		return err
	}
	d, rerr := s.cfg.Store.Conversation(c.Request().Context(), viewer(c), id)
	if rerr != nil {
		return rerr
	}
	setETag(c, d)
	return c.JSON(http.StatusConflict, map[string]any{
		"error":        fmt.Sprintf("the conversation changed since version %d: read it and try again", se.Seen),
		"changes":      se.Changes,
		"conversation": toAPIConversation(d),
	})
}

// apiPatchConversation is PATCH /api/v1/conversations/:id with
// {"status": "closed"} and/or {"assignee": 5} ({"assignee": null} or 0
// unassigns; a user's e-mail address works too). Nothing changes unless
// all of it is valid. 200 with the conversation.
func (s *Server) apiPatchConversation(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Status     *string         `json:"status"`
		Assignee   json.RawMessage `json:"assignee"`
		AssigneeID json.RawMessage `json:"assignee_id"`
		Version    *int64          `json:"version"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	seen, err := seenVersion(c, in.Version)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ch := helpdesk.ConversationChange{Status: in.Status, Seen: seen}
	raw, field := in.Assignee, "assignee"
	if raw == nil {
		raw, field = in.AssigneeID, "assignee_id"
	}
	v := viewer(c)
	if raw != nil {
		a, err := s.parseAssignee(c, v, id, raw, field)
		if err != nil {
			return err
		}
		ch.AssigneeID = &a
	}
	if in.Status == nil && raw == nil {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"status": "give status and/or assignee"}}
	}
	if err := s.cfg.Store.UpdateConversation(ctx, v, id, ch); err != nil {
		return s.apiRefusal(c, id, err)
	}
	d, err := s.cfg.Store.Conversation(ctx, v, id)
	if err != nil {
		return err
	}
	setETag(c, d)
	return c.JSON(http.StatusOK, toAPIConversation(d))
}

// parseAssignee reads a JSON user id, null, or e-mail address; 0 means
// unassign. An address is looked up only once the viewer may see the
// conversation, and an unknown one is refused in the words the store
// uses for a user without access: neither the status nor the message
// tells whether an address belongs to a user.
func (s *Server) parseAssignee(c echo.Context, v helpdesk.Viewer, convID int64, raw json.RawMessage, field string) (int64, error) {
	bad := func(msg string) error {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{field: msg}}
	}
	if string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return 0, bad("must be a user id, an e-mail address or null")
	}
	switch x := val.(type) {
	case json.Number:
		n = x
	case string:
		if x == "" {
			return 0, nil
		}
		if _, err := strconv.ParseInt(x, 10, 64); err == nil {
			n = json.Number(x)
			break
		}
		ctx := c.Request().Context()
		if _, err := s.cfg.Store.Conversation(ctx, v, convID); err != nil {
			return 0, err
		}
		u, err := s.cfg.Store.UserByEmail(ctx, x)
		if errors.Is(err, helpdesk.ErrNotFound) {
			return 0, bad(helpdesk.NoSuchAssignee)
		}
		if err != nil {
			return 0, err
		}
		return u.ID, nil
	default:
		return 0, bad("must be a user id, an e-mail address or null")
	}
	id, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || id < 0 {
		return 0, bad("must be a user id, an e-mail address or null")
	}
	return id, nil
}

// tagParam is the :name path parameter, unescaped once.
func tagParam(c echo.Context) (string, error) {
	name := c.Param("name")
	if strings.Contains(name, "%") {
		u, err := url.PathUnescape(name)
		if err != nil {
			return "", &fieldError{status: http.StatusBadRequest, fields: map[string]string{"name": "bad escape"}}
		}
		name = u
	}
	return name, nil
}

// apiTagAdd is POST /api/v1/conversations/:id/tags/:name (version in
// If-Match or ?version=): 200 with the conversation's tags; adding a tag
// it has is fine.
func (s *Server) apiTagAdd(c echo.Context) error {
	return s.apiTagChange(c, s.cfg.Store.AddTag)
}

// apiTagRemove is DELETE /api/v1/conversations/:id/tags/:name.
func (s *Server) apiTagRemove(c echo.Context) error {
	return s.apiTagChange(c, s.cfg.Store.RemoveTag)
}

func (s *Server) apiTagChange(c echo.Context, change func(ctx context.Context, v helpdesk.Viewer, id int64, name string, seen int64) error) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	name, err := tagParam(c)
	if err != nil {
		return err
	}
	seen, err := seenVersion(c, nil)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := viewer(c)
	if err := change(ctx, v, id, name, seen); err != nil {
		return s.apiRefusal(c, id, err)
	}
	d, err := s.cfg.Store.Conversation(ctx, v, id)
	if err != nil {
		return err
	}
	setETag(c, d)
	return c.JSON(http.StatusOK, map[string]any{"conversation_id": id, "tags": d.Tags, "version": d.Version})
}
