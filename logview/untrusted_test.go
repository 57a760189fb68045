package logview

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wifibox/wifibox/internal/linktest"
)

// TestShowEscapes: what a terminal would act on is shown escaped, whatever
// the guest wrote; text, newlines and tabs pass as they are.
func TestShowEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	in := "\x1b[31mred\x1b[0m\r\n\x07bell\tok é \u009b1m \xff\xc3\n\x1b]0;title\x07\x7f"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Show(&out, path, View{Lines: All}, nil); err != nil {
		t.Fatal(err)
	}
	want := `\x1b[31mred\x1b[0m\x0d` + "\n" + `\x07bell` + "\tok é " + `\u009b1m \xff\xc3` + "\n" + `\x1b]0;title\x07\x7f`
	if out.String() != want {
		t.Errorf("Show printed\n%q\nwant\n%q", out.String(), want)
	}
}

// TestEscaperSplitCharacter: a character split across writes passes whole.
func TestEscaperSplitCharacter(t *testing.T) {
	var out bytes.Buffer
	e := &escaper{w: &out}
	for _, part := range []string{"a\xc3", "\xa9b\xe2\x82", "\xac\x1b"} {
		if n, err := e.Write([]byte(part)); n != len(part) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", part, n, err)
		}
	}
	e.flush()
	if want := `aéb€\x1b`; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestShowRefusesLinks: a log that is a link, dangling or to an existing
// file, is not shown (the guest could plant one to /etc/master.passwd).
func TestShowRefusesLinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	linktest.Check(t, path, func(existing bool) {
		var out bytes.Buffer
		err := Show(&out, path, View{Lines: All}, nil)
		if err == nil || !strings.Contains(err.Error(), "symbolic link") || out.Len() != 0 {
			t.Errorf("Show through a link (target exists: %v): %v, printed %q", existing, err, out.String())
		}
	})
}

// TestShowRefusesOtherThanRegularFiles: a FIFO (which would block the
// reader) or a directory in the log's place is refused.
func TestShowRefusesOtherThanRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe", dir: "a directory"} {
		err := Show(&bytes.Buffer{}, path, View{Lines: All}, nil)
		if err == nil || !strings.Contains(err.Error(), "it is "+kind+", not a regular file") {
			t.Errorf("Show of %s: %v", kind, err)
		}
	}
}

// TestShowBounded: of a log larger than maxShown, only its last lines, at
// most maxShown bytes, are shown, after a note of what was skipped.
func TestShowBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	var b bytes.Buffer
	for i := 0; b.Len() < 3*maxShown; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Show(&out, path, View{Lines: All}, nil); err != nil {
		t.Fatal(err)
	}
	note, shown, _ := strings.Cut(out.String(), "\n")
	if !strings.HasPrefix(note, "[wifibox: ") || len(shown) > maxShown || !strings.HasPrefix(shown, "line ") ||
		!strings.HasSuffix(b.String(), shown) {
		t.Errorf("Show of %d bytes printed %d bytes starting %q", b.Len(), out.Len(), out.String()[:80])
	}
	if want := fmt.Sprintf("[wifibox: %d bytes skipped, the last %d shown]", b.Len()-len(shown), len(shown)); note != want {
		t.Errorf("note %q, want %q", note, want)
	}
}

// TestShowLastLinesBounded: asking for the last lines of a log without
// newlines reads no more than is shown.
func TestShowLastLinesBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 3*maxShown), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Show(&out, path, View{Lines: 10}, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() != maxShown {
		t.Errorf("Show of the last 10 lines of %d bytes without a newline printed %d bytes, want %d", 3*maxShown, out.Len(), maxShown)
	}
}

// TestShowLongLastLine: a last line longer than what is shown is shown by
// its end, with a note, as the last lines of it are; with and without its
// newline.
func TestShowLongLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	long := strings.Repeat("x", 2*maxShown) + "END"
	for _, content := range []string{"first\n" + long, "first\n" + long + "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Show(&out, path, View{Lines: All}, nil); err != nil {
			t.Fatal(err)
		}
		note, shown, _ := strings.Cut(out.String(), "\n")
		want := fmt.Sprintf("[wifibox: %d bytes skipped, the last %d shown]", len(content)-maxShown, maxShown)
		if note != want || len(shown) != maxShown || !strings.HasSuffix(content, shown) || !strings.Contains(shown, "END") {
			t.Errorf("Show of a %d-byte last line: note %q (want %q), then %d bytes", len(long), note, want, len(shown))
		}
	}
}
