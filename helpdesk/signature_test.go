package helpdesk

import (
	"strings"
	"testing"
)

func TestValidateSignature(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"", "", ""},
		{"\r\nRegards,\r\n{{agent}}\r\n{{mailbox}}\r\n\r\n", "Regards,\n{{agent}}\n{{mailbox}}", ""},
		{"Regards, {{agent}} {{ agent }}", "", "unknown placeholder {{ agent }}"},
		{"{{name}}", "", "unknown placeholder {{name}}"},
		{"a\x00b", "", "NUL"},
		{strings.Repeat("ü", MaxSignatureLength), strings.Repeat("ü", MaxSignatureLength), ""},
		{strings.Repeat("ü", MaxSignatureLength+1), "", "at most 2000 characters"},
	} {
		got, err := ValidateSignature(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ValidateSignature(%.20q) = %.20q, %v; want %.20q", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ValidateSignature(%.20q): error %v, want one with %q", c.in, err, c.err)
		}
	}
}

func TestRenderSignature(t *testing.T) {
	// Plain substitution: a name that looks like a placeholder or a
	// template stays as it is.
	got := RenderSignature("-{{agent}}-{{mailbox}}-{{agent}}", "{{mailbox}} {{.}}", "Sales")
	if want := "-{{mailbox}} {{.}}-Sales-{{mailbox}} {{.}}"; got != want {
		t.Errorf("RenderSignature = %q, want %q", got, want)
	}
	if got := WithSignature("Hello.\n\n", "Ada\nSales"); got != "Hello.\n\n-- \nAda\nSales" {
		t.Errorf("WithSignature = %q", got)
	}
	if got := WithSignature("Hello.\n", " \n"); got != "Hello.\n" {
		t.Errorf("WithSignature without a signature = %q", got)
	}
}
