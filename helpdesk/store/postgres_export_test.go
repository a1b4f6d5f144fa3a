package store

import "context"

// SettingForTest is a PostgreSQL setting as the store's connections see it.
func (s *Store) SettingForTest(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.GetContext(ctx, &v, "SELECT current_setting($1)", name)
	return v, err
}
