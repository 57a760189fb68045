package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	for name, load := range map[string]func(string) error{
		"core.conf":  func(p string) error { _, _, err := LoadCore(p); return err },
		"bhyve.conf": func(p string) error { _, _, err := LoadBhyve(p, 16); return err },
	} {
		path := filepath.Join(dir, name)
		err := load(path)
		if want := path + " is missing, please create it from the sample"; err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
		if !errors.Is(err, ErrMissing) || errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v is not only ErrMissing, or not ENOENT", name, err)
		}
	}
	u, exists, warnings, err := LoadUDSPassthru(filepath.Join(dir, "appliance", "uds_passthru.conf"))
	if err != nil || exists || warnings != nil || !cmp.Equal(u, UDSPassthru{MaxSessions: 16}, cmpopts.EquateComparable(netip.Addr{})) {
		t.Errorf("missing uds_passthru.conf: %+v, %v, %q, %v; want the defaults, false", u, exists, warnings, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	core := filepath.Join(dir, "core.conf")
	writeFile(t, core, "loglevel=info\nverbose=1\n", 0o644)
	c, warnings, err := LoadCore(core)
	if err != nil || c != (Core{LogLevel: LogInfo, Recovery: RecoveryRestartVMM, RecoveryFrom: RecoveryBuiltIn}) ||
		!cmp.Equal(warnings, []string{"core.conf:2: unknown setting verbose, ignored"}) {
		t.Errorf("LoadCore: %+v, %q, %v", c, warnings, err)
	}

	bhyve := filepath.Join(dir, "bhyve.conf")
	writeFile(t, bhyve, "cpus=4\nmemory=12X\n", 0o600)
	_, _, err = LoadBhyve(bhyve, 2)
	checkInvalid(t, "LoadBhyve", err, "bhyve.conf:1:6: cpus should be in between 1 and 2: 4")
	b, _, err := LoadBhyve(filepath.Join(dir, "bhyve.conf"), 0)
	checkInvalid(t, "LoadBhyve", err, `bhyve.conf:2:8: malformed memory value: "12X", expected: non-negative integer, suffixed with unit: K, M, G, T`)
	writeFile(t, bhyve, "cpus=4\n", 0o400)
	if b, _, err = LoadBhyve(bhyve, 0); err != nil || b.CPUs != 4 {
		t.Errorf("LoadBhyve: %+v, %v", b, err)
	}

	uds := filepath.Join(dir, "uds_passthru.conf")
	writeFile(t, uds, udsSample, 0o644)
	u, exists, warnings, err := LoadUDSPassthru(uds)
	if err != nil || !exists || len(warnings) != 0 || len(u.Sockets) != 2 {
		t.Errorf("LoadUDSPassthru: %+v, %v, %q, %v", u, exists, warnings, err)
	}
	writeFile(t, uds, "sockets=$(id)", 0o644)
	_, exists, _, err = LoadUDSPassthru(uds)
	checkInvalid(t, "LoadUDSPassthru", err, `uds_passthru.conf:1:9: command substitution "$(" is not allowed: configuration is parsed, not executed`)
	if !exists {
		t.Errorf("LoadUDSPassthru of an invalid file: exists is false")
	}
}

func TestReadFileRefusesUnsafeFiles(t *testing.T) {
	dir := t.TempDir()
	const why = ", so others could make wifibox do anything as root; fix it with: "
	for _, c := range []struct {
		mode os.FileMode
		want string
	}{
		{0o666, ": refusing to read: it is writable by group and others (mode 0666)" + why + "chmod go-w "},
		{0o620, ": refusing to read: it is writable by group (mode 0620)" + why + "chmod g-w "},
		{0o642, ": refusing to read: it is writable by others (mode 0642)" + why + "chmod o-w "},
	} {
		path := filepath.Join(dir, "bhyve.conf")
		writeFile(t, path, "cpus=1\n", c.mode)
		_, err := ReadFile(path, os.Getuid())
		checkUnsafe(t, err, path+c.want+path)
		_, _, err = LoadBhyve(path, 16)
		checkUnsafe(t, err, path+c.want+path)
	}

	// A file owned by neither root nor the user: as root, give it to
	// another uid; otherwise it is the running user's, so claim another.
	path := filepath.Join(dir, "core.conf")
	writeFile(t, path, "loglevel=debug\n", 0o644)
	owner, uid := os.Getuid(), os.Getuid()+1
	if owner == 0 {
		owner, uid = 4242, 0
		if err := os.Chown(path, owner, -1); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ReadFile(path, uid)
	checkUnsafe(t, err, path+": refusing to read: it is owned by uid "+strconv.Itoa(owner)+
		", neither root nor the running user (uid "+strconv.Itoa(uid)+")"+why+"chown root "+path)
	if _, err := ReadFile(path, owner); err != nil {
		t.Errorf("ReadFile by its owner: %v", err)
	}
}

func checkUnsafe(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrUnsafe) || !errors.Is(err, ErrInvalid) || errors.Is(err, ErrMissing) {
		t.Errorf("%v is not ErrUnsafe and ErrInvalid", err)
	}
}

func TestReadFileRefusesOtherThanRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(fifo, os.Getuid()) // must not wait for a writer
	checkInvalid(t, "ReadFile of a FIFO", err, fifo+": is a named pipe, not a regular file: replace it with one created from the sample")

	sub := filepath.Join(dir, "dir.conf")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(sub, os.Getuid())
	checkInvalid(t, "ReadFile of a directory", err, sub+": is a directory, not a regular file: replace it with one created from the sample")
}
