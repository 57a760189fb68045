package relay

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wifibox/wifibox/internal/guestfake"
)

// TestRelayRequest: Request asks the guest's daemon on the socket's guest
// connection, in turn with the clients, and a daemon that does not answer
// makes it fail when its context ends.
func TestRelayRequest(t *testing.T) {
	g := newRig(t, Options{})
	ctx := context.Background()
	if reply, err := g.relay.Request(ctx, "STATUS"); err != nil || reply != strings.TrimSpace(guestfake.Status) {
		t.Errorf("STATUS: %q, %v", reply, err)
	}
	c := g.client(t, "c1")
	c.expect("PING", "PONG\n")
	g.guest.wpa.Scanning.Store(true)
	if reply, err := g.relay.Request(ctx, "SIGNAL_POLL"); err != nil || reply != "FAIL" {
		t.Errorf("SIGNAL_POLL while scanning: %q, %v", reply, err)
	}
	c.expect("STATUS", guestfake.Scanning)
	g.guest.wpa.Mute.Store(true)
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if reply, err := g.relay.Request(ctx, "PING"); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("PING to a hung daemon: %q, %v", reply, err)
	}
}
