package tty

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func get(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
	var tio *unix.Termios
	if err := Control(f, func(fd int) error {
		var err error
		tio, err = Get(fd, f.Name())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return tio
}

// MakeRawFile leaves the terminal as MakeRaw (and the speed) make its
// settings, and gives back the settings from before.
func TestMakeRawFile(t *testing.T) {
	for _, baud115200 := range []bool{false, true} {
		master, slave, path, err := OpenPTY()
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		defer slave.Close()
		before := get(t, slave)
		saved, err := MakeRawFile(slave, path, baud115200)
		if err != nil {
			t.Fatalf("MakeRawFile(%v): %v", baud115200, err)
		}
		if diff := cmp.Diff(before, saved); diff != "" {
			t.Errorf("MakeRawFile(%v) saved (-before +saved):\n%s", baud115200, diff)
		}
		want := *before
		MakeRaw(&want)
		if baud115200 {
			setSpeed115200(&want)
		}
		// TCGETS does not fill c_ispeed and c_ospeed: Linux has the
		// speed in c_cflag, which is compared.
		want.Ispeed, want.Ospeed = 0, 0
		if diff := cmp.Diff(&want, get(t, slave)); diff != "" {
			t.Errorf("MakeRawFile(%v) left (-want +got):\n%s", baud115200, diff)
		}
	}
}

func TestMakeRawFileNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if saved, err := MakeRawFile(f, f.Name(), false); !errors.Is(err, unix.ENOTTY) || saved != nil {
		t.Errorf("MakeRawFile of a file: %v, %v; want nil, ENOTTY", saved, err)
	}
}
