package helpdesk

import "testing"

// TestSearchText: the index's words are lower case without accents, with
// the German spelling beside a word that has one; plain ASCII words (the
// fast path) come out as they are.
func TestSearchText(t *testing.T) {
	for in, want := range map[string]string{
		"Order 4711 shipped":     "order 4711 shipped",
		"Müller's Straße, Café":  "muller mueller s strasse cafe",
		"ÉCOLE   naïve\tdéjà-vu": "ecole naive deja vu",
		"Grüße aus Köln":         "grusse gruesse aus koln koeln",
		"":                       "",
		"--- ...":                "",
		"مرحبا bonjour":          "مرحبا bonjour",
	} {
		if got := SearchText(in); got != want {
			t.Errorf("SearchText(%q) = %q, want %q", in, got, want)
		}
	}
}
