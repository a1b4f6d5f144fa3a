package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// The SQLite database and its -wal and -shm files are readable by their
// owner only, under a umask that would leave them 0644; a database that
// an earlier version left readable by others is restricted when opened.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "helpdesk.db")
	files := []string{path, path + "-wal", path + "-shm"}
	checkModes := func(when string) {
		t.Helper()
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s: %s has mode %o, want no access for group and others", when, filepath.Base(f), perm)
			}
		}
	}
	s := teststore.OpenURL(t, "sqlite:"+path, store.Options{})
	if _, err := s.CreateUser(ctx, helpdesk.UserInput{Email: "a@example.com", Name: "A", Role: "agent", Password: "password-123"}); err != nil {
		t.Fatal(err)
	}
	checkModes("new database")
	s.Close()

	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	s = teststore.OpenURL(t, "sqlite:"+path, store.Options{})
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	checkModes("database of an earlier version")
}
