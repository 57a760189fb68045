package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExpansionBomb: a0=x then aN=$a(N-1)$a(N-1) up to 32 levels in
// core.conf is a configuration error (exit status 3) at the reference that
// passes the bound, not a process that runs out of memory.
func TestExpansionBomb(t *testing.T) {
	h := newHost(t)
	var b strings.Builder
	b.WriteString("a0=x\n")
	for n := 1; n <= 32; n++ {
		fmt.Fprintf(&b, "a%d=$a%d$a%d\n", n, n-1, n-1)
	}
	h.config("core.conf", b.String())
	out, errOut, code := h.run("status")
	if code != 3 || out != "" || !strings.HasPrefix(errOut, "ERROR: core.conf:21:5: reference to a19 expands the values of this file beyond") {
		t.Errorf("status: exit %d, stdout %q, stderr %q; want 3 and the error at core.conf:21:5", code, out, errOut)
	}
}

// TestSocketPathOutside: a socket path of uds_passthru.conf that climbs out
// with ".." is refused at file:line:column: the guest runs without the
// pass-through (as with any unusable uds_passthru.conf), and no socket
// appears where the path leads, outside the simulated host.
func TestSocketPathOutside(t *testing.T) {
	h := newHost(t)
	outside := filepath.Join(t.TempDir(), "x")
	path := "/../../../../../../../../../../.." + outside
	h.config("appliance/uds_passthru.conf", "network=10.0.0.1:255.255.255.0\nsockets=\"path="+path+",user=root,group=0,mode=770,port=1200\"\n")
	h.must("start")
	want := regexp.MustCompile(`ERROR VM manager: no control-socket pass-through: uds_passthru.conf:2:9: ` +
		`sockets entry "path=/\.\./[^"]*": path should be clean, with no "." or ".." component`)
	if !want.MatchString(h.log()) {
		t.Errorf("the log has no %q", want)
	}
	if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v, want none", outside, err)
	}
}
