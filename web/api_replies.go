package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiNewAttachment is a file of a new reply in the API: its bytes in standard
// base64.
type apiNewAttachment struct {
	Filename      string `json:"filename"`
	ContentType   string `json:"content_type"`
	ContentBase64 string `json:"content_base64"`
}

// apiReply is POST /api/v1/conversations/:id/replies {"body": "...",
// "cc": [...], "bcc": [...], "attachments": [{"filename", "content_type",
// "content_base64"}], "version": N, "status": "closed"}: 201 with the new
// thread and its delivery (queued: the mail waits in the outbox). The
// status after sending is pending unless given. Bad input is 422 with
// every field's error.
func (s *Server) apiReply(c echo.Context) error {
	return s.apiWrite(c, func(ctx context.Context, v helpdesk.Viewer, id int64, in apiThreadInput, seen int64) (*helpdesk.Written, error) {
		r := helpdesk.NewReply{Body: *in.Body, Seen: seen}
		fields := map[string]string{}
		if in.Status != nil {
			if r.Status = *in.Status; r.Status == "" {
				fields["status"] = "must be one of " + strings.Join(helpdesk.Statuses, ", ")
			}
		}
		var err error
		if r.Cc, err = helpdesk.CheckRecipients("cc", in.Cc); err != nil {
			mergeFields(fields, err)
		}
		if r.Bcc, err = helpdesk.CheckRecipients("bcc", in.Bcc); err != nil {
			mergeFields(fields, err)
		}
		if r.Attachments, err = s.apiFiles(in.Attachments); err != nil {
			mergeFields(fields, err)
		}
		if len(fields) > 0 {
			return nil, &fieldError{status: http.StatusUnprocessableEntity, fields: fields}
		}
		return s.cfg.Store.AddReply(ctx, v, id, r)
	})
}

// apiFiles decodes the files of a reply and checks them against the limits.
func (s *Server) apiFiles(in []apiNewAttachment) ([]helpdesk.NewAttachment, error) {
	files := make([]helpdesk.NewAttachment, len(in))
	for i, a := range in {
		field := fmt.Sprintf("attachments[%d]", i)
		if strings.TrimSpace(a.Filename) == "" {
			return nil, &helpdesk.ValidationError{Fields: map[string]string{field + ".filename": "required"}}
		}
		if int64(base64.StdEncoding.DecodedLen(len(a.ContentBase64))) > s.cfg.Attachments.PerFile+3 {
			return nil, &helpdesk.ValidationError{Fields: map[string]string{field: fmt.Sprintf("%s is over %s: each file may be at most that",
				helpdesk.AttachmentFilename(a.Filename), helpdesk.ByteSize(s.cfg.Attachments.PerFile))}}
		}
		data, err := base64.StdEncoding.DecodeString(a.ContentBase64)
		if err != nil {
			return nil, &helpdesk.ValidationError{Fields: map[string]string{field + ".content_base64": "must be standard base64"}}
		}
		files[i] = helpdesk.NewAttachment{Filename: a.Filename, ContentType: a.ContentType, Data: data}
	}
	return helpdesk.CheckAttachments(files, s.cfg.Attachments)
}
