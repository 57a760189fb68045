package manager

import (
	"strconv"
	"strings"
	"time"
)

// WifiStatus is what the guest's wpa_supplicant or hostapd tells through
// the control-socket relay: its STATUS reply and, from wpa_supplicant,
// SIGNAL_POLL's.
type WifiStatus struct {
	Daemon    string    `json:"daemon"` // wpa_supplicant or hostapd
	State     string    `json:"state"`  // wpa_state, or hostapd's state
	SSID      string    `json:"ssid,omitempty"`
	Frequency int       `json:"frequency_mhz,omitempty"`
	Signal    *int      `json:"signal_dbm,omitempty"` // RSSI of SIGNAL_POLL
	Address   string    `json:"address,omitempty"`    // the guest's wlan IP address
	Checked   time.Time `json:"checked"`
}

// Connected tells whether the Wi-Fi works: wpa_supplicant has completed
// its association and authentication, or hostapd's interface is enabled.
func (w *WifiStatus) Connected() bool {
	return w != nil && (w.State == "COMPLETED" || (w.Daemon == "hostapd" && w.State == "ENABLED"))
}

// keyValues reads a wpa_ctrl reply of key=value lines.
func keyValues(reply string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(reply, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// parseWifi reads the reply to STATUS and, when there is one, to
// SIGNAL_POLL. wpa_supplicant's STATUS has wpa_state, ssid, freq and
// ip_address (wpa_supplicant_ctrl_iface_status in
// wpa_supplicant/ctrl_iface.c); hostapd's has state, ssid[0] and freq
// (hostapd_ctrl_iface_status in src/ap/ctrl_iface_ap.c); SIGNAL_POLL has
// RSSI and FREQUENCY (wpa_supplicant_signal_poll). ok is false when the
// reply is neither's.
func parseWifi(status, signal string) (w WifiStatus, ok bool) {
	kv := keyValues(status)
	switch {
	case kv["wpa_state"] != "":
		w = WifiStatus{Daemon: "wpa_supplicant", State: kv["wpa_state"], SSID: kv["ssid"], Address: kv["ip_address"]}
	case kv["state"] != "":
		w = WifiStatus{Daemon: "hostapd", State: kv["state"], SSID: kv["ssid[0]"]}
	default:
		return w, false
	}
	w.Frequency, _ = strconv.Atoi(kv["freq"])
	sig := keyValues(signal)
	if rssi, err := strconv.Atoi(sig["RSSI"]); err == nil {
		w.Signal = &rssi
	}
	if f, err := strconv.Atoi(sig["FREQUENCY"]); err == nil && w.Frequency == 0 {
		w.Frequency = f
	}
	return w, true
}
