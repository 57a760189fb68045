package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRelay: with uds_passthru.conf the guest's wpa_supplicant control
// socket appears on the host while the guest runs, and goes with it.
func TestRelay(t *testing.T) {
	h := newHost(t)
	h.config("appliance/uds_passthru.conf", `network=127.0.0.1:255.0.0.0
_sockdir=/var/run/wpa_supplicant
_perms="user=root,group=0,mode=770"
sockets="path=${_sockdir}/wlan0,${_perms},port=1201"
`)
	h.must("start")
	sock := filepath.Join(h.dir, "var/run/wpa_supplicant/wlan0")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("%s: mode %v, want a socket with 0770", sock, fi.Mode())
	}
	client := filepath.Join(h.dir, "client")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: client, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.WriteTo([]byte("PING"), &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "PONG\n" {
		t.Errorf("PING answered %q, %v; want PONG", buf[:n], err)
	}
	if _, err := conn.WriteTo([]byte("ATTACH"), &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	n, _, err = conn.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "OK\n" {
		t.Errorf("ATTACH answered %q, %v; want OK", buf[:n], err)
	}
	if out := h.must("status", "-v"); !strings.Contains(out, "Relay:       "+sock+" -> guest port 1201, 1 attached clients") {
		t.Errorf("status -v does not list the relay:\n%s", out)
	}
	h.must("stop", "guest")
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the relay's socket is still there after stop: %v", err)
	}
}
