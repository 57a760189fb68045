# wifibox: build, test and install. Written in the subset of make that both
# GNU make and FreeBSD's make (bmake) read.

PREFIX?=	/usr/local
LOCALBASE?=	/usr/local
GUEST_ROOT?=	${LOCALBASE}/share/wifibox
DESTDIR?=
GO?=		go
VERSION!=	git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev

PKG=		github.com/wifibox/wifibox
# purego needs this on FreeBSD, for go build and go vet alike.
PUREGO=		-gcflags=github.com/ebitengine/purego/internal/fakecgo=-std
LDFLAGS=	-X ${PKG}/app.version=${VERSION} \
		-X ${PKG}/host.prefix=${PREFIX} \
		-X ${PKG}/host.localBase=${LOCALBASE} \
		-X ${PKG}/host.guestRoot=${GUEST_ROOT}

all: build/wifibox

build/wifibox: .PHONY
	${GO} build -ldflags "${LDFLAGS}" -o build/wifibox ./cmd/wifibox

# Cross-builds for FreeBSD, the targets wifibox runs on.
freebsd: .PHONY
	GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 ${GO} build ${PUREGO} -ldflags "${LDFLAGS}" -o build/freebsd-amd64/wifibox ./cmd/wifibox
	GOOS=freebsd GOARCH=arm64 CGO_ENABLED=0 ${GO} build ${PUREGO} -ldflags "${LDFLAGS}" -o build/freebsd-arm64/wifibox ./cmd/wifibox

# Every check: formatting, vet for Linux and FreeBSD, the tests, the
# cross-builds and what is checked on them.
test: .PHONY
	sh scripts/test.sh

# The demo: a full start / status / restart vmm / stop cycle on a fresh
# simulated FreeBSD host.
demo: build/wifibox
	sh scripts/demo.sh build/wifibox

bench: build/wifibox
	sh bench/lifecycle.sh build/wifibox

clean: .PHONY
	rm -rf build

.PHONY:
