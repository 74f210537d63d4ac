package lcs_test

import (
	"testing"

	"cutover/lcs"
)

func TestNormalizeID(t *testing.T) {
	const want = "d15ed3a8-c2c1-4054-840b-946c93915da9"
	for _, in := range []string{
		"d15ed3a8c2c14054840b946c93915da9", // undashed, as the metadata example shows it
		"d15ed3a8-c2c1-4054-840b-946c93915da9",
		"D15ED3A8-C2C1-4054-840B-946C93915DA9",
		"  {d15ed3a8-c2c1-4054-840b-946c93915da9} ",
		"(D15ED3A8C2C14054840B946C93915DA9)",
	} {
		if got := lcs.NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"":                                      "",
		"ContosoProd":                           "contosoprod",
		"d15ed3a8-c2c14054840b946c93915da9":     "d15ed3a8-c2c14054840b946c93915da9", // dashes not where a GUID has them
		"d15ed3a8c2c14054840b946c93915da":       "d15ed3a8c2c14054840b946c93915da",   // 31 digits
		"g15ed3a8c2c14054840b946c93915da9":      "g15ed3a8c2c14054840b946c93915da9",
		"d15ed3a8c2c14054840b946c93915da9-":     "d15ed3a8c2c14054840b946c93915da9-",
		"{d15ed3a8c2c14054840b946c93915da9":     "{d15ed3a8c2c14054840b946c93915da9",
		"d15ed3a8--c2c1-4054-840b-946c93915da9": "d15ed3a8--c2c1-4054-840b-946c93915da9",
	} {
		if got := lcs.NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
	}
	if !lcs.SameID("60B557B2FEFB4690859EF83CAF98C17E", "{60b557b2-fefb-4690-859e-f83caf98c17e}") {
		t.Error("the two spellings of one id differ")
	}
	if lcs.SameID("", "") || lcs.SameID("a", "b") {
		t.Error("empty or different ids are the same")
	}
}
