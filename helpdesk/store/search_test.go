package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func TestConversationSearch(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			mueller := w.ingest(t, mail{from: "jm@kunde.example", name: "Jürgen Müller", subject: "Rechnung fehlt", text: "Guten Tag"}).ConversationID
			inBody := w.ingest(t, mail{from: "anna@kunde.example", subject: "Lieferung", text: "Herr Müller hat angerufen, wegen der Rechnung."}).ConversationID
			inSubject := w.ingest(t, mail{from: "bert@kunde.example", subject: "Rechnung 2026", text: "Anbei."}).ConversationID
			other := w.ingest(t, mail{mailbox: w.mb2, from: "cafe@kunde.example", subject: "Café order", text: "Straße fehlt"}).ConversationID
			if err := w.s.AddTag(ctx, w.adminV(), inBody, "vip", 0); err != nil {
				t.Fatal(err)
			}

			search := func(v helpdesk.Viewer, q string) *helpdesk.ConversationList {
				t.Helper()
				l, err := w.s.Conversations(ctx, v, helpdesk.ConversationFilter{Query: q})
				if err != nil {
					t.Fatalf("%q: %v", q, err)
				}
				return l
			}
			cases := []struct {
				q    string
				want []int64
			}{
				// Accents and case fold, and the German spelling matches.
				{"Müller", []int64{mueller, inBody}},
				{"Muller", []int64{mueller, inBody}},
				{"mueller", []int64{mueller, inBody}},
				{"MÜLL", []int64{mueller, inBody}},
				{"cafe", []int64{other}},
				{"strasse", []int64{other}},
				{"straße", []int64{other}},
				// A subject match ranks above a body match, however new.
				{"rechnung", []int64{inSubject, mueller, inBody}},
				{"rechnung 2026", []int64{inSubject}},
				// The last word may be the start of a word, the others are
				// whole words.
				{"2026 rech", []int64{inSubject}},
				{"rech 2026", []int64{}},
				{"from:jm@kunde.ex", []int64{mueller}},
				{"from:jm@kun.example", []int64{}},
				// Filters in the query.
				{"from:müller", []int64{mueller}},
				{"from:jm@kunde.example", []int64{mueller}},
				{"rechnung tag:vip", []int64{inBody}},
				{"tag:vip", []int64{inBody}},
				{"rechnung mailbox:support1@example.com", []int64{inSubject, mueller, inBody}},
				{"mailbox:\"Support 2\"", []int64{}}, // a value ends at the space
				{"mailbox:support2@example.com", []int64{other}},
				{"rechnung status:closed", []int64{}},
				{"nothing-like-this", []int64{}},
			}
			for _, tc := range cases {
				if got := ids(search(w.adminV(), tc.q)); !eqIDs(got, tc.want) {
					t.Errorf("%q: got %v, want %v", tc.q, got, tc.want)
				}
			}
			if got := ids(search(w.agentV(), "order")); !eqIDs(got, []int64{}) {
				t.Errorf("agent searching another mailbox: got %v", got)
			}
			l := search(w.adminV(), "rechnung status:active")
			if l.Total != 3 || l.Counts["active"] != 3 {
				t.Errorf("counts %v total %d", l.Counts, l.Total)
			}

			// Matches are marked in subject and preview, the text escaped.
			l = search(w.adminV(), "muller")
			h := l.Conversations[1].Highlight
			if h == nil || h.Preview != "Herr <mark>Müller</mark> hat angerufen, wegen der Rechnung." {
				t.Errorf("highlight %+v", h)
			}
			xss := w.ingest(t, mail{from: "x@kunde.example", subject: "<b>Zugang</b> & Passwort", text: "x"}).ConversationID
			l = search(w.adminV(), "zugang")
			if got := ids(l); !eqIDs(got, []int64{xss}) || l.Conversations[0].Highlight.Subject != "&lt;b&gt;<mark>Zugang</mark>&lt;/b&gt; &amp; Passwort" {
				t.Errorf("escaped highlight: %v %+v", got, l.Conversations[0].Highlight)
			}

			// A message is searchable as soon as its ingest committed,
			// in a new conversation and in an existing one.
			first := w.ingest(t, mail{from: "q@kunde.example", subject: "Quittung", text: "bitte", messageID: "q1@kunde.example"}).ConversationID
			if got := ids(search(w.adminV(), "quittung")); !eqIDs(got, []int64{first}) {
				t.Errorf("new conversation: got %v", got)
			}
			w.ingest(t, mail{from: "q@kunde.example", subject: "Re: Quittung", text: "Überweisung erledigt", inReplyTo: "q1@kunde.example"})
			if got := ids(search(w.adminV(), "uberweisung")); !eqIDs(got, []int64{first}) {
				t.Errorf("reply: got %v", got)
			}
		})
	}
}

