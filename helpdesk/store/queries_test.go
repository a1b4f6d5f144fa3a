package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A broken query, a field without a query or a query without a field stops
// the start, not a request.
func TestPrepareRefusesBrokenQueryFiles(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "q.db"), Options{Signer: helpdesk.NewMailSigner("test-secret-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var dst struct {
		Fence *sqlx.Stmt `query:"fence"`
	}
	area := queryArea{file: "test.sql", dst: &dst}
	for name, tc := range map[string]struct {
		texts map[string]string
		want  string
	}{
		"broken":  {map[string]string{"fence": "SELECT fence FROM no_such_table"}, "prepare fence"},
		"missing": {map[string]string{}, `no query "fence"`},
		"unused":  {map[string]string{"fence": "SELECT 1", "extra": "SELECT 2"}, `query "extra" is not used`},
	} {
		err := s.prepareInto(ctx, area, tc.texts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
	if err := s.prepareInto(ctx, area, map[string]string{"fence": "SELECT fence FROM mailbox_fences WHERE mailbox_id = ?"}); err != nil || dst.Fence == nil {
		t.Fatalf("a good query: %v", err)
	}
	dst.Fence.Close()
}

func TestParseQueryFileSplitsAtNames(t *testing.T) {
	texts, err := readQueries("fetch.sql", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	if got := texts["lock-fence"]; !strings.Contains(got, "FOR UPDATE OF f") {
		t.Errorf("PostgreSQL's lock-fence is %q, want its own text with FOR UPDATE", got)
	}
	if got := texts["claim-fence"]; !strings.HasPrefix(got, "UPDATE mailbox_fences") || strings.Contains(got, "-- name:") {
		t.Errorf("claim-fence is %q", got)
	}
	for name, text := range texts {
		if strings.Contains(text, "--") {
			t.Errorf("%s keeps a comment, whose ? would be rebound as a placeholder: %q", name, text)
		}
	}
}
