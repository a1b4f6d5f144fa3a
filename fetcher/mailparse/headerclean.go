package mailparse

import "bytes"

// maxHeaderBytes is go-message's limit on a header (message.ReadOptions).
const maxHeaderBytes = 1 << 20

// cleanHeaderBlock reads the header block at the start of b (after any mbox
// "From " line) line by line, as Python's email package and other lenient
// parsers do, and returns it rewritten so that go-message can read it; b
// itself is never written to. It also returns where the body starts in b
// and whether a blank line ended the header.
//
// Lines may end in CRLF, LF or a lone CR; the block returned uses CRLF.
// A malformed line (no colon, or a field name with characters a name
// cannot have, such as "quite Delivered-To:") is handled by where it is:
//   - after the last well-formed field, it is where the body starts: the
//     blank line was left out (Python's MissingHeaderBodySeparatorDefect);
//   - between fields, a line without a colon continues the field before it
//     when that one is visibly unfinished (an open '<' or quote, or a
//     trailing comma: an address list folded without whitespace), and is
//     dropped otherwise, as is a malformed name, with its continuation
//     lines.
//
// A first line that starts with whitespace is passed on unchanged, so the
// header stays unreadable: nothing tells what it belongs to.
func cleanHeaderBlock(b []byte) (block []byte, bodyStart int, blankLine bool) {
	lines, bodyStart, blankLine := headerLines(b)
	lastField := -1
	for i, l := range lines {
		if l.kind == fieldLine {
			lastField = i
		}
	}
	out := make([]byte, 0, bodyStart+2*len(lines))
	keep := true // whether the current field is kept (its continuations follow it)
	fieldStart := 0
	for i, l := range lines {
		text := b[l.start:l.textEnd]
		switch {
		case l.kind == fieldLine:
			keep, fieldStart = true, len(out)
			out = appendLine(out, text)
		case l.kind == continuationLine:
			if keep || i == 0 {
				out = appendLine(out, text)
			}
		case i > lastField:
			// The blank line is missing: the body starts here.
			return append(out, "\r\n"...), l.start, false
		case keep && l.kind == colonlessLine && i > 0 && unfinished(out[fieldStart:]):
			out = append(out, ' ')
			out = appendLine(out, text)
		default:
			keep = false
		}
	}
	return append(out, "\r\n"...), bodyStart, blankLine
}

type lineKind int

const (
	fieldLine        lineKind = iota // "Name: value"
	continuationLine                 // starts with a space or a tab
	colonlessLine                    // malformed: no colon at all
	badNameLine                      // malformed: a colon after something that is not a field name
)

// headerLine is one line of the header block: its text is b[start:textEnd]
// and the next line starts at end.
type headerLine struct {
	start, textEnd, end int
	kind                lineKind
}

// headerLines splits the header block into lines up to the blank line that
// ends it, and returns where the body starts: after that line, or at the
// end of b. It stops past maxHeaderBytes: go-message refuses such a header.
func headerLines(b []byte) (lines []headerLine, bodyStart int, blankLine bool) {
	pos := 0
	for pos < len(b) && pos <= maxHeaderBytes {
		textEnd, end := lineEnd(b, pos)
		if textEnd == pos {
			return lines, end, true
		}
		lines = append(lines, headerLine{start: pos, textEnd: textEnd, end: end, kind: kindOf(b[pos:textEnd])})
		pos = end
	}
	return lines, pos, false
}

// lineEnd returns where the line starting at pos ends, without and with
// its line break (CRLF, LF or a lone CR, as Python splits lines).
func lineEnd(b []byte, pos int) (textEnd, end int) {
	i := bytes.IndexAny(b[pos:], "\r\n")
	if i < 0 {
		return len(b), len(b)
	}
	textEnd = pos + i
	if b[textEnd] == '\r' && textEnd+1 < len(b) && b[textEnd+1] == '\n' {
		return textEnd, textEnd + 2
	}
	return textEnd, textEnd + 1
}

func kindOf(line []byte) lineKind {
	if line[0] == ' ' || line[0] == '\t' {
		return continuationLine
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return colonlessLine
	}
	// Space before the colon is obsolete syntax (RFC 5322 4.5.3) that
	// go-message accepts; inside the name it is not.
	name := bytes.TrimRight(line[:colon], " \t")
	for _, c := range name {
		if c < 33 || c > 126 {
			return badNameLine
		}
	}
	return fieldLine
}

// unfinished tells a field that was cut in the middle, as an address list
// folded without the leading whitespace that marks a continuation.
func unfinished(field []byte) bool {
	field = bytes.TrimRight(field, " \t\r\n")
	return bytes.Count(field, []byte("<")) > bytes.Count(field, []byte(">")) ||
		bytes.Count(field, []byte(`"`))%2 == 1 || bytes.HasSuffix(field, []byte(","))
}

func appendLine(out, text []byte) []byte {
	return append(append(out, text...), "\r\n"...)
}
