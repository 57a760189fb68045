package host

// The names wifibox claims on the host. This is the list: every name
// wifibox gives to an interface, a VM, a device, a file or a process, or
// looks for as its own, is defined here and used from here, so that one
// look shows what it may clash with on a host. They are the shell
// implementation's names (man/wifibox.8, FILES and NETWORK): a guest it
// started is taken over, and its names are wifibox's. The titles of the
// shell implementation's daemon(8) processes, which wifibox looks for and
// never takes, are in package legacy.
const (
	// BridgeName is the bridge the guest's tap joins (ifnet.Netif).
	BridgeName = "wifibox0"
	// InterfaceMark is the description (SIOCSIFDESCR) of every interface
	// wifibox creates, by which what a killed wifibox left is reclaimed.
	InterfaceMark = "wifibox"
	// VMName is the name of the guest's VM (vmm(4), /dev/vmm/wifibox).
	VMName = "wifibox"
	// BhyveTitle is the process title bhyve sets for the VM VMName
	// (setproctitle(3)), by which a bhyve is known as wifibox's.
	BhyveTitle = "bhyve: " + VMName
	// ManagerArg is the argument that makes a wifibox process the VM
	// manager: its title is the wifibox executable and ManagerArg.
	ManagerArg = "__manager"
	// Service is the rc.d service (rc.conf's wifibox_enable) and the
	// name of its devd(8) hook (devd/wifibox.conf).
	Service = "wifibox"

	// The console's nmdm(4) pair, in Dev: bhyve's end and the user's.
	ConsoleHostName = "nmdm-wifibox.1A"
	ConsoleUserName = "nmdm-wifibox.1B"

	// Directories and files below Root (DefaultPaths).
	confDirIn   = "etc/wifibox"   // below PREFIX
	guestRootIn = "share/wifibox" // below LOCALBASE
	logPath     = "/var/log/wifibox.log"
	runDirPath  = "/var/run/wifibox"
	dbDirPath   = "/var/db/wifibox"

	// The files in RunDir.
	LockFile          = "wifibox.lock"      // the command lock
	ManagerPIDFile    = "manager.pid"       // the VM manager's pid, locked while it runs
	ManagerSocket     = "manager.sock"      // the VM manager's control socket
	StatusSocket      = "status.sock"       // the status socket, open to any user
	GuestPIDFile      = "bhyve.pid"         // the pid of the bhyve the VM manager runs
	LastStopFile      = "last-stop.json"    // how the guest last stopped
	LastFailureFile   = "last-failure.json" // the guest's last failure
	SuspendRecordFile = "suspended.json"    // what ran when the host suspended
	NetifJournalFile  = "netif.journal"     // the interfaces netif is about to create
	// RunApplianceIn is RunAppliance relative to RunDir: the guest
	// controls what is below it, which is opened from RunDir following no
	// link (runfile.OpenIn).
	RunApplianceIn = "appliance"

	// SetupRecordFile, in DBDir, is what `wifibox setup` changed.
	SetupRecordFile = "setup.json"
)
