package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/manager"
)

// waitUsage is the synopsis of `wifibox wait`.
const waitUsage = "usage: wifibox wait [running|up|wifi] [-t SECONDS]"

// defaultWaitTimeout bounds a wait without -t, so that a boot that waits
// for the network does not hang for good.
const defaultWaitTimeout = 60 * time.Second

// wait blocks until the guest reaches a stage (running by default), the
// time is up (-t SECONDS, 60 by default; 0 waits without end) or the guest
// stops. The VM manager pushes each change of stage: nothing polls. Exit
// status: 0 reached; 1 no guest runs or it stopped meanwhile; 2 time is
// up; 3 wifi that cannot be reached: no uds_passthru.conf, or a relay
// refused or that could not start (manager.RelayProblem);
// 127 the VM manager could not be asked.
func (c *command) wait(args []string) error {
	stage, timeout, err := parseWait(args)
	if err != nil {
		return failure.New(failure.Usage, &usageError{msg: err.Error(), usage: waitUsage})
	}
	if stage == manager.StageWifi {
		if reason := manager.RelayProblem(c.host.Paths); reason != "" {
			return failure.New(failure.Config, fmt.Errorf("The stage wifi cannot be reached: %s; wait for up instead", reason))
		}
	}
	dir := c.host.Paths.RunDir
	pid, _, err := manager.Running(dir)
	if err != nil {
		return failure.New(failure.Environment, err)
	}
	if pid == 0 {
		if advice := c.shellGuestAdvice("`wifibox wait`"); advice != "" {
			return failure.New(failure.NotRunning, errors.New(advice))
		}
		return failure.New(failure.NotRunning, errors.New("wifibox is not run: nothing to wait for (wifibox start)"))
	}
	st, err := manager.Wait(dir, stage, timeout)
	switch {
	case errors.Is(err, manager.ErrTimeout):
		return failure.New(failure.TimedOut, fmt.Errorf("The guest did not reach the stage %s in %s: it is %s", stage, timeout, stageLine(st)))
	case errors.Is(err, manager.ErrUnseen):
		return failure.New(failure.Config, fmt.Errorf("The stage wifi cannot be reached: %s; wait for up instead", st.WifiUnseen))
	case errors.Is(err, manager.ErrGone):
		return failure.New(failure.NotRunning, fmt.Errorf("The guest stopped before it reached the stage %s", stage))
	case err != nil:
		return notAnswering(pid, err)
	}
	c.log.Infof("The guest reached the stage %s", st.Stage)
	return nil
}

// parseWait reads the arguments of `wifibox wait`.
func parseWait(args []string) (manager.Stage, time.Duration, error) {
	stage, timeout := manager.StageRunning, defaultWaitTimeout
	seen := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-t" && i+1 < len(args):
			i++
			n, err := strconv.Atoi(args[i])
			if err != nil || n < 0 {
				return "", 0, fmt.Errorf("-t %s: not a number of seconds", args[i])
			}
			timeout = time.Duration(n) * time.Second
		case !seen:
			st, err := manager.ParseStage(a)
			if err != nil {
				return "", 0, err
			}
			stage, seen = st, true
		default:
			return "", 0, fmt.Errorf("unexpected argument %s", args[i])
		}
	}
	return stage, timeout, nil
}
