package parser

import (
	"bytes"
	"sync"
)

// stripPool recycles the buffers of stripRaw: the HTML tokenizer copies
// what it reads, so the buffer is free again once the page is parsed.
var stripPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooled is the largest buffer kept in stripPool.
const maxPooled = 4 << 20

// stripRaw removes comments, the raw-text elements that never hold article
// text (<script> other than JSON-LD, <style>, <svg>) and the elements the
// extractor drops whole (<nav>, <footer>, <aside>, <select>) from a UTF-8
// page before it is parsed. More than half the bytes of a typical news page
// are scripts and styles; skipping them with bytes.Index is several times
// cheaper than letting the HTML tokenizer read them byte by byte and build
// nodes for them. The cut is conservative: an element whose end tag is
// missing is left for the parser to handle. The result is appended to dst.
func stripRaw(dst, page []byte) []byte {
	out := dst
	rest := page
	// Hostile input must not make this quadratic: once an end marker is
	// known to be absent from the rest of the page, later starts of the
	// same kind are not searched again, and the nested search (which can
	// fail for other reasons) has a budget of four passes over the page.
	var noEnd [4]bool // comment, script, style, svg
	budget := 4*len(page) + 4096
	raw := func(kind int, find func() int) int {
		if noEnd[kind] {
			return -1
		}
		end := find()
		if end < 0 {
			noEnd[kind] = true
		}
		return end
	}
	nested := func(name string) int {
		if budget <= 0 {
			return -1
		}
		end, scanned := nestedEnd(rest, name)
		budget -= scanned
		return end
	}
	for {
		i := bytes.IndexByte(rest, '<')
		if i < 0 || i+1 >= len(rest) {
			return append(out, rest...)
		}
		out = append(out, rest[:i]...)
		rest = rest[i:]
		var end int
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = raw(0, func() int { return commentEnd(rest) })
		case tagIs(rest, "script"):
			end = raw(1, func() int { return rawEnd(rest, "script") })
			if end > 0 && isLDJSON(rest[:end]) {
				out = append(out, rest[:end]...)
				rest = rest[end:]
				continue
			}
		case tagIs(rest, "style"):
			end = raw(2, func() int { return rawEnd(rest, "style") })
		case tagIs(rest, "svg"):
			end = raw(3, func() int { return rawEnd(rest, "svg") })
		case tagIs(rest, "nav"):
			end = nested("nav")
		case tagIs(rest, "footer"):
			end = nested("footer")
		case tagIs(rest, "aside"):
			end = nested("aside")
		case tagIs(rest, "select"):
			end = nested("select")
		default:
			end = -1
		}
		if end <= 0 {
			// Not something to cut (or unterminated): keep the '<'.
			out = append(out, '<')
			rest = rest[1:]
			continue
		}
		out = append(out, ' ')
		rest = rest[end:]
	}
}

// tagIs reports whether b starts with the start tag <name (any case)
// followed by white space, '/' or '>'.
func tagIs(b []byte, name string) bool {
	if len(b) < len(name)+2 || !bytes.EqualFold(b[1:1+len(name)], []byte(name)) {
		return false
	}
	switch b[1+len(name)] {
	case ' ', '\t', '\n', '\r', '\f', '/', '>':
		return true
	}
	return false
}

// commentEnd returns the offset just past the end of the comment at the
// start of b, or -1.
func commentEnd(b []byte) int {
	j := bytes.Index(b[4:], []byte("-->"))
	if j < 0 {
		return -1
	}
	return 4 + j + 3
}

// rawEnd returns the offset just past </name ...> for the element starting
// at b, or -1 when there is none.
func rawEnd(b []byte, name string) int {
	pos := 1
	for {
		j := bytes.Index(b[pos:], []byte("</"))
		if j < 0 {
			return -1
		}
		pos += j
		if len(b) >= pos+2+len(name) && bytes.EqualFold(b[pos+2:pos+2+len(name)], []byte(name)) {
			k := bytes.IndexByte(b[pos:], '>')
			if k < 0 {
				return -1
			}
			return pos + k + 1
		}
		pos += 2
	}
}

// nestedEnd returns the offset just past the end tag that closes the
// element starting at b, counting nested elements of the same name, or -1
// when it is not closed; scanned is how many bytes it looked at. It is for elements the extractor drops whole
// (<nav>, <footer>, <aside>, <select>): cutting them here spares the
// tokenizer and the tree builder, and gives the tree the parser would
// have built minus that subtree.
func nestedEnd(b []byte, name string) (end, scanned int) {
	depth := 0
	pos := 0
	for {
		j := bytes.IndexByte(b[pos:], '<')
		if j < 0 {
			return -1, len(b)
		}
		pos += j
		switch {
		case tagIs(b[pos:], name):
			depth++
		case closeTagIs(b[pos:], name):
			depth--
			if depth == 0 {
				k := bytes.IndexByte(b[pos:], '>')
				if k < 0 {
					return -1, len(b)
				}
				return pos + k + 1, pos + k + 1
			}
		}
		pos++
	}
}

// closeTagIs reports whether b starts with the end tag </name (any case).
func closeTagIs(b []byte, name string) bool {
	if len(b) < len(name)+3 || b[1] != '/' || !bytes.EqualFold(b[2:2+len(name)], []byte(name)) {
		return false
	}
	switch b[2+len(name)] {
	case ' ', '\t', '\n', '\r', '\f', '/', '>':
		return true
	}
	return false
}

// isLDJSON reports whether the <script> element el is JSON-LD.
func isLDJSON(el []byte) bool {
	end := bytes.IndexByte(el, '>')
	if end < 0 {
		return false
	}
	return bytes.Contains(bytes.ToLower(el[:end]), []byte("ld+json"))
}
