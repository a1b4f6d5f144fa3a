package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Customer returns a customer with the conversations of theirs the viewer
// may see, or ErrNotFound: for an agent also when they see none of them,
// so that an agent cannot tell who wrote to other mailboxes.
func (s *Store) Customer(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.Customer, error) {
	var cu helpdesk.Customer
	err := s.convQ.Customer.GetContext(ctx, &cu, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("customer %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get customer %d: %w", id, err)
	}
	if cu.Conversations, err = s.CustomerConversations(ctx, v, id); err != nil {
		return nil, err
	}
	if len(cu.Conversations) == 0 && !v.Admin {
		return nil, fmt.Errorf("customer %d: %w", id, helpdesk.ErrNotFound)
	}
	cu.Names = []string{}
	if err := s.convQ.CustomerNames.SelectContext(ctx, &cu.Names, append([]any{id, cu.Email}, viewerArgs(v)...)...); err != nil {
		return nil, fmt.Errorf("get names of customer %d: %w", id, err)
	}
	return &cu, nil
}

// CustomerConversations lists the conversations of a customer the viewer
// may see, newest message first, with their tags; not the merged ones.
func (s *Store) CustomerConversations(ctx context.Context, v helpdesk.Viewer, customerID int64) ([]helpdesk.ConversationSummary, error) {
	convs := []helpdesk.ConversationSummary{}
	if err := s.convQ.CustomerConversations.SelectContext(ctx, &convs, append([]any{customerID}, viewerArgs(v)...)...); err != nil {
		return nil, fmt.Errorf("list conversations of customer %d: %w", customerID, err)
	}
	if err := s.attachTags(ctx, convs); err != nil {
		return nil, err
	}
	return convs, nil
}
