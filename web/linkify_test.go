package web

import (
	"strings"
	"testing"
)

// TestLinkify: plain text is escaped whole, and only http, https and
// mailto URLs become links, however the text tries to break out.
func TestLinkify(t *testing.T) {
	const rel = `" rel="noopener nofollow" target="_blank">`
	cases := []struct{ in, want string }{
		{"see https://shop.example/a?x=1&y=2.", `see <a href="https://shop.example/a?x=1&amp;y=2` + rel + `https://shop.example/a?x=1&amp;y=2</a>.`},
		{"(http://en.example/wiki/Foo_(bar))", `(<a href="http://en.example/wiki/Foo_(bar)` + rel + `http://en.example/wiki/Foo_(bar)</a>)`},
		{"mail mailto:a@b.example, please", `mail <a href="mailto:a@b.example` + rel + `mailto:a@b.example</a>, please`},
		{"<script>alert(1)</script>", `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"javascript:alert(1)", `javascript:alert(1)`},
		{"JaVaScRiPt:alert(document.cookie)//https://x.example", `JaVaScRiPt:alert(document.cookie)//<a href="https://x.example` + rel + `https://x.example</a>`},
		{`https://x.example/"onmouseover="alert(1)`, `<a href="https://x.example/` + rel + `https://x.example/</a>&#34;onmouseover=&#34;alert(1)`},
		{"https://x.example/'><img src=x onerror=alert(1)>", `<a href="https://x.example/` + rel + `https://x.example/</a>&#39;&gt;&lt;img src=x onerror=alert(1)&gt;`},
		{"data:text/html,<b>x</b> vbscript:msgbox", `data:text/html,&lt;b&gt;x&lt;/b&gt; vbscript:msgbox`},
		{"http:// nothing and https:///path", `http:// nothing and https:///path`},
		{"mailto: nobody", `mailto: nobody`},
		{"&amp; stays text", `&amp;amp; stays text`},
		{"https://a.example/%22%3E%3Cscript%3E", `<a href="https://a.example/%22%3E%3Cscript%3E` + rel + `https://a.example/%22%3E%3Cscript%3E</a>`},
	}
	for _, c := range cases {
		if got := string(linkify(c.in)); got != c.want {
			t.Errorf("linkify(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// TestLinkifyLeavesNoMarkupOfTheText: whatever the text, the only tags in
// the result are the links linkify made.
func TestLinkifyLeavesNoMarkupOfTheText(t *testing.T) {
	hostile := `<a href="javascript:x">https://ok.example</a> <img src=x onerror=y> <svg/onload=z> ` +
		`https://ok.example/<b> mailto:x@y.example?subject=<i>hi</i> "quoted"`
	out := string(linkify(hostile))
	rest := out
	for _, a := range []string{`<a href="https://ok.example`, `<a href="https://ok.example/`, `<a href="mailto:x@y.example?subject=`} {
		i := strings.Index(rest, a)
		if i < 0 {
			t.Fatalf("no link %s in %s", a, out)
		}
		rest = rest[i+len(a):]
	}
	stripped := strings.NewReplacer(`<a href="`, "", `" rel="noopener nofollow" target="_blank">`, "", "</a>", "").Replace(out)
	if strings.ContainsAny(stripped, `<>"`) {
		t.Errorf("markup of the text left in %s", out)
	}
}
