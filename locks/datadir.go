//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package locks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// LockDataDir takes an exclusive, non-blocking flock on dir/fetch.lock so
// that a second embedded process on the same data directory refuses to
// fetch: in-process leases cannot see another process. The kernel drops the
// lock when the process dies, so there is nothing stale to clean up. The
// holder's pid is written into the file so the error can name it; the error
// wraps ErrHeld. release is idempotent.
func LockDataDir(dir string) (release func() error, err error) {
	path := filepath.Join(dir, "fetch.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locks: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); perr == nil {
				return nil, fmt.Errorf("%w: %s is locked by pid %d", ErrHeld, path, pid)
			}
			return nil, fmt.Errorf("%w: %s is locked by another process", ErrHeld, path)
		}
		return nil, fmt.Errorf("locks: flock %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		f.Close() // closing drops the flock
		return nil, fmt.Errorf("locks: write pid to %s: %w", path, err)
	}
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			// Empty the file first so nobody reads our pid after we let go.
			_ = f.Truncate(0)
			// Unlock explicitly: a child forked meanwhile shares the open
			// file until its exec, and Close alone would leave it locked.
			rerr = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			if err := f.Close(); rerr == nil {
				rerr = err
			}
		})
		return rerr
	}, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}
