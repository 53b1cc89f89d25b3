package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestSignalsDuringStartup: signals that arrive while the daemon starts.
// A SIGHUP (a rules reload sent a little early, or by a config manager as
// it starts the service) must not end it: Go's default for SIGHUP exits. A
// SIGTERM must stop it cleanly (exit 0), not with the error of whatever
// start-up step it cut off. The daemon is the test binary run as a child
// (TestCrashChild), signalled as soon as it logs its first line.
func TestSignalsDuringStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon as a process")
	}
	t.Run("SIGHUP", func(t *testing.T) { signalDuringStartup(t, syscall.SIGHUP) })
	t.Run("SIGTERM", func(t *testing.T) { signalDuringStartup(t, syscall.SIGTERM) })
}

func signalDuringStartup(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	cfg := defaultConfig(env(nil))
	cfg.NATS.DataDir = filepath.Join(dir, "nats")
	cfg.NATS.Listen = ""
	cfg.HTTP.Listen = ""
	cfg.Log.Summary = 0
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "wirewatch.yaml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var log []string
	next := func(within time.Duration) (string, bool) {
		select {
		case l, ok := <-lines:
			if ok {
				log = append(log, l)
			}
			return l, ok
		case <-time.After(within):
			return "", false
		}
	}
	for {
		l, ok := next(30 * time.Second)
		if !ok {
			t.Fatalf("the daemon logged nothing:\n%s", strings.Join(log, "\n"))
		}
		if strings.Contains(l, "level=") { // the daemon's first line, not the test framework's
			break
		}
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	// Running, then a clean stop.
	for sig == syscall.SIGHUP {
		l, ok := next(30 * time.Second)
		if !ok {
			t.Fatalf("the daemon did not log that it runs:\n%s", strings.Join(log, "\n"))
		}
		if strings.Contains(l, `msg="wirewatch running"`) {
			break
		}
	}
	if sig == syscall.SIGHUP {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("signal SIGTERM: %v (the daemon is gone after SIGHUP?)\n%s", err, strings.Join(log, "\n"))
		}
	}
	for {
		if _, ok := next(30 * time.Second); !ok {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("daemon after a %s during startup (and SIGTERM): %v\n%s", sig, err, strings.Join(log, "\n"))
	}
}
