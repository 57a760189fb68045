package manager

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/relay"
)

// spawnWait bounds the wait of Spawn for the VM manager's report: the
// manager gives bhyve readyTimeout to get the guest running, kills it then,
// and cleans up.
const spawnWait = readyTimeout + killGrace + cleanupWait

// Spawn starts the VM manager, `exe args...`, detached in a session of its
// own with no terminal, and waits (on a pipe, not a timer) until it reports
// that bhyve runs or why it could not start the guest. It gives the pid of
// bhyve. A manager that reports nothing within spawnWait is killed, and the
// error is an ErrNoAnswer one. The relay's sockets that the last manager
// handed over (Handover) go to the new one.
func Spawn(exe string, args []string, handed ...relay.Handed) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("start the VM manager: pipe: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = []*os.File{w} // fd 3: the report
	if len(handed) > 0 {           // fds 4...: the sockets (inherited)
		files, env := handedFiles(handed)
		cmd.ExtraFiles = append(cmd.ExtraFiles, files...)
		cmd.Env = append(os.Environ(), env)
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("start the VM manager %s: %w", exe, err)
	}
	r.SetReadDeadline(time.Now().Add(spawnWait))
	line, err := bufio.NewReader(r).ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, fmt.Errorf("the VM manager PID %d did not report within %s, killed it: %w",
			cmd.Process.Pid, spawnWait, ErrNoAnswer)
	}
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch word {
	case "ready":
		cmd.Process.Release()
		pid, err := strconv.Atoi(rest)
		if err != nil {
			return 0, fmt.Errorf("the VM manager reported a malformed pid %q", rest)
		}
		return pid, nil
	case "error":
		cmd.Wait()
		code, msg, _ := strings.Cut(rest, " ")
		status, err := strconv.Atoi(code)
		if err != nil {
			status = failure.Environment
		}
		return 0, failure.New(status, errors.New(msg))
	}
	err = cmd.Wait()
	return 0, fmt.Errorf("the VM manager exited before the guest started (%v); see the log", err)
}

// ReportFile is the pipe Spawn gives the manager process. It is closed on
// exec, so that bhyve does not inherit it: a start must see the pipe close
// when the manager is gone, whatever bhyve does.
func ReportFile() *os.File {
	syscall.CloseOnExec(3)
	return os.NewFile(3, "report")
}

// StatusWait bounds the wait of Query for the VM manager's answer.
const StatusWait = 2 * time.Second

// cleanupWait is what a stop request grants the VM manager, once bhyve is
// gone, to destroy the VM, release the devices and answer.
const cleanupWait = time.Second

// StopWait bounds the wait of Stop for a VM manager whose guest has
// stopWait (bhyve.conf's stop_wait_max) to power off: the manager forces it
// off then, kills bhyve killGrace later, and cleans up.
func StopWait(stopWait time.Duration) time.Duration { return stopWait + killGrace + cleanupWait }

// Query asks the running VM manager for its status; with wifi, it asks
// wpa_supplicant or hostapd through the relay first. A manager that does
// not answer within StatusWait is an ErrNoAnswer error.
func Query(runDir string, wifi bool) (Status, error) {
	req := "status"
	if wifi {
		req = "status wifi"
	}
	var s Status
	answer, err := request(runDir, req, StatusWait)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(answer), &s); err != nil {
		return s, fmt.Errorf("the VM manager's status %q: %w", answer, err)
	}
	return s, nil
}

// Stop asks the running VM manager to stop the guest and waits until it
// has cleaned up and gone. A grace above zero bounds the guest's time to
// power off below stop_wait_max; after it the guest is forced off. Stop
// waits at most wait (see StopWait): then it is an ErrNoAnswer error.
func Stop(runDir string, grace, wait time.Duration) error {
	req := "stop"
	if grace > 0 {
		req = fmt.Sprintf("stop %d", grace.Milliseconds())
	}
	answer, err := request(runDir, req, wait)
	if err != nil {
		return err
	}
	if answer != "stopped" {
		return fmt.Errorf("the VM manager answered %q to stop", answer)
	}
	return nil
}

// ErrGone is Wait's error when the VM manager ended before the stage was
// reached, and ErrTimeout when the time was up.
var (
	ErrGone    = errors.New("the VM manager has ended: the guest does not run")
	ErrTimeout = errors.New("time is up")
	// ErrUnseen: the stage wifi cannot be reached (Status.WifiUnseen).
	ErrUnseen = errors.New("the stage wifi cannot be seen")
)

// Wait waits until the guest has reached stage (Stage.Reached), the VM
// manager has ended (ErrGone), the stage wifi cannot be reached
// (ErrUnseen), or timeout has passed (ErrTimeout; 0 waits without end).
// The manager pushes each change of stage on the control socket: nothing
// polls. It gives the last status the manager sent. A manager that does
// not send the first within StatusWait, as status grants it, is an
// ErrNoAnswer error (stopped or hung).
func Wait(runDir string, stage Stage, timeout time.Duration) (Status, error) {
	var s Status
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	first := time.Now().Add(StatusWait)
	if !deadline.IsZero() && deadline.Before(first) {
		first = deadline
	}
	conn, err := dial(runDir, "wait", first, StatusWait)
	if err != nil {
		return s, err
	}
	defer conn.Close()
	conn.SetDeadline(first)
	if _, err := io.WriteString(conn, "wait\n"); err != nil {
		return s, fmt.Errorf("send wait to the VM manager: %w", noAnswer(err, StatusWait))
	}
	lines := bufio.NewScanner(conn)
	for n := 0; lines.Scan(); n++ {
		if n == 0 {
			conn.SetDeadline(deadline)
		}
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
			return s, fmt.Errorf("the VM manager's status %q: %w", lines.Text(), err)
		}
		if s.Stage.Reached(stage) {
			return s, nil
		}
		if stage == StageWifi && s.WifiUnseen != "" {
			return s, ErrUnseen
		}
	}
	if errors.Is(lines.Err(), os.ErrDeadlineExceeded) {
		if s.ManagerPID == 0 && (deadline.IsZero() || first.Before(deadline)) {
			return s, fmt.Errorf("read the VM manager's status: %w", noAnswer(lines.Err(), StatusWait))
		}
		return s, ErrTimeout
	}
	if lines.Err() != nil {
		return s, fmt.Errorf("read the VM manager's status: %w", lines.Err())
	}
	return s, ErrGone
}

// WaitGone waits at most timeout until the VM manager has ended (its
// control socket closes), without polling; an ErrTimeout error when it
// has not.
func WaitGone(runDir string, timeout time.Duration) error {
	// The stopped stage is never reached on the way: only the end of the
	// stream ends the wait.
	_, err := Wait(runDir, StageStopped, timeout)
	if errors.Is(err, ErrGone) {
		return nil
	}
	return err
}
