package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// Request sends one request (PING, STATUS, SIGNAL_POLL) to the daemon
// behind the first relayed socket, wpa_supplicant's or hostapd's, on the
// socket's one guest connection, in turn with its clients' requests, and
// gives the reply. ctx bounds the wait; a reply that comes later is
// dropped. The relay's own failures are replies starting with "FAIL
// relay:", which Request gives as errors.
func (r *Relay) Request(ctx context.Context, req string) (string, error) {
	if len(r.sockets) == 0 {
		return "", errors.New("no control socket is relayed")
	}
	l := r.sockets[0]
	answer := make(chan []byte, 1)
	select {
	case l.reqs <- request{msg: []byte(req), answer: answer}:
	case <-ctx.Done():
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
