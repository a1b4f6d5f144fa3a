package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"

	"github.com/jmoiron/sqlx"
)

// All SQL of the store lives in queries/*.sql, one file per area, as named
// queries (in the manner of listmonk's queries.sql):
//
//	-- name: claim-fence
//	UPDATE mailbox_fences SET fence = ? WHERE ...
//
// queries/postgres/ and queries/sqlite/ hold the few queries whose text
// differs between the two databases, under the same names. Each area's
// queries are prepared into a struct whose fields name them by tag
// (`query:"claim-fence"`, or `query:"insert-threads,postgres"` for a query
// only one database has) when the store starts, so that a broken query,
// a field without a query or a query without a field stops the boot, not a
// request. Texts use ? placeholders and are rebound for the database.

//go:embed queries
var queryFiles embed.FS

// queryArea is one queries/*.sql file and the struct its queries go into.
type queryArea struct {
	file string
	dst  any // pointer to a struct of *sqlx.Stmt fields tagged `query:"name"`
}

// areas lists every query file with its struct.
func (s *Store) areas() []queryArea {
	return []queryArea{
		{"fetch.sql", &s.fetchQ},
		{"users.sql", &s.userQ},
		{"mailboxes.sql", &s.mailboxQ},
		{"outbox.sql", &s.outboxQ},
		{"conversations.sql", &s.convQ},
		{"oauth.sql", &s.oauthQ},
		{"events.sql", &s.eventQ},
		{"search.sql", &s.searchQ},
		{"composer_aids.sql", &s.composerQ},
	}
}

// prepareQueries prepares every named query of every area.
func (s *Store) prepareQueries(ctx context.Context) error {
	for _, a := range s.areas() {
		texts, err := readQueries(a.file, s.dialect.Name())
		if err != nil {
			return err
		}
		if err := s.prepareInto(ctx, a, texts); err != nil {
			return err
		}
	}
	// The conversation list is composed, not prepared (conversationlist.go).
	list, err := readListPieces(s.dialect.Name())
	if err != nil {
		return err
	}
	s.list = list
	return nil
}

// readQueries returns the named queries of one area for a dialect: the
// common file, with the dialect's file of the same name on top.
func readQueries(file, dialect string) (map[string]string, error) {
	texts, err := parseQueryFile(path.Join("queries", file))
	if err != nil {
		return nil, err
	}
	own, err := parseQueryFile(path.Join("queries", dialect, file))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for name, text := range own {
		texts[name] = text
	}
	return texts, nil
}

// parseQueryFile splits a file at its "-- name: NAME" lines; comment lines
// are left out of the texts.
func parseQueryFile(name string) (map[string]string, error) {
	body, err := queryFiles.ReadFile(name)
	if err != nil {
		return nil, err
	}
	texts := map[string]string{}
	var current string
	var text strings.Builder
	flush := func() error {
		if current == "" {
			return nil
		}
		if _, dup := texts[current]; dup {
			return fmt.Errorf("%s: query %q defined twice", name, current)
		}
		texts[current] = strings.TrimSpace(text.String())
		text.Reset()
		return nil
	}
	for _, line := range strings.Split(string(body), "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			current = strings.TrimSpace(n)
			continue
		}
		// Comments stay in the file: a ? in one would be taken for a
		// placeholder when the text is rebound for PostgreSQL.
		if current != "" && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			text.WriteString(line)
			text.WriteByte('\n')
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return texts, nil
}

// prepareInto prepares each tagged field's query; every query of the file
// must have a field and every field a query.
func (s *Store) prepareInto(ctx context.Context, a queryArea, texts map[string]string) error {
	v := reflect.ValueOf(a.dst).Elem()
	used := map[string]bool{}
	for i := range v.NumField() {
		name, only, _ := strings.Cut(v.Type().Field(i).Tag.Get("query"), ",")
		if only != "" && only != s.dialect.Name() {
			continue // another database's query
		}
		text, ok := texts[name]
		if name == "" || !ok {
			return fmt.Errorf("queries/%s: no query %q for field %s", a.file, name, v.Type().Field(i).Name)
		}
		st, err := s.db.PreparexContext(ctx, s.db.Rebind(text))
		if err != nil {
			return fmt.Errorf("queries/%s: prepare %s: %w", a.file, name, err)
		}
		v.Field(i).Set(reflect.ValueOf(st))
		used[name] = true
	}
	for name := range texts {
		if !used[name] {
			return fmt.Errorf("queries/%s: query %q is not used", a.file, name)
		}
	}
	return nil
}

// closeQueries releases every prepared statement.
func (s *Store) closeQueries() {
	for _, a := range s.areas() {
		v := reflect.ValueOf(a.dst).Elem()
		for i := range v.NumField() {
			if st, ok := v.Field(i).Interface().(*sqlx.Stmt); ok && st != nil {
				st.Close()
			}
		}
	}
}
