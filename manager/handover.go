package manager

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/relay"
)

// The relay's sockets outlive a restart of the VM manager (restart guest,
// restart vmm, resume), so that the clients attached to them (wpa_cli -a
// and its action script) stay attached and get the new guest's events:
// the command that restarts asks the old manager for them (Handover)
// before it stops it, and gives them to the new one (Spawn) as inherited
// files, described in handedEnv.
const handedEnv = "WIFIBOX_RELAY_HANDED"

// handedFD is the first inherited file descriptor of a handed socket:
// after the report pipe (ReportFile).
const handedFD = 4

// handover answers a handover request: the relay stops and its sockets go
// to the requester, with their attached clients, a JSON line with the
// sockets' descriptors (SCM_RIGHTS).
func (m *manager) handover(conn net.Conn) {
	m.mu.Lock()
	r := m.relays
	m.relays = nil
	m.mu.Unlock()
	var handed []relay.Handed
	if r != nil {
		var err error
		if handed, err = r.Handover(); err != nil {
			m.log.Errorf("VM manager: hand over the control sockets: %v", err)
		}
		m.log.Infof("VM manager: control sockets handed over for the next VM manager: %d", len(handed))
	}
	fds := make([]int, len(handed))
	for i, h := range handed {
		fds[i] = int(h.File.Fd())
		defer h.File.Close()
	}
	line, _ := json.Marshal(handed)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := conn.(*net.UnixConn).WriteMsgUnix(append(line, '\n'), oob, nil); err != nil {
		m.log.Errorf("VM manager: hand over the control sockets: %v", err)
	}
}

// Handover takes the relay's sockets from the running VM manager, which
// no longer serves them; they go to the next manager (Spawn). A manager
// that does not answer within StatusWait is an ErrNoAnswer error.
func Handover(runDir string) ([]relay.Handed, error) {
	deadline := time.Now().Add(StatusWait)
	conn, err := dial(runDir, "handover", deadline, StatusWait)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, "handover\n"); err != nil {
		return nil, fmt.Errorf("send handover to the VM manager: %w", noAnswer(err, StatusWait))
	}
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(64*4))
	n, oobn, _, _, err := conn.(*net.UnixConn).ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("read the VM manager's answer to handover: %w", noAnswer(err, StatusWait))
	}
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	for _, msg := range msgs {
		rights, _ := unix.ParseUnixRights(&msg)
		fds = append(fds, rights...)
	}
	var handed []relay.Handed
	if err == nil {
		err = json.Unmarshal(buf[:n], &handed)
	}
	if err == nil && len(handed) != len(fds) {
		err = fmt.Errorf("%d sockets described, %d given", len(handed), len(fds))
	}
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("the VM manager's answer to handover: %w", err)
	}
	for i := range handed {
		unix.CloseOnExec(fds[i])
		handed[i].File = os.NewFile(uintptr(fds[i]), handed[i].Path)
	}
	return handed, nil
}

// handedFiles gives what Spawn passes on of handed sockets: the files and
// the environment entry describing them.
func handedFiles(handed []relay.Handed) ([]*os.File, string) {
	files := make([]*os.File, len(handed))
	for i, h := range handed {
		files[i] = h.File
	}
	line, _ := json.Marshal(handed)
	return files, handedEnv + "=" + string(line)
}

// inherited gives the sockets the last VM manager handed over, by path,
// and removes the environment entry, which bhyve is not to see.
func inherited() map[string]relay.Handed {
	v, ok := os.LookupEnv(handedEnv)
	os.Unsetenv(handedEnv)
	var handed []relay.Handed
	if !ok || json.Unmarshal([]byte(v), &handed) != nil {
		return nil
	}
	adopt := make(map[string]relay.Handed, len(handed))
	for i, h := range handed {
		fd := handedFD + i
		unix.CloseOnExec(fd)
		h.File = os.NewFile(uintptr(fd), "handed socket "+strconv.Itoa(fd))
		adopt[h.Path] = h
	}
	return adopt
}
