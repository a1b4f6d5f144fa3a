package fetcher

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A batch's downloads are split so that none takes more than an eighth of
// the byte budget, but a message larger than that goes alone.
func TestLimiterChunks(t *testing.T) {
	l := newLimiter(4, 80, nil) // chunks of at most 10 bytes
	envs := []Envelope{{UID: 1, Size: 4}, {UID: 2, Size: 6}, {UID: 3, Size: 3}, {UID: 4, Size: 1000}, {UID: 5, Size: 2}}
	var got [][]uint32
	for _, c := range l.chunks(envs) {
		var uids []uint32
		for _, e := range c {
			uids = append(uids, e.UID)
		}
		got = append(got, uids)
	}
	want := [][]uint32{{1, 2}, {3}, {4}, {5}}
	if len(got) != len(want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) || got[i][0] != want[i][0] {
			t.Fatalf("chunks %v, want %v", got, want)
		}
	}
	if c := (*limiter)(nil).chunks(envs); len(c) != 1 || len(c[0]) != len(envs) {
		t.Fatalf("without a limiter: %d chunks, want the batch whole", len(c))
	}
}

// Downloads wait for both a slot and their bytes; one larger than the
// whole budget takes all of it instead of waiting forever; a stop request
// ends the wait with errStopped.
func TestLimiterDownloads(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(2, 100, nil)
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	big, err := l.download(ctx, nil, 1<<30) // clamped to the budget
	if err != nil {
		t.Fatalf("a download larger than the budget: %v", err)
	}
	if _, err := l.download(short(), nil, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the whole budget taken, another download started: %v", err)
	}
	big()
	a, err := l.download(ctx, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.download(ctx, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.download(short(), nil, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third download started with two slots: %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if _, err := l.download(ctx, stop, 10); !errors.Is(err, errStopped) {
		t.Fatalf("a stop request while waiting: %v, want errStopped", err)
	}
	a()
	b()
	if release, err := l.download(short(), nil, 100); err != nil {
		t.Fatalf("everything released, yet the whole budget is not free: %v", err)
	} else {
		release()
	}
}
