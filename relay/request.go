package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// Request sends one request (STATUS, SIGNAL_POLL) to the daemon behind
// the first relayed socket, wpa_supplicant's or hostapd's, on the
// socket's one guest connection, in turn with its clients' requests, and
// gives the reply. ctx bounds the wait, and ReplyTimeout the request; a
// reply that comes later is dropped. The relay's own failures are replies
// starting with "FAIL relay:", which Request gives as errors.
func (r *Relay) Request(ctx context.Context, req string) (string, error) {
	if len(r.sockets) == 0 {
		return "", errors.New("no control socket is relayed")
	}
	l := r.sockets[0]
	answer := make(chan []byte, 1)
	q := &request{msg: []byte(req), answer: answer}
	l.expire(q)
	select {
	case l.reqs <- q:
	case <-ctx.Done():
		l.finish(q, nil)
		return "", fmt.Errorf("%s to the guest's port %d: %w", req, l.sock.Port, ctx.Err())
	}
	select {
	case reply := <-answer:
		if msg, failed := bytes.CutPrefix(reply, []byte("FAIL relay: ")); failed {
			return "", fmt.Errorf("%s to the guest's port %d: %s", req, l.sock.Port, bytes.TrimSuffix(msg, []byte("\n")))
		}
		return strings.TrimSpace(string(reply)), nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s to the guest's port %d: no answer: %w", req, l.sock.Port, ctx.Err())
	}
}

// Subscribe makes the relay's user an attached client of the daemon
// behind every relayed socket, at level MSG_INFO: the events come on the
// channel, "<level>text" as wpa_supplicant sends them, and the guest
// connection stays attached, across the guest's restarts, until the
// relay stops. A nil message says that the connection has just been
// attached: events before it were not seen. Events the user does not take
// in time are lost: it should ask the daemon how things are when it takes
// one.
func (r *Relay) Subscribe() <-chan []byte {
	events := make(chan []byte, outboxLength)
	for _, l := range r.sockets {
		l.mu.Lock()
		l.peers[""] = &peer{local: events, attached: true, level: msgInfo}
		l.mu.Unlock()
	}
	r.Kick()
	return events
}

// Kick tells the relay that the guest may be reachable now (it has just
// come up): a socket with attached clients and no guest connection tries
// to connect at once rather than at its next retry.
func (r *Relay) Kick() {
	for _, l := range r.sockets {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}
