package bhyve

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/abitest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// base is the configuration of the shell implementation's command line
// (pgj/freebsd-wifibox sbin/wifibox vm_manager).
func base() Spec {
	return Spec{
		Program:      "/usr/sbin/bhyve",
		CPUs:         1,
		Memory:       "128M",
		Console:      "/dev/nmdm-wifibox.1A",
		Firmware:     "/usr/local/share/uefi-firmware/BHYVE_UEFI.fd",
		ESPImage:     "/usr/local/share/wifibox/esp.img",
		RootImage:    "/usr/local/share/wifibox/root.img",
		Appliance:    "/usr/local/etc/wifibox/appliance",
		RunAppliance: "/var/run/wifibox/appliance",
		AppConfig:    "/usr/local/etc/wifibox/wpa_supplicant",
		Tap:          "tap0",
		Passthru:     []host.Selector{{Bus: 3}},
	}
}

// TestArgs compares the command line of each configuration with its golden
// file, one argument a line: a change is a visible diff in testdata.
func TestArgs(t *testing.T) {
	for name, change := range map[string]func(*Spec){
		"default":       func(*Spec) {},
		"no-console":    func(s *Spec) { s.Console = "" },
		"two-passthru":  func(s *Spec) { s.Passthru = append(s.Passthru, host.Selector{Slot: 20}) },
		"no-app-config": func(s *Spec) { s.AppConfig = "" },
		"uds-passthru":  func(s *Spec) { s.AppConfigRW = true },
		"resources":     func(s *Spec) { s.CPUs, s.Memory, s.Tap = 2, "1G", "tap3" },
		"no-passthru":   func(s *Spec) { s.Passthru = nil },
	} {
		t.Run(name, func(t *testing.T) {
			s := base()
			change(&s)
			got := strings.Join(Args(s), "\n") + "\n"
			path := filepath.Join("testdata", name+".args")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("bhyve command line (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArgsSpec checks the golden default against the shell implementation's
// command line (pgj/freebsd-wifibox sbin/wifibox vm_manager), written out here.
func TestArgsSpec(t *testing.T) {
	want := "/usr/sbin/bhyve -c 1 -m 128M -AHPSuw -l com1,/dev/nmdm-wifibox.1A " +
		"-s 0,hostbridge -s 31,lpc -l bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd " +
		"-s 4:0,virtio-blk,/usr/local/share/wifibox/esp.img -s 4:1,virtio-blk,/usr/local/share/wifibox/root.img " +
		"-s 4:2,virtio-9p,config=/usr/local/etc/wifibox/appliance,ro " +
		"-s 4:3,virtio-9p,var=/var/run/wifibox/appliance " +
		"-s 4:4,virtio-9p,app_config=/usr/local/etc/wifibox/wpa_supplicant,ro " +
		"-s 5:0,e1000,tap0 -s 6:0,passthru,3/0/0 wifibox"
	if got := strings.Join(Args(base()), " "); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestNice(t *testing.T) {
	for priority, want := range map[int]int{0: -20, 50: 0, 99: 20, 25: -10, 75: 10} {
		if got := Nice(priority); got != want {
			t.Errorf("Nice(%d) = %d, want %d", priority, got, want)
		}
	}
}

// TestExitStatusABI pins the exit statuses the VM manager's restart
// policy (manager.judge) reads to bhyve's.
func TestExitStatusABI(t *testing.T) {
	abitest.Check(t, map[string]int64{
		"bhyve.exit.reset":       host.ExitReset,
		"bhyve.exit.poweroff":    host.ExitPowerOff,
		"bhyve.exit.halt":        host.ExitHalt,
		"bhyve.exit.triplefault": host.ExitTripleFault,
		"bhyve.exit.error":       host.ExitError,
	})
}
