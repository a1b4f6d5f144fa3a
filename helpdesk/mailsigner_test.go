package helpdesk

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestMailSignerMessageIDs(t *testing.T) {
	t.Parallel()
	ours := NewMailSigner("first-secret-key-0123456789")
	theirs := NewMailSigner("other-secret-key-0123456789")
	id := ours.MessageID("reply:1", "help@alpha.example")
	if id != ours.MessageID("reply:1", "help@alpha.example") || !strings.HasSuffix(id, "@alpha.example") {
		t.Fatalf("Message-ID %q is not stable or not in the mailbox's domain", id)
	}
	if id == theirs.MessageID("reply:1", "help@alpha.example") || id == ours.MessageID("reply:2", "help@alpha.example") {
		t.Fatal("two keys or two rows give the same Message-ID")
	}
	if !ours.OurMessageID(id) || ours.PosesAsOurs(id) {
		t.Fatalf("our own Message-ID %q is not recognised", id)
	}
	sum := sha256.Sum256([]byte("reply:1"))
	unkeyed := "hd-" + hex.EncodeToString(sum[:12]) + "@alpha.example" // as made before keys
	other := "0"
	if id[3] == '0' {
		other = "1"
	}
	tampered := id[:3] + other + id[4:] // another name, the same check
	for _, other := range []string{theirs.MessageID("reply:1", "help@alpha.example"), unkeyed, tampered} {
		if ours.OurMessageID(other) || !ours.PosesAsOurs(other) {
			t.Errorf("%q passes for ours", other)
		}
	}
	if ours.OurMessageID("") || ours.PosesAsOurs("a1@customer.example") {
		t.Error("a customer's Message-ID is taken for one of ours")
	}
}

func TestMailSignerLoopHeader(t *testing.T) {
	t.Parallel()
	ours := NewMailSigner("first-secret-key-0123456789")
	theirs := NewMailSigner("other-secret-key-0123456789")
	v := ours.AutomaticHeaders("auto-generated", "Help@Alpha.example")[LoopHeader]
	if !strings.HasPrefix(v, "help@alpha.example; sig=") || !ours.OurLoop(v) || !ours.OurLoop(strings.ToUpper(v)) {
		t.Fatalf("our loop header %q is not recognised", v)
	}
	for _, forged := range []string{"", "help@alpha.example", "help@alpha.example; sig=", theirs.LoopValue("help@alpha.example"),
		strings.Replace(v, "help@alpha", "sales@alpha", 1)} {
		if ours.OurLoop(forged) {
			t.Errorf("forged loop header %q passes for ours", forged)
		}
	}
}
