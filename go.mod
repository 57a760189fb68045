module github.com/wifibox/wifibox

go 1.25.0

require (
	github.com/ebitengine/purego v0.11.3
	github.com/google/go-cmp v0.7.0
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.47.0
)
