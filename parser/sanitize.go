package parser

import (
	"bytes"
	"unicode/utf8"
)

// sanitize repairs the characters that make a whole feed unreadable although
// only one entry holds them, the way Miniflux and FreshRSS tolerate them:
//
//   - raw C0 control characters other than tab, LF and CR are dropped (XML
//     forbids them; in JSON they are legal only escaped);
//   - in an XML document, numeric character references to code points XML
//     forbids (&#0;, &#x1B;, &#xFFFE;, surrogates, beyond U+10FFFF) are
//     dropped;
//   - in an XML document in UTF-8 (declared so, or declaring nothing), a raw
//     U+FFFE or U+FFFF is dropped and each byte that is not valid UTF-8
//     becomes U+FFFD. Documents declaring another encoding keep their bytes:
//     the decoder converts them.
//
// It reads body once and returns body itself when nothing needs changing
// (the usual case: no allocation), else a repaired copy; n is the number of
// characters dropped or replaced.
func sanitize(body []byte) (out []byte, n int) {
	isXML := false
	for _, c := range body {
		if c > ' ' { // white space and the controls dropped below come first
			isXML = c == '<'
			break
		}
	}
	checkUTF8 := isXML && utf8Declared(body)
	out, n = sanitizeAs(body, isXML, checkUTF8)
	if isXML && !checkUTF8 && n > 0 && utf8Declared(out) {
		// What was dropped made the declaration one of UTF-8
		// (encoding="\x01"): repair the document that it now is.
		return sanitizeAs(body, isXML, true)
	}
	return out, n
}

// sanitizeAs is sanitize with the kind of document given: XML or not, and
// whether its UTF-8 is checked.
func sanitizeAs(body []byte, isXML, checkUTF8 bool) (out []byte, n int) {
	last := 0 // body[:last] is in out (when out != nil)
	drop := func(i, j int, repl string) {
		if out == nil {
			out = make([]byte, 0, len(body))
		}
		out = append(out, body[last:i]...)
		if repl == "" && isXML && refPrefix(out) {
			// "&#\x010;" must not become the reference "&#0;".
			repl = " "
		}
		out = append(out, repl...)
		last = j
		n++
	}
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c < 0x20:
			if c != '\t' && c != '\n' && c != '\r' {
				drop(i, i+1, "")
			}
			i++
		case c == '&' && isXML:
			if j, ok := charRef(body, i); j > i && !ok {
				drop(i, j, "")
				i = j
			} else {
				i++
			}
		case c >= utf8.RuneSelf && checkUTF8:
			r, size := utf8.DecodeRune(body[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				drop(i, i+1, "\uFFFD")
			case r == 0xFFFE || r == 0xFFFF:
				drop(i, i+size, "")
			}
			i += size
		default:
			i++
		}
	}
	if out == nil {
		return body, 0
	}
	return append(out, body[last:]...), n
}

// charRef reads the numeric character reference at body[i] ('&'): it returns
// the index just past its ';' and whether its code point is allowed in XML.
// When body[i:] is no well-formed numeric reference it returns i.
func charRef(body []byte, i int) (end int, legal bool) {
	j := i + 1
	if j >= len(body) || body[j] != '#' {
		return i, false
	}
	j++
	base := rune(10)
	if j < len(body) && body[j] == 'x' {
		base = 16
		j++
	}
	start := j
	var r rune
	for ; j < len(body); j++ {
		d := rune(-1)
		switch c := body[j]; {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		}
		if d < 0 {
			break
		}
		if r <= utf8.MaxRune { // stop growing once out of range: no overflow
			r = r*base + d
		}
	}
	if j == start || j >= len(body) || body[j] != ';' {
		return i, false
	}
	return j + 1, xmlChar(r)
}

// refPrefix reports whether b ends with what could begin a character or
// entity reference ("&", "&#", "&#x1"), so that dropping the bytes after it
// could join it with the bytes that follow. A long run of digits counts as
// one without looking further.
func refPrefix(b []byte) bool {
	const maxDigits = 64
	i := len(b) - 1
	for ; i >= 0 && len(b)-i <= maxDigits; i-- {
		c := b[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			break
		}
	}
	if len(b)-i > maxDigits {
		return true
	}
	if i >= 0 && b[i] == 'x' {
		i--
	}
	if i >= 0 && b[i] == '#' {
		i--
	}
	return i >= 0 && b[i] == '&' || len(b) > 0 && b[len(b)-1] == '&'
}

// xmlChar reports whether XML 1.0 allows r in a document (production Char).
func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false // surrogates
	case r <= 0xFFFD:
		return true
	case r < 0x10000:
		return false // U+FFFE, U+FFFF
	default:
		return r <= utf8.MaxRune
	}
}

// utf8Declared reports whether an XML document is in UTF-8 by its
// declaration: it declares UTF-8 or no encoding at all. It does not
// allocate.
func utf8Declared(body []byte) bool {
	decl := bytes.TrimLeft(body[:min(len(body), 512)], " \t\r\n")
	if !bytes.HasPrefix(decl, []byte("<?xml")) {
		return true
	}
	if end := bytes.Index(decl, []byte("?>")); end >= 0 {
		decl = decl[:end]
	}
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return true
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return true
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' && rest[0] != '\'' {
		return true
	}
	enc, _, ok := bytes.Cut(rest[1:], rest[:1])
	if !ok {
		return true
	}
	enc = bytes.TrimSpace(enc)
	return len(enc) == 0 || bytes.EqualFold(enc, []byte("utf-8")) || bytes.EqualFold(enc, []byte("utf8"))
}
