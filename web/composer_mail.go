package web

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The reply composer: the reply with its copies and files, and forwarding
// the conversation. The conversation page's form is multipart, so every
// button of it may carry the chosen files; only "Send" uses them.

// conversationReply sends the typed reply to the customer (via the
// outbox), with its Cc, Bcc and files, and sets the status the button
// chose: pending ("Send") or closed ("Send and close"). Refused input
// (a bad address, a file too large) shows the page again with the error
// in place and the text kept; files have to be chosen again.
func (s *Server) conversationReply(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		r, err := s.composedReply(c, f)
		if err != nil {
			return "", err
		}
		w, err := s.cfg.Store.AddReply(ctx, v, id, r)
		if err != nil {
			return "", err
		}
		f.Reply, f.Bcc, f.fresh = "", "", true
		f.anchor = "#thread-" + itoa(w.ThreadID)
		return "reply-queued", nil
	})
}

// composedReply reads the reply of the form: all its errors at once.
func (s *Server) composedReply(c echo.Context, f *conversationForm) (helpdesk.NewReply, error) {
	r := helpdesk.NewReply{Body: f.Reply, Seen: f.Seen, Status: c.FormValue("then")}
	fields := map[string]string{}
	var err error
	if r.Cc, err = helpdesk.ParseRecipients("cc", f.Cc); err != nil {
		mergeFields(fields, err)
	}
	if r.Bcc, err = helpdesk.ParseRecipients("bcc", f.Bcc); err != nil {
		mergeFields(fields, err)
	}
	if r.Attachments, err = s.uploadedFiles(c); err != nil {
		if errorFields(err) == nil {
			return r, err
		}
		mergeFields(fields, err)
	}
	if len(fields) > 0 {
		return r, &helpdesk.ValidationError{Fields: fields}
	}
	return r, nil
}

// mergeFields copies the field errors of err into fields.
func mergeFields(fields map[string]string, err error) {
	for k, v := range errorFields(err) {
		fields[k] = v
	}
}

// uploadedFiles reads the files chosen in the form's "attachments" input
// (none chosen: an empty part, skipped) within the limits.
func (s *Server) uploadedFiles(c echo.Context) ([]helpdesk.NewAttachment, error) {
	form := c.Request().MultipartForm
	if form == nil {
		return nil, nil
	}
	var files []helpdesk.NewAttachment
	for _, fh := range form.File["attachments"] {
		if fh.Filename == "" && fh.Size == 0 {
			continue
		}
		if fh.Size > s.cfg.Attachments.PerFile {
			// Refused before reading: named, with the limit.
			return nil, &helpdesk.ValidationError{Fields: map[string]string{"attachments": fmt.Sprintf("%s is %s: each file may be at most %s",
				helpdesk.AttachmentFilename(fh.Filename), helpdesk.ByteSize(fh.Size), helpdesk.ByteSize(s.cfg.Attachments.PerFile))}}
		}
		data, err := readUpload(fh)
		if err != nil {
			return nil, err
		}
		files = append(files, helpdesk.NewAttachment{Filename: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data})
	}
	return helpdesk.CheckAttachments(files, s.cfg.Attachments)
}

func readUpload(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("read upload %q: %w", fh.Filename, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// conversationForward sends the conversation to the typed address with
// the typed note, and records it on the conversation.
func (s *Server) conversationForward(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		w, err := s.cfg.Store.ForwardConversation(ctx, v, id, helpdesk.Forward{To: f.ForwardTo, Note: f.ForwardNote, Seen: f.Seen})
		if err != nil {
			return "", err
		}
		f.ForwardTo, f.ForwardNote = "", ""
		f.anchor = "#thread-" + itoa(w.ThreadID)
		return "forwarded", nil
	})
}

// uploadBodyLimit is how large a request that may carry files may be: a
// multipart post of the conversation page's form, or an API reply. There
// is room for a reply's files as base64 (the API), and for a file over
// the limits to arrive whole, so that it is refused in place with what
// was typed kept, rather than cut off.
func (s *Server) uploadBodyLimit(c echo.Context) (int64, bool) {
	req, path := c.Request(), c.Path()
	page := strings.HasPrefix(path, "/conversations/:id/") && strings.HasPrefix(req.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm)
	if req.Method != http.MethodPost || !page && path != "/api/v1/conversations/:id/replies" {
		return 0, false
	}
	return 3*s.cfg.Attachments.PerReply + maxBody, true
}
