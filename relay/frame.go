package relay

import "bytes"

// The guest's relay, socat, carries wpa_supplicant's datagrams over TCP
// with no framing, so what the relay reads from the guest may hold
// several messages, or part of one. The splitter cuts the stream back
// into the messages of the wpa_ctrl protocol (hostap 2.10), by what that
// protocol says of them:
//
//   - An event ("unsolicited message") is "<level>text" in one datagram,
//     level a number, text without a final newline
//     (wpa_supplicant/ctrl_iface_unix.c and hostapd/ctrl_iface.c,
//     *_ctrl_iface_send: the level string and the text as one sendmsg).
//     wpa_ctrl itself tells an event from a reply by its '<'
//     (src/common/wpa_ctrl.c, wpa_ctrl_request). So a message starts at
//     every "<digits>".
//   - Anything else answers the request in flight: the daemon answers
//     each request datagram with one reply datagram, and the relay sends
//     one request at a time.
//   - A request can cause events that the daemon sends before its reply:
//     DISCONNECT sends CTRL-EVENT-DISCONNECTED and CTRL-EVENT-DSCP-POLICY,
//     then "OK\n" (wpa_supplicant/ctrl_iface.c,
//     wpa_supplicant_ctrl_iface_process: the reply is sent once the
//     command has run). The reply then follows the event's text with no
//     separator; as events end without a newline, an event that ends with
//     one of the fixed replies of ctrl_iface.c ("OK\n", "FAIL\n",
//     "PONG\n", "UNKNOWN COMMAND\n") while a reply is awaited is that
//     event and that reply.
//   - A read ends a message when it is shorter than shortRead: the pieces
//     of a longer message come in whole TCP segments, and a segment holds
//     at least 536 bytes of data (the default MSS of RFC 9293) whenever
//     more follow. After a longer read, the message is taken as complete
//     once the stream stays quiet for settle, or the next read starts an
//     event.
//
// What this cannot tell apart: an event that the daemon sends just before
// a reply that is not one of the fixed ones (say, STATUS) stays merged
// with that reply, and a reply whose text holds "<digits>" is cut there.
// Neither happens for the requests that cause events.

// shortRead is the length below which a read ends a message.
const shortRead = 536

// fixedReplies are the replies of wpa_supplicant's and hostapd's control
// interfaces that do not depend on the request's data.
var fixedReplies = [][]byte{[]byte("OK\n"), []byte("FAIL\n"), []byte("PONG\n"), []byte("UNKNOWN COMMAND\n")}

// message is one wpa_ctrl message from the guest.
type message struct {
	data  []byte
	event bool
}

// splitter cuts the guest's stream into messages.
type splitter struct {
	pending []byte // the start of a message whose end has not been read
}

// eventAt tells whether an event starts at b[i]: '<', one or two digits,
// '>'.
func eventAt(b []byte, i int) bool {
	if b[i] != '<' {
		return false
	}
	j := i + 1
	for j < len(b) && j-i <= 2 && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return j > i+1 && j < len(b) && b[j] == '>'
}

// cut takes one read from the stream and returns the messages it
// completes, in order; awaiting tells whether a reply is awaited. A
// message that may go on in the next read is kept.
func (s *splitter) cut(read []byte, awaiting bool) []message {
	data := append(s.pending, read...)
	s.pending = nil
	var msgs []message
	start := 0
	for i := 1; i <= len(data); i++ {
		if i < len(data) && !eventAt(data, i) {
			continue
		}
		if i == len(data) && len(read) >= shortRead {
			s.pending = data[start:]
			break
		}
		for _, m := range classify(data[start:i], awaiting) {
			if !m.event {
				awaiting = false
			}
			msgs = append(msgs, m)
		}
		start = i
	}
	return msgs
}

// flush gives the kept message as complete, if there is one.
func (s *splitter) flush(awaiting bool) []message {
	if len(s.pending) == 0 {
		return nil
	}
	msgs := classify(s.pending, awaiting)
	s.pending = nil
	return msgs
}

// classify makes a message of one piece of the stream that starts a
// message and ends one, or two: an event followed by the fixed reply
// awaited.
func classify(b []byte, awaiting bool) []message {
	b = bytes.Clone(b)
	if !eventAt(b, 0) {
		return []message{{data: b}}
	}
	if awaiting {
		for _, r := range fixedReplies {
			if len(b) > len(r) && bytes.HasSuffix(b, r) {
				n := len(b) - len(r)
				return []message{{data: b[:n:n], event: true}, {data: b[n:]}}
			}
		}
	}
	return []message{{data: b, event: true}}
}

// level is an event's level: the number between '<' and '>'.
func level(event []byte) int {
	n := 0
	for _, c := range event[1:] {
		if c == '>' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
