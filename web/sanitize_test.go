package web

import (
	"strings"
	"testing"
)

func TestSanitizeMailHTML(t *testing.T) {
	got, blocked := sanitizeMailHTML(`<p onclick="x()">Hi<script>alert(1)</script></p><img src="http://remote.example/p.gif"><img src="cid:logo@x"><a href="javascript:alert(1)">j</a><a href="https://example.com/">ok</a><style>body{}</style><svg onload="x()"></svg>`,
		mailHTMLOptions{ThreadID: 7})
	s := got
	for _, bad := range []string{"onclick", "<script", "alert", "remote.example", "javascript:", "<style", "<svg", "onload"} {
		if strings.Contains(s, bad) {
			t.Errorf("sanitised HTML contains %q: %s", bad, s)
		}
	}
	for _, good := range []string{"<p>Hi</p>", `src="/threads/7/inline?cid=logo%40x"`, `href="https://example.com/"`, `rel="nofollow noreferrer noopener"`, `target="_blank"`} {
		if !strings.Contains(s, good) {
			t.Errorf("sanitised HTML lacks %q: %s", good, s)
		}
	}
	if !blocked {
		t.Error("remote image not reported as blocked")
	}
	got, blocked = sanitizeMailHTML(`<img src="http://remote.example/p.gif">`, mailHTMLOptions{ThreadID: 7, RemoteImages: true})
	if blocked || !strings.Contains(got, "http://remote.example/p.gif") {
		t.Errorf("remote images allowed: %s %v", got, blocked)
	}
}

// TestSanitizeMailHTMLKeepsItInItsBox: what bluemonday lets through is
// written out balanced, without id, name or class, with the allowed
// inline styles and no others.
func TestSanitizeMailHTMLKeepsItInItsBox(t *testing.T) {
	for _, tc := range []struct {
		name, in    string
		want, avoid []string
	}{
		{"end tags of the page", `<p>a</p></td></tr></table></article><article><table><tr><th>Reply by Demo Admin</th></tr></table></article>`,
			[]string{`<p>a</p><article><table><tbody><tr><th>Reply by Demo Admin</th></tr></tbody></table></article>`}, []string{"</td></tr></table></article><article>"}},
		{"unclosed link", `<p><a href="https://x.example/">swallow`,
			[]string{`<p><a href="https://x.example/" rel="nofollow noreferrer noopener" target="_blank">swallow</a></p>`}, nil},
		{"naming attributes", `<p id="main" class="notice">x</p><a name="top" href="https://x.example/">y</a>`,
			[]string{`<p>x</p>`}, []string{"id=", "class=", "name="}},
		{"allowed styles", `<p style="color: #cc0000; font-weight: bold; text-align: center">x</p><table style="table-layout: fixed; border-collapse: collapse"><tr><td style="background-color: rgb(1, 2, 3); padding: 4px">y</td></tr></table>`,
			[]string{`style="color: #cc0000; font-weight: bold; text-align: center"`, `style="table-layout: fixed; border-collapse: collapse"`, `style="background-color: rgb(1, 2, 3); padding: 4px"`}, nil},
		{"colour attributes", `<table bgcolor="#eeeeee"><tr><td bgcolor="red"><font color="#c00">x</font></td><td bgcolor="url(x)">y</td></tr></table>`,
			[]string{`<table bgcolor="#eeeeee">`, `<td bgcolor="red"><font color="#c00">x</font></td><td>y</td>`}, nil},
		{"other styles", `<div style="position: fixed; top: 0; margin-top: -900px; background: url(http://x.example/a.png); background-image: url(http://x.example/b.png); width: expression(alert(1)); color: red">x</div>`,
			[]string{`<div style="color: red">x</div>`}, []string{"position", "margin", "url(", "expression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := sanitizeMailHTML(tc.in, mailHTMLOptions{ThreadID: 7})
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("sanitised\n%s\nlacks\n%s", got, w)
				}
			}
			for _, a := range tc.avoid {
				if strings.Contains(got, a) {
					t.Errorf("sanitised\n%s\nhas %q", got, a)
				}
			}
		})
	}
}
