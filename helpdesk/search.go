package helpdesk

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Search folds case and accents the same way in Go for both databases:
// the index holds folded words only (SearchText), and a query's words are
// folded alike (ParseSearch), so "Müller", "Muller" and "mueller" meet.

// MaxSearchWords bounds the words of one search, each a prefix match.
const MaxSearchWords = 12

// germanSpellings are the spellings German users type without umlauts.
var germanSpellings = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss")

// SearchQuery is a parsed search: words, words in the sender (from:) and
// the filters given in the query.
type SearchQuery struct {
	Words     []SearchWord
	FromWords []SearchWord // matched in the customer's name and address
	Status    string
	Tag       string
	Mailbox   string // a mailbox's name or address
}

// SearchWord is one word of a search: its spellings (folded), of which a
// conversation must hold one. The last word typed matches as the start of
// a word too (Prefix), as the user may not have finished it; the others
// match whole words, which the indexes answer without merging every word
// they start (BenchmarkConversationList, 100,000 conversations: SQLite's
// search p95 215 ms with every word a prefix, 8 ms so).
type SearchWord struct {
	Spellings []string
	Prefix    bool
}

// Matches reports whether the folded spelling sp is this word.
func (w SearchWord) Matches(sp string) bool {
	for _, s := range w.Spellings {
		if sp == s || w.Prefix && strings.HasPrefix(sp, s) {
			return true
		}
	}
	return false
}

// ParseSearch reads a search box: words, and filters from:, tag:,
// status:, mailbox: (value up to the next space). A query that leaves
// nothing to search or filter by is an error the user sees.
func ParseSearch(q string) (*SearchQuery, error) {
	var sq SearchQuery
	lastIsFrom := false // whether the last word typed is a from: word
	for _, field := range strings.Fields(q) {
		key, value, ok := strings.Cut(field, ":")
		key = strings.ToLower(key)
		switch {
		case ok && key == "from" && value != "":
			from := searchWords(value)
			sq.FromWords = append(sq.FromWords, from...)
			lastIsFrom = lastIsFrom && len(from) == 0 || len(from) > 0
		case ok && key == "tag" && value != "":
			sq.Tag = strings.ToLower(value)
		case ok && key == "status" && value != "":
			sq.Status = strings.ToLower(value)
		case ok && key == "mailbox" && value != "":
			sq.Mailbox = value
		default:
			words := searchWords(field)
			sq.Words = append(sq.Words, words...)
			lastIsFrom = lastIsFrom && len(words) == 0
		}
	}
	if lastIsFrom {
		sq.FromWords[len(sq.FromWords)-1].Prefix = true
	} else if len(sq.Words) > 0 {
		sq.Words[len(sq.Words)-1].Prefix = true
	}
	if len(sq.Words)+len(sq.FromWords) > MaxSearchWords {
		return nil, fmt.Errorf("at most %d words", MaxSearchWords)
	}
	if len(sq.Words)+len(sq.FromWords) == 0 && sq.Status == "" && sq.Tag == "" && sq.Mailbox == "" {
		return nil, fmt.Errorf("type a word (letters or digits) to search for")
	}
	return &sq, nil
}

// searchWords splits s into words, each with its folded spellings.
func searchWords(s string) []SearchWord {
	var out []SearchWord
	for _, w := range words(strings.ToLower(s)) {
		out = append(out, SearchWord{Spellings: spellings(w)})
	}
	return out
}

// spellings are a lower-case word's folded forms: without accents, and
// with ä, ö, ü, ß written out as German users type them.
func spellings(w string) []string {
	if isASCII(w) { // most words: nothing to fold (BenchmarkIngest: folding was a fifth of the CPU)
		return []string{w}
	}
	plain := foldAccents(w)
	german := foldAccents(germanSpellings.Replace(w))
	if german == plain {
		return []string{plain}
	}
	return []string{plain, german}
}

// SearchText is what the index holds for a text: its words folded, with
// the German spelling beside a word that has one.
func SearchText(s string) string {
	var b strings.Builder
	for _, w := range words(strings.ToLower(s)) {
		for _, sp := range spellings(w) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(sp)
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// words splits s at everything that is not a letter, digit or mark.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
}

// foldAccents drops the accents of a lower-case word ("é" → "e"); ß,
// which has none to drop, becomes "ss".
func foldAccents(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(w) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'ß':
			b.WriteString("ss")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Highlight escapes text for HTML and marks the words the search
// matches: <mark>…</mark>.
func (q *SearchQuery) Highlight(text string) template.HTML {
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		word := text[start:end]
		if q.matches(word) {
			b.WriteString("<mark>" + html.EscapeString(word) + "</mark>")
		} else {
			b.WriteString(html.EscapeString(word))
		}
		start = -1
	}
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
		b.WriteString(html.EscapeString(string(r)))
	}
	flush(len(text))
	return template.HTML(b.String())
}

// matches reports whether the search matches a word of a text.
func (q *SearchQuery) matches(word string) bool {
	for _, sp := range spellings(strings.ToLower(word)) {
		for _, w := range append(append([]SearchWord{}, q.Words...), q.FromWords...) {
			if w.Matches(sp) {
				return true
			}
		}
	}
	return false
}
