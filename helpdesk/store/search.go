package store

import (
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Searching the full-text index (searchindex.go keeps it): the match
// expression of each database and the highlighting of what matched.

// highlight marks the searched words in each conversation's subject and
// preview.
func highlight(convs []helpdesk.ConversationSummary, sq *helpdesk.SearchQuery) {
	for i := range convs {
		c := &convs[i]
		c.Highlight = &helpdesk.SearchHighlight{Subject: sq.Highlight(c.Subject), Preview: sq.Highlight(c.Preview)}
	}
}

// searchMatch is the PostgreSQL to_tsquery text of a search's words, its
// spellings alternatives, from: words in the customer (weight B); "" for
// a search of filters only. The words are letters and digits only
// (helpdesk.ParseSearch), so nothing needs quoting.
func (postgres) searchMatch(sq *helpdesk.SearchQuery) string {
	if sq == nil {
		return ""
	}
	var parts []string
	add := func(words []helpdesk.SearchWord, weight string) {
		for _, w := range words {
			suffix := ""
			if w.Prefix || weight != "" {
				suffix = ":"
			}
			if w.Prefix {
				suffix += "*"
			}
			alts := make([]string, len(w.Spellings))
			for i, sp := range w.Spellings {
				alts[i] = sp + suffix + weight
			}
			parts = append(parts, "("+strings.Join(alts, " | ")+")")
		}
	}
	add(sq.Words, "")
	add(sq.FromWords, "B")
	return strings.Join(parts, " & ")
}

// searchMatch is the FTS5 MATCH expression of a search's words, as for
// PostgreSQL; from: words in the people column.
func (sqlite) searchMatch(sq *helpdesk.SearchQuery) string {
	if sq == nil {
		return ""
	}
	var parts []string
	add := func(words []helpdesk.SearchWord, column string) {
		for _, w := range words {
			star := ""
			if w.Prefix {
				star = "*"
			}
			alts := make([]string, len(w.Spellings))
			for i, sp := range w.Spellings {
				alts[i] = column + `"` + sp + `"` + star
			}
			parts = append(parts, "("+strings.Join(alts, " OR ")+")")
		}
	}
	add(sq.Words, "")
	add(sq.FromWords, "people : ")
	return strings.Join(parts, " AND ")
}
