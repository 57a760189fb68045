package runfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/internal/linktest"
)

// TestOpenNamesThePathOnce: an error names the path once, with its cause:
// not "open X: open X: ...".
func TestOpenNamesThePathOnce(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing", "f"), dir} {
		_, err := Open(path, os.O_RDWR, true, 0o600)
		if err == nil || strings.Count(err.Error(), path) != 1 {
			t.Errorf("Open(%s): %v, want an error naming it once", path, err)
		}
	}
	_, err := Open(filepath.Join(dir, "missing", "f"), os.O_RDWR, true, 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory: %v, want ErrNotExist", err)
	}
}

// TestOpenCreatesExclusively: a new file is created with perm; an existing
// one is opened as it is.
func TestOpenCreatesExclusively(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := Open(path, os.O_RDWR, true, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	if f, err = Open(path, os.O_RDONLY, false, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Create(path, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file: %v, want ErrExist", err)
	}
}

// TestCheckDir: a directory writable by others, owned by another user, or
// that is a link, is refused with the fix.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDir(dir, os.Getuid()); err != nil {
		t.Errorf("CheckDir of a private directory: %v", err)
	}
	other := 12345
	if os.Getuid() != 0 {
		// The owner is neither root nor uid 12345.
		if err := CheckDir(dir, other); err == nil || !strings.HasSuffix(err.Error(), "fix it with: chown root "+dir) {
			t.Errorf("CheckDir of another user's directory: %v", err)
		}
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(link, os.Getuid()); err == nil || !strings.Contains(err.Error(), "it is a symbolic link, not a directory") {
		t.Errorf("CheckDir of a link: %v", err)
	}
	for mode, fix := range map[os.FileMode]string{0o775: "chmod g-w", 0o757: "chmod o-w", 0o1777: "chmod go-w"} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := CheckDir(dir, os.Getuid()); err == nil || !strings.HasSuffix(err.Error(), "fix it with: "+fix+" "+dir) {
			t.Errorf("CheckDir of mode %04o: %v, want the fix %s", mode, err, fix)
		}
	}
}

// TestUnsafeOwner: a file owned by neither root nor the running user is
// unsafe; the fix is chown root. (The tests may run as root, who owns
// every file they create: the owner is given through a Stat_t.)
func TestUnsafeOwner(t *testing.T) {
	fi := fakeInfo{mode: 0o755 | fs.ModeDir, st: &syscall.Stat_t{Uid: 1001}}
	if why, fix := Unsafe(fi, 1000); why != "it is owned by uid 1001, neither root nor the running user (uid 1000)" || fix != "chown root" {
		t.Errorf("Unsafe = %q, %q", why, fix)
	}
	for _, uid := range []uint32{0, 1000} {
		fi.st.Uid = uid
		if why, _ := Unsafe(fi, 1000); why != "" {
			t.Errorf("owned by %d: %s", uid, why)
		}
	}
}

type fakeInfo struct {
	mode fs.FileMode
	st   *syscall.Stat_t
}

func (f fakeInfo) Name() string       { return "f" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return f.st }

// TestWaitLock: the wait ends when the lock is free, or with ErrTimeout
// at the bound.
func TestWaitLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder, err := Open(path, os.O_RDWR, true, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(holder.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	waiter, err := Open(path, os.O_RDWR, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	flock := func(fd int) error { return unix.Flock(fd, unix.LOCK_EX) }
	if err := WaitLock(waiter, flock, 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("WaitLock while held: %v, want ErrTimeout", err)
	}
	waiter.Close() // the abandoned wait lets the lock go once it gets it
	waiter, err = Open(path, os.O_RDWR, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	time.AfterFunc(50*time.Millisecond, func() { holder.Close() })
	if err := WaitLock(waiter, flock, time.Minute); err != nil {
		t.Errorf("WaitLock until released: %v", err)
	}
}

// TestWriteAtomic: the file is replaced whole; a link planted at its path
// is replaced, not followed, and ReadSmall refuses to read through one.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record")
	for _, content := range []string{"first\n", "second\n"} {
		if err := WriteAtomic(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if data, err := ReadSmall(path, 100); err != nil || string(data) != content {
			t.Errorf("ReadSmall = %q, %v; want %q", data, err, content)
		}
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("untouched"), 0o644)
	os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSmall(path, 100); err == nil {
		t.Error("ReadSmall read through a link")
	}
	if err := WriteAtomic(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "untouched" {
		t.Errorf("the link's target was written: %q", data)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the path after the write: %v, %v; want a regular file", fi, err)
	}
	if _, err := ReadSmall(path, 2); err == nil {
		t.Error("ReadSmall read a file over its limit")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left beside: %v", entries)
	}
}

// TestReplace: the content is replaced, the mode kept; a new file gets
// perm; a link in the file's place is refused and its target untouched.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rc.conf")
	if err := Replace(path, []byte("a=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("new file: %v, %v; want mode 0644", fi, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, []byte("a=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || string(data) != "a=2\n" {
		t.Errorf("replaced file: %q, %v, %v; want a=2 with mode 0600", data, fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left beside the file: %v", entries)
	}
	link := filepath.Join(dir, "link")
	linktest.Check(t, link, func(bool) {
		if err := Replace(link, []byte("evil\n"), 0o644); err == nil {
			t.Errorf("Replace through a link succeeded")
		}
	})
}
