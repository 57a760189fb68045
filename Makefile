# wifibox: build, test and install. Written in the subset of make that both
# GNU make and FreeBSD's make (bmake) read.

PREFIX?=	/usr/local
LOCALBASE?=	/usr/local
GUEST_ROOT?=	${LOCALBASE}/share/wifibox
DESTDIR?=
GO?=		go
# The release without a tag to describe: it must sort after the shell
# implementation's 0.x for pkg(8), and be the port's DISTVERSION and the
# program's built-in version (scripts/check-install.sh checks all three).
# The release procedure is in packaging/README.md.
RELEASE=	1.0.0
VERSION!=	git describe --tags --dirty 2>/dev/null || echo ${RELEASE}

# The recovery method of a core.conf without a recovery line (wifibox(8),
# core.conf), as the port's RECOVER_* options set it.
RECOVERY?=	restart_vmm

PKG=		github.com/wifibox/wifibox
# purego needs this on FreeBSD, for go build and go vet alike.
PUREGO=		-gcflags=github.com/ebitengine/purego/internal/fakecgo=-std
LDFLAGS=	-X ${PKG}/app.version=${VERSION} \
		-X ${PKG}/host.prefix=${PREFIX} \
		-X ${PKG}/host.localBase=${LOCALBASE} \
		-X ${PKG}/host.guestRoot=${GUEST_ROOT} \
		-X ${PKG}/config.defaultRecovery=${RECOVERY}

# What the program is built with, which install checks: its paths and
# recovery method are fixed when it is built.
BUILT=		PREFIX=${PREFIX} LOCALBASE=${LOCALBASE} GUEST_ROOT=${GUEST_ROOT} RECOVERY=${RECOVERY}
BUILDDIR?=	build

# On FreeBSD the program is the release: without the simulated host (the
# nosim tag) and without cgo (purego's flags), as the port builds it.
# Elsewhere it runs on the simulated host (-S DIR), as the demo, the
# benchmarks and the tests use it.
OS!=		uname -s
GOENV_FreeBSD=	env CGO_ENABLED=0
TAGS_FreeBSD=	-tags nosim ${PUREGO}

all: ${BUILDDIR}/wifibox

${BUILDDIR}/wifibox: .PHONY
	${GOENV_${OS}} ${GO} build ${TAGS_${OS}} -ldflags "${LDFLAGS}" -o ${BUILDDIR}/wifibox ./cmd/wifibox
	@echo "${BUILT}" >${BUILDDIR}/wifibox.built

# Cross-builds for FreeBSD, the targets wifibox runs on, as released:
# without the simulated host (the nosim tag).
freebsd: .PHONY
	GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 ${GO} build -tags nosim ${PUREGO} -ldflags "${LDFLAGS}" -o build/freebsd-amd64/wifibox ./cmd/wifibox
	GOOS=freebsd GOARCH=arm64 CGO_ENABLED=0 ${GO} build -tags nosim ${PUREGO} -ldflags "${LDFLAGS}" -o build/freebsd-arm64/wifibox ./cmd/wifibox

# Every check: formatting, vet for Linux and FreeBSD, the tests, the
# cross-builds and what is checked on them.
test: .PHONY
	sh scripts/test.sh

# The demo: a full start / status / restart vmm / stop cycle on a fresh
# simulated FreeBSD host.
demo: ${BUILDDIR}/wifibox
	sh scripts/demo.sh ${BUILDDIR}/wifibox

bench: ${BUILDDIR}/wifibox
	sh bench/lifecycle.sh ${BUILDDIR}/wifibox

# The conformance tests of the kernel calls (conformance/): here against
# the model of FreeBSD's kernel; on FreeBSD, as root with
# WIFIBOX_CONFORMANCE=1 (and WIFIBOX_CONFORMANCE_PCI=pciD:B:S:F naming a
# device the machine can do without), against the running kernel.
# conformance-freebsd builds their binary for a FreeBSD machine, to run
# there as root: WIFIBOX_CONFORMANCE=1 ./conformance.test -test.v
conformance: .PHONY
	CGO_ENABLED=0 ${GO} test ${PUREGO} -count=1 ./conformance

conformance-freebsd: .PHONY
	GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 ${GO} test -c ${PUREGO} -o build/freebsd-amd64/conformance.test ./conformance

clean: .PHONY
	rm -rf build

