package main

import (
	"slices"
	"testing"
)

func TestTrustedProxiesAndPublicURL(t *testing.T) {
	t.Setenv("HELPDESK_TRUSTED_PROXIES", "192.0.2.7, 10.0.0.0/8 2001:db8::1,198.51.100.9/24")
	t.Setenv("HELPDESK_PUBLIC_URL", "https://help.example.com/desk/")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	want := []string{"192.0.2.7/32", "10.0.0.0/8", "2001:db8::1/128", "198.51.100.0/24"}
	if !slices.Equal(got, want) {
		t.Fatalf("trusted proxies %v, want %v", got, want)
	}
	if c.PublicURL != "https://help.example.com/desk" {
		t.Fatalf("public URL %q", c.PublicURL)
	}
	t.Setenv("HELPDESK_PUBLIC_URL", "")
	t.Setenv("HELPDESK_LISTEN", "0.0.0.0:9000")
	if c, err := loadConfig(); err != nil || c.PublicURL != "http://0.0.0.0:9000" {
		t.Fatalf("default public URL %q %v, want http:// and the listen address", c.PublicURL, err)
	}
}
