package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wifibox/wifibox/config"
	"github.com/wifibox/wifibox/failure"
	"github.com/wifibox/wifibox/host"
	"github.com/wifibox/wifibox/internal/runfile"
)

// ran is what ran when the system went to sleep. Suspend records it in
// the run directory (host.SuspendRecordFile), for resume to restore
// exactly those parts (wifibox(8), Suspend and resume).
type ran struct {
	Guest bool `json:"guest"` // a guest, ours or the shell implementation's
	Netif bool `json:"netif"` // wifibox0
}

// whatRuns tells which parts run now.
func (r *Runner) whatRuns() (ran, error) {
	pid, _, err := r.running()
	if err != nil {
		return ran{}, failure.New(failure.Environment, err)
	}
	if pid == 0 {
		if pid, err = r.legacyBhyve(); err != nil {
			return ran{}, err
		}
	}
	return ran{Guest: pid != 0, Netif: r.netif().Exists()}, nil
}

// record writes what ran into the run directory, atomically
// (runfile.WriteAtomic); a dry run writes nothing.
func (r *Runner) record(what ran) error { return r.fx().record(r, what) }

// writeRecord is record when the command acts.
func (r *Runner) writeRecord(what ran) error {
	dir := r.Host.Paths.RunDir
	if err := runfile.MakeDir(dir); err != nil {
		return failure.New(failure.Environment, err)
	}
	path := filepath.Join(dir, host.SuspendRecordFile)
	data, _ := json.Marshal(what)
	if err := runfile.WriteAtomic(path, data, 0o644); err != nil {
		return failure.New(failure.Environment, fmt.Errorf("record what runs before the suspend in %s: %w", path, err))
	}
	return nil
}

// recorded takes what suspend recorded, removing the record; found is
// false when there is none (no suspend came before this resume).
func (r *Runner) recorded() (what ran, found bool, err error) {
	path := filepath.Join(r.Host.Paths.RunDir, host.SuspendRecordFile)
	f, err := runfile.Open(path, os.O_RDONLY, false, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return ran{}, false, nil
	}
	if err != nil {
		return ran{}, false, failure.New(failure.Environment, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	f.Close()
	if err == nil {
		err = json.Unmarshal(data, &what)
	}
	if err != nil {
		return ran{}, false, failure.New(failure.Environment, fmt.Errorf("read what ran before the suspend from %s: %w", path, err))
	}
	r.fx().forget(path)
	return what, true, nil
}

// Suspend prepares for the system's sleep with the recovery method: it
// records which parts run, then suspend_guest stops the guest and
// suspend_vmm the guest and vmm.ko, if a guest runs. A stop it makes
// gives the guest at most SuspendGrace to power off.
func (r *Runner) Suspend(method config.Recovery) error {
	what, err := r.whatRuns()
	if err != nil {
		return err
	}
	if err := r.record(what); err != nil {
		return err
	}
	r.Log.Infof("Suspend: recorded what runs: guest %v, %s %v", what.Guest, host.BridgeName, what.Netif)
	target := map[config.Recovery]string{config.RecoverySuspendGuest: "guest", config.RecoverySuspendVMM: "vmm"}[method]
	if target == "" || !what.Guest {
		r.Log.Infof("On suspend, recovery method %s does nothing", method)
		return nil
	}
	r.stopGrace = SuspendGrace
	defer func() { r.stopGrace = 0 }()
	r.Log.Infof("On suspend, recovery method %s: the guest has at most %s to power off before it is forced off (the kernel sleeps 10 s after the request at the latest)", method, SuspendGrace)
	return r.Stop(target)
}

// Resume restores after the system's sleep exactly the parts that ran
// before it (as suspend recorded them; what runs now when no suspend came
// first), the recovery method's way: restart_vmm restarts a guest that
// runs, with vmm.ko (and starts one that died in the sleep); suspend_guest
// starts the guest, suspend_vmm vmm.ko and the guest; wifibox0 is created
// if it ran and is gone. Nothing ran, or the method is none: nothing is done.
func (r *Runner) Resume(method config.Recovery) error {
	what, found, err := r.recorded()
	if err == nil && !found {
		what, err = r.whatRuns()
	}
	if err != nil {
		return err
	}
	if method == config.RecoveryNone || (!what.Guest && !what.Netif) {
		r.Log.Infof("On resume, recovery method %s: nothing to restore (guest ran %v, %s %v)", method, what.Guest, host.BridgeName, what.Netif)
		return nil
	}
	r.Log.Infof("On resume, recovery method %s: restoring what ran (guest %v, %s %v)", method, what.Guest, host.BridgeName, what.Netif)
	now, err := r.whatRuns()
	if err != nil {
		return err
	}
	p := parts{guest: what.Guest, netif: what.Netif && !now.Netif, vmm: what.Guest && method != config.RecoverySuspendGuest}
	if method == config.RecoveryRestartVMM && what.Guest {
		if pid, _, err := r.running(); err == nil && pid != 0 {
			return r.Restart("vmm")
		}
		// The guest died in the sleep: it starts, with what else ran.
	}
	return r.run("start", "Starting", func(step func(func() error) error) error {
		return r.startParts(p, step)
	})
}