# Installation, as the FreeBSD port stages it: install puts everything in
# place below DESTDIR; the port builds and installs the program itself and
# takes the rc.d script from its files/, so it uses install-files only.
# Only samples of the configuration are installed, never core.conf or
# bhyve.conf themselves, so a user's configuration is never overwritten.
# The example of uds_passthru.conf goes to the examples directory
# (install-examples, the port's EXAMPLES option): the guest's package owns
# appliance/ and installs its own sample there. wifibox-guest(5), which
# wifibox(8) cites, is a link to the guest package's manual page, as the
# shell implementation's package installed it.
BINDIR=		${DESTDIR}${PREFIX}/sbin
ETCDIR=		${DESTDIR}${PREFIX}/etc
CONFDIR=	${ETCDIR}/wifibox
MAN5DIR=	${DESTDIR}${PREFIX}/share/man/man5
MAN8DIR=	${DESTDIR}${PREFIX}/share/man/man8
EXAMPLESDIR=	${DESTDIR}${PREFIX}/share/examples/wifibox
GUEST_MAN?=	wifibox-alpine.5

# The text files, as mode:source:destination. %%PREFIX%%, %%LOCALBASE%%
# and %%GUEST_ROOT%% in them become the directories of this installation.
RC_FILES=	555:rc.d/wifibox:${ETCDIR}/rc.d/wifibox
DATA_FILES=	444:man/wifibox.8:${MAN8DIR}/wifibox.8 \
		644:etc/core.conf.sample:${CONFDIR}/core.conf.sample \
		644:etc/bhyve.conf.sample:${CONFDIR}/bhyve.conf.sample \
		644:devd/wifibox.conf.sample:${ETCDIR}/devd/wifibox.conf.sample \
		644:newsyslog/wifibox.conf:${ETCDIR}/newsyslog.conf.d/wifibox.conf \
		644:completion/wifibox.bash:${DESTDIR}${PREFIX}/share/bash-completion/completions/wifibox \
		644:completion/_wifibox:${DESTDIR}${PREFIX}/share/zsh/site-functions/_wifibox
EXAMPLE_FILES=	644:etc/uds_passthru.conf.sample:${EXAMPLESDIR}/uds_passthru.conf.sample
SUBST=		sed -e 's|%%PREFIX%%|${PREFIX}|g' \
		    -e 's|%%LOCALBASE%%|${LOCALBASE}|g' \
		    -e 's|%%GUEST_ROOT%%|${GUEST_ROOT}|g'
# Installs each mode:source:destination of $$files with SUBST, replacing
# what was there (which may be read-only).
INSTALL_TEXT=	for f in $$files; do \
		    set -- $$(echo "$$f" | tr : ' '); \
		    echo "install -m $$1 $$2 $$3"; \
		    install -d "$$(dirname "$$3")" && rm -f "$$3" && \
		    ${SUBST} "$$2" > "$$3" && chmod "$$1" "$$3" || exit 1; \
		done

install: install-program install-rc install-files install-examples .PHONY

# The program installed is the one built: one built with other paths is
# refused, with the make command that builds it for these.
install-program: .PHONY
	@test -f ${BUILDDIR}/wifibox || { echo "${BUILDDIR}/wifibox is missing: run make first" >&2; exit 1; }
	@built=$$(cat ${BUILDDIR}/wifibox.built 2>/dev/null); [ "$$built" = "${BUILT}" ] || { \
	    echo "${BUILDDIR}/wifibox was built with $${built:-unknown paths}, not ${BUILT}:" >&2; \
	    echo "build it for them first: make ${BUILT} && make install ${BUILT}" >&2; exit 1; }
	install -d ${BINDIR}
	install -m 555 ${BUILDDIR}/wifibox ${BINDIR}/wifibox

install-rc: .PHONY
	@files="${RC_FILES}"; ${INSTALL_TEXT}

install-files: .PHONY
	@files="${DATA_FILES}"; ${INSTALL_TEXT}
	install -d ${MAN5DIR}
	ln -sf ${GUEST_MAN} ${MAN5DIR}/wifibox-guest.5

install-examples: .PHONY
	@files="${EXAMPLE_FILES}"; ${INSTALL_TEXT}

# The checks of the FreeBSD integration: manual page, rc.d script,
# newsyslog entry, install under both makes against the port's plist.
check-install: .PHONY
	sh scripts/check-install.sh

# Removes what install installed; a configuration made from the samples
# stays, and so do the directories.
uninstall: .PHONY
	@for f in ${RC_FILES} ${DATA_FILES} ${EXAMPLE_FILES}; do \
	    set -- $$(echo "$$f" | tr : ' '); echo "rm -f $$3"; rm -f "$$3"; \
	done
	rm -f ${BINDIR}/wifibox ${MAN5DIR}/wifibox-guest.5

.PHONY:
