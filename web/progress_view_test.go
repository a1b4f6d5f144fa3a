package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The API's progress object: numbers from the stored progress, null ETA
// until there is a rate, and the page's ETA text.
func TestProgressView(t *testing.T) {
	if v := newProgressView(nil); v != nil {
		t.Fatalf("no progress: %+v, want nil (null in the API)", v)
	}
	start := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		done    int
		elapsed time.Duration
		json    string
		eta     string
	}{
		{0, 0, `"done":0,"total":40000,"left":40000,"rate_per_s":0,"eta_s":null`, "unknown yet"},
		{10000, 25 * time.Second, `"done":10000,"total":40000,"left":30000,"rate_per_s":400,"eta_s":75`, "1m15s"},
		{39000, 97500 * time.Millisecond, `"done":39000,"total":40000,"left":1000,"rate_per_s":400,"eta_s":3`, "3s"},
		{1000, 3 * time.Second, `"done":1000,"total":40000,"left":39000,"rate_per_s":333.3,"eta_s":117`, "1m57s"},
	} {
		v := newProgressView(&helpdesk.RunProgress{Folder: "INBOX", Done: c.done, Total: 40000, StartedAt: start, UpdatedAt: start.Add(c.elapsed)})
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"folder":"INBOX",`+c.json+`,"started_at":"2026-11-30T06:00:00Z"`) {
			t.Errorf("%d done: %s, want %s", c.done, raw, c.json)
		}
		if got := v.ETA(); got != c.eta {
			t.Errorf("%d done: ETA text %q, want %q", c.done, got, c.eta)
		}
	}
}
