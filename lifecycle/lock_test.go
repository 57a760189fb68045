package lifecycle

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/linktest"
)

func testRunner(t *testing.T) (*Runner, *bytes.Buffer) {
	t.Helper()
	var logged bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logged)
	paths := host.DefaultPaths(t.TempDir())
	return &Runner{Host: &host.Host{Paths: paths}, Log: log, Out: io.Discard, lockWait: 200 * time.Millisecond}, &logged
}

// TestLockNamesHolderAndGivesUp: a command that finds the command lock held
// says which command holds it, and gives up after its bound with an error
// naming it; once free, the lock is taken and records its new holder.
func TestLockNamesHolderAndGivesUp(t *testing.T) {
	r, logged := testRunner(t)
	path := filepath.Join(r.Host.Paths.RunDir, "wifibox.lock")
	unlock, err := r.lock("stop")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := "PID " + strconv.Itoa(os.Getpid()) + ", wifibox stop\n"; string(data) != want {
		t.Errorf("the lock records %q, want %q", data, want)
	}
	// flock(2) locks belong to the open file: a second open conflicts
	// even in the same process.
	_, err = r.lock("start")
	want := "Another wifibox command (PID " + strconv.Itoa(os.Getpid()) + ", wifibox stop) has held " + path + " for more than 200ms, giving up"
	if err == nil || !strings.HasPrefix(err.Error(), want) || failure.Status(err) != failure.Environment {
		t.Errorf("lock while held: %v, want %q", err, want)
	}
	if !strings.Contains(logged.String(), "Another wifibox command (PID "+strconv.Itoa(os.Getpid())+", wifibox stop) is running, waiting up to 200ms") {
		t.Errorf("the log does not name the holder:\n%s", logged.String())
	}
	unlock()
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("a released lock records %q", data)
	}
	unlock, err = r.lock("start")
	if err != nil {
		t.Fatalf("lock once free: %v", err)
	}
	unlock()
}

// TestLockWaitsForRelease: the wait ends when the holder lets the lock go.
func TestLockWaitsForRelease(t *testing.T) {
	r, _ := testRunner(t)
	r.lockWait = time.Minute
	unlock, err := r.lock("stop")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, unlock)
	unlock, err = r.lock("start")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TestLockRefusesLinks: a link planted at the lock's path, dangling or to
// an existing file, is not followed.
func TestLockRefusesLinks(t *testing.T) {
	r, _ := testRunner(t)
	dir := r.Host.Paths.RunDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	linktest.Check(t, filepath.Join(dir, "wifibox.lock"), func(existing bool) {
		_, err := r.lock("start")
		if err == nil || !strings.Contains(err.Error(), "symbolic link") || !errors.Is(err, unix.ELOOP) {
			t.Errorf("lock through a link (target exists: %v): %v", existing, err)
		}
	})
}

// TestLockRefusesUnsafeRunDir: a run directory others can write into is
// refused with the command that fixes it.
func TestLockRefusesUnsafeRunDir(t *testing.T) {
	r, _ := testRunner(t)
	dir := r.Host.Paths.RunDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := r.lock("start")
	want := "refusing to use " + dir + ": it is writable by group and others (mode 0777), so others could plant links in it that root follows; fix it with: chmod go-w " + dir
	if err == nil || err.Error() != want {
		t.Errorf("lock in a world-writable run directory: %v, want %s", err, want)
	}
	if _, err := os.Lstat(filepath.Join(dir, "wifibox.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock was created in the refused directory: %v", err)
	}
}
