//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logLine is one line of go-log's JSON output: its fixed fields and the
// key-value pairs of the call (docs/ARCHITECTURE.md, Logs).
type logLine struct {
	Level  string `json:"level"`
	Logger string `json:"logger"`
	Msg    string `json:"msg"`
	Job    string `json:"job"`
	raw    string
}

// jsonLogs decodes the JSON lines of a process's stderr (other lines, such
// as a submit's progress, are skipped); a line that starts like JSON and
// does not decode fails the test.
func jsonLogs(t *testing.T, stderr string) []logLine {
	t.Helper()
	var out []logLine
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("a log line that is not JSON: %v\n%s", err, line)
		}
		l.raw = line
		out = append(out, l)
	}
	return out
}

// With GOLOG_LOG_FMT=json, a provider's and a client's logs are JSON lines
// whose job ID is a "job" field, never part of the message: filtering on it
// gives a job's lines, and only that job's.
func TestCLIJSONLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a provider process")
	}
	// Not parallel: the environment of every process the test starts.
	t.Setenv("GOLOG_LOG_FMT", "json")
	t.Setenv("GOLOG_LOG_LEVEL", "warn,computemesh/node=debug,computemesh/credits=debug")
	home := t.TempDir()
	network := randomNetwork(t)
	prov := startProvider(t, home, network, "logs", "eu-west", "0.5", nil)
	eph := []string{"--bootstrap", prov.info.addr(t, "tcp"), "--network", network, "--bid-window", bidWindow,
		filepath.Join(helloDir(), "hello.yaml")}

	var jobs []string
	clientLogs := ""
	deadline := time.Now().Add(meshReadyLimit)
	for len(jobs) < 2 {
		r, out := submit(t, home, eph...)
		if r.code == 0 && out.State == "completed" && out.Job != "" {
			jobs = append(jobs, out.Job)
			clientLogs += r.stderr
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2 jobs completed within %v:\n%s", meshReadyLimit, r)
		}
		time.Sleep(time.Second)
	}
	if jobs[0] == jobs[1] {
		t.Fatalf("two submits, one job ID %s", jobs[0])
	}

	// The provider logs "ran a job" once the result is sent: wait for both.
	var lines []logLine
	for {
		lines = append(jsonLogs(t, prov.stderr.String()), jsonLogs(t, clientLogs)...)
		ran := 0
		for _, l := range lines {
			if l.Msg == "ran a job" {
				ran++
			}
		}
		if ran >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider logged %d of 2 runs; stderr:\n%s", ran, prov.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	for i, id := range jobs {
		other := jobs[1-i]
		var mine []logLine
		for _, l := range lines {
			if l.Job == id {
				mine = append(mine, l)
			}
		}
		if len(mine) == 0 {
			t.Errorf("job %s: no log line with it in its job field", id)
		}
		for _, l := range mine {
			t.Logf("job %s: %s: %s", id[:12], l.Logger, l.Msg)
		}
		ran := false
		for _, l := range mine {
			if strings.Contains(l.raw, other) {
				t.Errorf("job %s: filtering on it gives a line about job %s: %s", id, other, l.raw)
			}
			if !strings.HasPrefix(l.Logger, "computemesh/") {
				t.Errorf("job %s: a line from logger %q: %s", id, l.Logger, l.raw)
			}
			if l.Msg == "ran a job" {
				ran = true
				var f struct {
					Attempt  int    `json:"attempt"`
					Client   string `json:"client"`
					ExitCode *int   `json:"exit_code"`
				}
				if err := json.Unmarshal([]byte(l.raw), &f); err != nil || f.Attempt != 1 || f.Client == "" || f.ExitCode == nil || *f.ExitCode != 0 {
					t.Errorf("job %s: ran a job: attempt %d, client %q, exit code %v (%v); want 1, the client's peer ID, 0: %s",
						id, f.Attempt, f.Client, f.ExitCode, err, l.raw)
				}
			}
		}
		if !ran {
			t.Errorf("job %s: filtering on it misses the provider's \"ran a job\" line", id)
		}
	}
	// The job IDs are in fields only: no message names one.
	for _, l := range lines {
		for _, id := range jobs {
			if strings.Contains(l.Msg, id) {
				t.Errorf("a message with job %s in its text: %s", id, l.raw)
			}
		}
	}
}
