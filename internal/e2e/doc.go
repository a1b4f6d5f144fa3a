// Package e2e holds end-to-end tests and nothing else: mail is fetched
// from a private Dovecot by the fetcher, as the fetch service does, and
// read or answered through the web server's HTTP interface, as a browser
// or an API client would. They live here, not in web, because web never
// calls the fetcher; these tests only use what web exports (New, Config,
// Handler).
package e2e
