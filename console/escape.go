package console

import "fmt"

// What the user asked for with an escape.
type action int

const (
	none  action = iota
	leave        // ~. : end the session
	help         // ~? : list the escapes
)

// escaper finds the user's escapes in what they type, the way cu(1) does:
// the escape character is special only at the start of a line (the very
// first byte of the session, or after a carriage return or a newline).
// There it is held back until the next byte says what it means: "." leaves,
// "?" lists the escapes, the escape character again sends one escape
// character, and anything else sends both bytes. Everywhere else bytes go
// to the guest as they are.
type escaper struct {
	esc       byte
	lineStart bool // the next byte starts a line
	held      bool // an escape character at the start of a line awaits its command
}

func newEscaper(esc byte) *escaper {
	return &escaper{esc: esc, lineStart: true}
}

// feed reads p up to the first escape that asks for something. It returns
// the bytes for the guest before that point, the action, and the rest of p
// still to feed; after leave the rest is dropped.
func (e *escaper) feed(p []byte) (send []byte, act action, rest []byte) {
	send = make([]byte, 0, len(p)+1)
	for i, b := range p {
		if e.held {
			e.held = false
			switch b {
			case '.':
				return send, leave, nil
			case '?':
				return send, help, p[i+1:] // still at the start of a line
			case e.esc:
				send = append(send, b)
				e.lineStart = false
				continue
			}
			send = append(send, e.esc)
		} else if e.lineStart && b == e.esc {
			e.held = true
			continue
		}
		send = append(send, b)
		e.lineStart = b == '\r' || b == '\n'
	}
	return send, none, nil
}

// flush gives what the user typed last but the escaper still holds back,
// when the input ends.
func (e *escaper) flush() []byte {
	if !e.held {
		return nil
	}
	e.held = false
	return []byte{e.esc}
}

// helpText lists the escapes, each line ended by nl.
func helpText(esc byte, nl string) string {
	return fmt.Sprintf("%c.  leave the session%s%c%c  send one %c%s%c?  this list%s",
		esc, nl, esc, esc, esc, nl, esc, nl)
}
