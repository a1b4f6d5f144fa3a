package mailparse

import (
	"strings"
	"unicode"
)

const (
	maxFilenameBytes  = 200 // below the 255-byte limit of common file systems
	maxExtensionBytes = 16
)

// sanitizeFilename makes an attachment name safe to store and to offer for
// download: the last path element only, no control or bidi-override
// characters, no leading dots (hidden files) or trailing dots and spaces
// (Windows), length-capped with the extension kept. A missing name becomes
// "attachment" plus an extension for the media type; a name with nothing
// usable left becomes "attachment".
func sanitizeFilename(name, mediaType string) string {
	if strings.TrimSpace(name) == "" {
		return "attachment" + extensionFor(mediaType)
	}
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(safeFilenameRune, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	name = truncateFilename(name)
	if name == "" {
		return "attachment"
	}
	return name
}

func safeFilenameRune(r rune) rune {
	switch {
	case unicode.IsControl(r), isBidiControl(r):
		return '_'
	case unicode.IsSpace(r):
		return ' '
	}
	return r
}

// isBidiControl catches the right-to-left override trick that shows
// "invoice_fdp.exe" as "invoice_exe.pdf".
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f
}

func truncateFilename(name string) string {
	if len(name) <= maxFilenameBytes {
		return name
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtensionBytes {
		ext = name[i:]
	}
	stem := truncateUTF8(name[:len(name)-len(ext)], maxFilenameBytes-len(ext))
	return strings.TrimRight(stem, ". ") + ext
}

func extensionFor(mediaType string) string {
	switch mediaType {
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	case "text/calendar":
		return ".ics"
	case "message/rfc822":
		return ".eml"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "application/pdf":
		return ".pdf"
	}
	return ".bin"
}
