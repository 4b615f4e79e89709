package confine

import (
	"reflect"
	"testing"
)

func TestSpecArgvRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		{Path: "/bin/echo", Args: []string{"/bin/echo", "a b", ""}, Env: []string{"A=1", "B="},
			Limits: []Rlimit{{Resource: 9, Value: 1 << 30}, {Resource: 0, Value: 5}}, Landlock: true, Seccomp: true, DropCaps: true},
		{Path: "/bin/true", Args: []string{"/bin/true"}},
		{Probe: true},
	} {
		got, err := parseArgv(s.Argv())
		if err != nil {
			t.Fatalf("parseArgv(%q): %v", s.Argv(), err)
		}
		if got.Env == nil && s.Env == nil {
			got.Env = nil
		}
		if len(got.Env) == 0 && len(s.Env) == 0 {
			got.Env, s.Env = nil, nil
		}
		if len(got.Args) == 0 && len(s.Args) == 0 {
			got.Args, s.Args = nil, nil
		}
		if !reflect.DeepEqual(*got, s) {
			t.Errorf("round trip:\n%+v\nwant\n%+v", *got, s)
		}
	}
	for _, bad := range [][]string{
		nil, {"x"}, {HelperName, "v0", "", "", "0", "/p", "/p"}, {HelperName, protocol, "nope", "", "0", "/p", "/p"},
		{HelperName, protocol, "", "9", "0", "/p", "/p"}, {HelperName, protocol, "", "", "5", "/p"},
		{HelperName, protocol, "", "", "0", "/p"}, // no argv
	} {
		if _, err := parseArgv(bad); err == nil {
			t.Errorf("parseArgv(%q) accepted", bad)
		}
	}
}
