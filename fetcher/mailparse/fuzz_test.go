package mailparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// FuzzParse: no input may panic; what parses keeps the invariants
// (valid UTF-8, one-line Subject, safe filenames) and the raw unchanged;
// what does not is salvaged into text that is safe to store and show.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "eml", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatal("no seed fixtures", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		input := bytes.Clone(raw)
		m, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrUnparsable) || m != nil {
				t.Fatalf("error %v with message %v", err, m)
			}
			checkSalvaged(t, Salvage(raw), input)
			return
		}
		checkInvariants(t, m)
		if !bytes.Equal(m.Raw, input) || !bytes.Equal(raw, input) {
			t.Fatal("the raw message was modified")
		}
	})
}

// checkSalvaged: what agents are shown of an unparsable message is valid
// UTF-8 without NUL or CR, the subject one line, the raw unchanged.
func checkSalvaged(t *testing.T, s *helpdesk.IncomingMessage, input []byte) {
	t.Helper()
	if !utf8.ValidString(s.Text) || strings.ContainsAny(s.Text, "\x00\r") {
		t.Errorf("salvaged text is not safe: %q", s.Text)
	}
	if !utf8.ValidString(s.Subject) || strings.ContainsAny(s.Subject, "\r\n\x00") || !utf8.ValidString(s.From.Email) {
		t.Errorf("salvaged subject %q or sender %q is not one line of valid UTF-8", s.Subject, s.From.Email)
	}
	if !bytes.Equal(s.Raw, input) {
		t.Error("the raw message was modified")
	}
}
