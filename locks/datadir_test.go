package locks

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestLockDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock belongs to the open file, so a second open in this same process
	// conflicts just as another process would.
	_, err = LockDataDir(dir)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrHeld naming pid %d", err, os.Getpid())
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil { // idempotent
		t.Fatal(err)
	}
	release2, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("retake after release: %v", err)
	}
	if err := release2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockDataDirMissingDir(t *testing.T) {
	t.Parallel()
	if _, err := LockDataDir(t.TempDir() + "/nope"); err == nil || errors.Is(err, ErrHeld) {
		t.Fatalf("missing dir: %v", err)
	}
}
