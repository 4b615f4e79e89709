package hwprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
)

// defaultDockerSocket is DOCKER_HOST's socket when it names one, else
// /var/run/docker.sock, under the probed root.
func defaultDockerSocket(c *config) string {
	if c.live() {
		if p, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok && p != "" {
			return p
		}
	}
	return c.file("var/run/docker.sock")
}

// pingDocker asks the Docker daemon on the unix socket at path for /_ping
// and wants "OK" within dockerTimeout. An error wrapping fs.ErrNotExist
// means there is no socket: Docker is not installed, nothing to note.
func pingDocker(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("docker socket: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return fmt.Errorf("pinging docker at %s: %w", path, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("pinging docker at %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return fmt.Errorf("pinging docker at %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "OK" {
		return fmt.Errorf("pinging docker at %s: answer %s %q, want 200 OK", path, resp.Status, body)
	}
	return nil
}

// isAbsent reports whether a pingDocker error means there is no socket.
func isAbsent(err error) bool { return errors.Is(err, fs.ErrNotExist) }