func TestConversationSearchRefusesOddQueries(t *testing.T) {
	w := setupWorkspace(t, "sqlite")
	for _, q := range []string{strings.Repeat("a", 250), "%", "?!*\"()", strings.Repeat("word ", 13)} {
		_, err := w.s.Conversations(context.Background(), w.adminV(), helpdesk.ConversationFilter{Query: q})
		var ve *helpdesk.ValidationError
		if !errors.As(err, &ve) || ve.Fields["q"] == "" {
			t.Errorf("%.20q: %v, want a validation error of q", q, err)
		}
	}
}

// TestSearchFindsRepliesAndNotes: an agent's reply and note are
// searchable as soon as they are written, and a merge takes the merged
// conversation's words into its target.
func TestSearchFindsRepliesAndNotes(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "kim@kunde.example", subject: "Drucker", text: "Er druckt nicht."}).ConversationID
			other := w.ingest(t, mail{from: "kim@kunde.example", subject: "Scanner", text: "Er scannt nicht."}).ConversationID
			if _, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Bitte tauschen Sie die Tonerkartusche."}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.AddNote(ctx, w.agentV(), other, "Kundin ruft zurück wegen Garantieverlängerung", 0); err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string][]int64{
				"tonerkartusche": {conv}, "garantieverlangerung": {other}, "zuruck": {other}, "zurueck": {other},
			} {
				if got := ids(searchList(t, w, q)); !eqIDs(got, want) {
					t.Errorf("%q: got %v, want %v", q, got, want)
				}
			}
			if err := w.s.MergeConversation(ctx, w.agentV(), other, conv, 0); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"garantieverlangerung", "scannt", "tonerkartusche"} {
				if got := ids(searchList(t, w, q)); !eqIDs(got, []int64{conv}) {
					t.Errorf("after the merge, %q: got %v, want the target %d", q, got, conv)
				}
			}
		})
	}
}

// TestSearchRebuildRunsOnce: a rebuild the migration asked for
// (search_reindex) indexes every conversation with its replies and notes
// when the store is migrated, from where an interrupted one stopped, and
// then no more: later starts leave the index alone.
func TestSearchRebuildRunsOnce(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := teststore.URL(t, dialect)
			w := setupWorkspaceAt(t, url)
			if n := w.count(t, "SELECT COUNT(*) FROM search_reindex"); n != 0 {
				t.Fatalf("a fresh store's rebuild is not done: %d rows", n)
			}
			done := w.ingest(t, mail{from: "a@kunde.example", subject: "Erledigt", text: "alt"}).ConversationID
			c := w.ingest(t, mail{from: "o@kunde.example", name: "Öztürk", subject: "Alte Anfrage", text: "Kündigung"}).ConversationID
			if _, err := w.s.AddNote(ctx, w.agentV(), c, "Vertrag endet im Mai", 0); err != nil {
				t.Fatal(err)
			}
			// As before the index held agent text: no rows, a rebuild
			// asked for that got past the first conversation.
			w.db.MustExec("DELETE FROM conversation_search")
			w.db.MustExec(w.db.Rebind("INSERT INTO search_reindex (after_id) VALUES (?)"), done)
			if got := ids(searchList(t, w, "kundigung")); !eqIDs(got, []int64{}) {
				t.Fatalf("before the rebuild: %v", got)
			}

			teststore.OpenURL(t, url, store.Options{}) // a start: Migrate
			for _, q := range []string{"kundigung", "kuendigung", "from:ozturk", "alte", "vertrag"} {
				if got := ids(searchList(t, w, q)); !eqIDs(got, []int64{c}) {
					t.Errorf("%q: got %v", q, got)
				}
			}
			if got := ids(searchList(t, w, "erledigt")); !eqIDs(got, []int64{}) {
				t.Errorf("the rebuild did not resume after conversation %d: %v", done, got)
			}
			if n := w.count(t, "SELECT COUNT(*) FROM search_reindex"); n != 0 {
				t.Errorf("the rebuild is not marked done: %d rows", n)
			}

			// The next start does not index again.
			w.db.MustExec("DELETE FROM conversation_search")
			teststore.OpenURL(t, url, store.Options{})
			if n := w.count(t, "SELECT COUNT(*) FROM conversation_search"); n != 0 {
				t.Errorf("a later start rebuilt %d rows", n)
			}
		})
	}
}

func (w *workspace) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := w.db.Get(&n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func searchList(t *testing.T, w *workspace, q string) *helpdesk.ConversationList {
	t.Helper()
	l, err := w.s.Conversations(context.Background(), w.adminV(), helpdesk.ConversationFilter{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
