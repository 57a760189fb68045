package kmod_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/kmod"
	"github.com/wifibox/wifibox/sim/simtest"
)

// TestACPITablesModel: the model's firmware lists the DMAR table of an
// Intel machine, the IVRS table of an AMD one, and neither without an
// IOMMU.
func TestACPITablesModel(t *testing.T) {
	for _, c := range []struct {
		faults []string
		want   []string
	}{
		{nil, []string{"FACP", "APIC", "DMAR"}},
		{[]string{"cpu=amd"}, []string{"FACP", "APIC", "IVRS"}},
		{[]string{"iommu=none"}, []string{"FACP", "APIC"}},
	} {
		_, k := simtest.New(t, c.faults...)
		got, err := kmod.New(k).ACPITables()
		if diff := cmp.Diff(c.want, got); err != nil || diff != "" {
			t.Errorf("%v: tables (-want +got):\n%s%v", c.faults, diff, err)
		}
	}
}
