package mailparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input may panic; what parses keeps the invariants
// (valid UTF-8, one-line Subject, safe filenames) and the raw unchanged.
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
			return
		}
		checkInvariants(t, m)
		if !bytes.Equal(m.Raw, input) || !bytes.Equal(raw, input) {
			t.Fatal("the raw message was modified")
		}
	})
}
