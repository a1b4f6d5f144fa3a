package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The conversation page is one form: status, assignee, tags, the reply and
// the note are sent together whatever button the agent presses, so an
// action never throws away what was typed elsewhere on the page. An
// action that is refused (bad input, or made on an older version of the
// conversation) shows the page again, as it is now, with the errors inline
// and the typed text kept; one that succeeds while other text is still
// typed shows it again too, instead of redirecting.

// conversationForm is the agent's input on the conversation page.
type conversationForm struct {
	Seen   int64             // the version of the conversation the page showed
	Reply  string            // typed reply (the "body" box), kept until it is sent
	Note   string            // typed note, kept until it is added
	Tag    string            // typed tag, kept until it is added
	Fields map[string]string // inline errors, by field
	Stale  *helpdesk.StaleError
	// Changed describes Stale for people, with the conversation as it is now.
	Changed []string
	anchor  string // where to go after success

	// Cc and Bcc are the reply's copies as typed; a fresh page starts Cc
	// with "reply all" (helpdesk.ReplyAllCc).
	Cc, Bcc     string
	ForwardTo   string // forward: the address and the note, kept until sent
	ForwardNote string
	fresh       bool // nothing typed yet: fill in the defaults
}

// conversationAct is one action of the form. It clears the input it used
// up and returns the notice to show.
type conversationAct func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (notice string, err error)

// conversationAction runs an action of the conversation page: on success
// back to the page (a redirect, or the page with the text still typed),
// on bad input or a stale version the page again with the refusal
// inline and nothing typed lost.
func (s *Server) conversationAction(c echo.Context, act conversationAct) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	f, err := parseConversationForm(c)
	if err != nil {
		return err
	}
	notice := ""
	if len(f.Fields) == 0 {
		notice, err = act(c.Request().Context(), viewer(c), id, f)
	}
	if err != nil {
		if !f.refusedBy(err) {
			return err
		}
		return s.showConversation(c, id, statusOf(err), f)
	}
	if len(f.Fields) > 0 {
		return s.showConversation(c, id, http.StatusUnprocessableEntity, f)
	}
	if f.Reply != "" || f.Note != "" || f.Tag != "" || f.ForwardTo != "" || f.ForwardNote != "" {
		c.Set(ctxNotice, notice)
		return s.showConversation(c, id, http.StatusOK, f)
	}
	return c.Redirect(http.StatusSeeOther, "/conversations/"+itoa(id)+"?notice="+notice+f.anchor)
}

func parseConversationForm(c echo.Context) (*conversationForm, error) {
	if _, err := c.FormParams(); err != nil {
		return nil, err
	}
	f := &conversationForm{Reply: c.FormValue("body"), Note: c.FormValue("note"), Tag: c.FormValue("tag"),
		Cc: c.FormValue("cc"), Bcc: c.FormValue("bcc"), ForwardTo: c.FormValue("forward_to"), ForwardNote: c.FormValue("forward_note"),
		Fields: map[string]string{}}
	if raw := c.FormValue("version"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			f.Fields["version"] = "the page's version is not a number: reload the page"
		}
		f.Seen = n
	}
	return f, nil
}

// refusedBy takes a refusal the agent can act on into the form: a stale
// version or bad input. Other errors (not found, server errors) are not.
func (f *conversationForm) refusedBy(err error) bool {
	var se *helpdesk.StaleError
	if errors.As(err, &se) {
		f.Stale = se
		return true
	}
	fields := errorFields(err)
	if fields == nil {
		return false
	}
	for k, v := range fields {
		f.Fields[k] = v
	}
	return true
}

// renameField names a domain's field as the page does (a note's "body"
// is the "note" box).
func renameField(err error, from, to string) error {
	var ve *helpdesk.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	fields := map[string]string{}
	for k, v := range ve.Fields {
		if k == from {
			k = to
		}
		fields[k] = v
	}
	return &helpdesk.ValidationError{Fields: fields}
}

// describeChanges says what changed since the page the agent acted on,
// with the conversation as it is now.
func (f *conversationForm) describeChanges(d *helpdesk.ConversationDetail) {
	if f.Stale == nil {
		return
	}
	f.Changed = nil
	for _, ch := range f.Stale.Changes {
		var line string
		switch ch.Field {
		case helpdesk.ChangedStatus:
			line = ch.Who() + " set the status to " + d.Status + "."
		case helpdesk.ChangedAssignee:
			to := "nobody"
			if d.AssigneeName != nil {
				to = *d.AssigneeName
			}
			line = ch.Who() + " assigned it to " + to + "."
		case helpdesk.ChangedMessages:
			line = ch.Who() + " replied: read the reply below before you write."
			if ch.ByID == nil {
				line = "The customer wrote again: read the new message below before you write."
			}
		case helpdesk.ChangedTags:
			line = ch.Who() + " changed the tags."
		}
		f.Changed = append(f.Changed, line)
	}
}

// Error is the inline error of a field, for the template.
func (f *conversationForm) Error(field string) string { return f.Fields[field] }
