package manager

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReached(t *testing.T) {
	for _, c := range []struct {
		at, want Stage
		reached  bool
	}{
		{StageWifi, StageRunning, true},
		{StageUp, StageUp, true},
		{StageUp, StageWifi, false},
		{StageStarting, StageRunning, false},
		{StageRestarting, StageRunning, false},
		{StageFailed, StageRunning, false},
		{StageStopped, StageRunning, false},
	} {
		if got := c.at.Reached(c.want); got != c.reached {
			t.Errorf("%s reached %s = %v, want %v", c.at, c.want, got, c.reached)
		}
	}
	for _, s := range []string{"running", "up", "wifi"} {
		if st, err := ParseStage(s); err != nil || string(st) != s {
			t.Errorf("ParseStage(%q) = %q, %v", s, st, err)
		}
	}
	for _, s := range []string{"starting", "restarting", "", "WIFI"} {
		if _, err := ParseStage(s); err == nil {
			t.Errorf("ParseStage(%q) accepted", s)
		}
	}
}

func TestParseWifi(t *testing.T) {
	rssi := -61
	for _, c := range []struct {
		name, status, signal string
		want                 WifiStatus
		ok, connected        bool
	}{{
		name: "wpa_supplicant associated",
		status: "bssid=02:00:00:00:01:00\nfreq=5180\nssid=home net\nid=0\nmode=station\n" +
			"pairwise_cipher=CCMP\nkey_mgmt=WPA2-PSK\nwpa_state=COMPLETED\nip_address=192.168.1.23\naddress=02:00:00:00:00:02\n",
		signal: "RSSI=-61\nLINKSPEED=433\nNOISE=9999\nFREQUENCY=5180\n",
		want:   WifiStatus{Daemon: "wpa_supplicant", State: "COMPLETED", SSID: "home net", Frequency: 5180, Signal: &rssi, Address: "192.168.1.23"},
		ok:     true, connected: true,
	}, {
		name:   "wpa_supplicant scanning",
		status: "wpa_state=SCANNING\naddress=02:00:00:00:00:02\n",
		signal: "FAIL\n",
		want:   WifiStatus{Daemon: "wpa_supplicant", State: "SCANNING"},
		ok:     true,
	}, {
		name:   "hostapd",
		status: "state=ENABLED\nphy=phy0\nfreq=2437\nnum_sta_non_erp=0\nbss[0]=wlan0\nbssid[0]=02:00:00:00:01:00\nssid[0]=wifibox\nnum_sta[0]=1\n",
		signal: "UNKNOWN COMMAND\n",
		want:   WifiStatus{Daemon: "hostapd", State: "ENABLED", SSID: "wifibox", Frequency: 2437},
		ok:     true, connected: true,
	}, {
		name:   "neither",
		status: "PONG\n",
	}} {
		got, ok := parseWifi(c.status, c.signal)
		if ok != c.ok || got.Connected() != c.connected {
			t.Errorf("%s: ok %v connected %v, want %v %v", c.name, ok, got.Connected(), c.ok, c.connected)
		}
		if diff := cmp.Diff(c.want, got); ok && diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}
