package presence

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// TestBoards: on both boards a heartbeat shows everyone on the
// conversation with what they do, leaving removes at once, and an entry
// that is not renewed expires on its own.
func TestBoards(t *testing.T) {
	const ttl = 300 * time.Millisecond
	boards := map[string]func(t *testing.T) Board{
		"local": func(*testing.T) Board { return NewLocal(ttl) },
		"redis": func(t *testing.T) Board { return NewRedis(testserver.StartRedis(t).Client(t), ttl) },
	}
	for name, newBoard := range boards {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := newBoard(t)
			ada, bob := Entry{UserID: 1, Name: "Ada"}, Entry{UserID: 2, Name: "Bob", Typing: true}
			if _, err := b.Beat(ctx, 7, bob); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Beat(ctx, 8, Entry{UserID: 3, Name: "Cy"}); err != nil {
				t.Fatal(err)
			}
			here, err := b.Beat(ctx, 7, ada)
			if err != nil {
				t.Fatal(err)
			}
			if len(here) != 2 || here[0] != ada || here[1] != bob {
				t.Fatalf("on conversation 7: %+v; want Ada viewing and Bob typing", here)
			}
			if err := b.Leave(ctx, 7, bob.UserID); err != nil {
				t.Fatal(err)
			}
			if here, _ := b.Beat(ctx, 7, ada); len(here) != 1 || here[0] != ada {
				t.Fatalf("after Bob left: %+v", here)
			}
			// Cy stops beating: gone after the TTL, with nobody removing him.
			deadline := time.Now().Add(10 * time.Second)
			for {
				here, err := b.Beat(ctx, 8, Entry{UserID: 4, Name: "Di"})
				if err != nil {
					t.Fatal(err)
				}
				if len(here) == 1 && here[0].UserID == 4 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Cy never expired: %+v", here)
				}
				time.Sleep(50 * time.Millisecond) // polling the condition
			}
		})
	}
}
