package logview

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// escaper passes text to w with what a terminal would act on made visible:
// control characters other than newline and tab (ESC, CR, BEL, ...), DEL,
// the C1 controls U+0080 to U+009F, and bytes that are not UTF-8 are
// written as \xNN. The logs come from the guest, whose writes must not
// reach root's terminal as escape sequences. A character split across
// writes is held until it is whole.
type escaper struct {
	w    io.Writer
	part []byte // the start of a character split across writes
	buf  []byte
}

func (e *escaper) Write(p []byte) (int, error) {
	data := append(e.part, p...)
	e.buf = e.buf[:0]
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(data) {
			break // the rest of the character comes with the next write
		}
		switch {
		case r == utf8.RuneError && size <= 1:
			e.buf = fmt.Appendf(e.buf, `\x%02x`, data[0])
		case r == '\n' || r == '\t':
			e.buf = append(e.buf, byte(r))
		case r < 0x20 || r == 0x7f:
			e.buf = fmt.Appendf(e.buf, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			e.buf = fmt.Appendf(e.buf, `\u%04x`, r)
		default:
			e.buf = append(e.buf, data[:size]...)
		}
		data = data[size:]
	}
	e.part = append(e.part[:0], data...)
	if _, err := e.w.Write(e.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes the start of a character that never got whole, escaped.
func (e *escaper) flush() error {
	var buf []byte
	for _, b := range e.part {
		buf = fmt.Appendf(buf, `\x%02x`, b)
	}
	e.part = nil
	_, err := e.w.Write(buf)
	return err
}
