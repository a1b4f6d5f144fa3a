package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	for _, stopBy := range []string{"Stop", "context"} {
		t.Run(stopBy, func(t *testing.T) {
			srv := New(Config{Store: st, Inspector: locks.NewLocal(locks.Options{}).Inspector(), Listen: "127.0.0.1:0",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			srv.Stop() // before Start: nothing to do
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(ctx); err == nil {
				t.Fatal("second Start succeeded")
			}
			url := "http://" + srv.Addr() + "/healthz"
			resp, err := http.Get(url)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %v %v", resp, err)
			}
			resp.Body.Close()
			if stopBy == "Stop" {
				srv.Stop()
				srv.Stop()
			} else {
				cancel()
				srv.Stop() // waits for the shutdown the cancel started
			}
			if _, err := http.Get(url); err == nil {
				t.Fatal("still serving after stop")
			}
		})
	}
}
