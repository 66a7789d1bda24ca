package tradecache_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
)

// childEnv carries the RedisConfig a child Cache connects with.
const childEnv = "TRADECACHE_TEST_CHILD_REDIS"

// TestCacheChild is not a test of its own: it is the body of the Cache
// that startChild runs in a separate process (this test binary, run again
// with only this test), and it does nothing in a normal run. It reads
// commands on stdin, one a line, and answers each with one line:
//
//	get KEY                  GetNear[int64] in namespace md: "found V" or "absent"
//	load KEY TAG|- VALUE     GetOrLoad[int64] in md, tagged TAG unless "-", loading VALUE: "value V SOURCE"
//
// and "error MESSAGE" when a call fails.
func TestCacheChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return // run by startChild only
	}
	var rc tradecache.RedisConfig
	if err := json.Unmarshal([]byte(spec), &rc); err != nil {
		t.Fatal(err)
	}
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{LogSlowOps: &off, Redis: rc, OpTimeout: time.Second,
		Namespaces: map[string]tradecache.NamespaceConfig{"md": {Near: &tradecache.NearConfig{}, TTL: time.Hour, MaxStale: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md := c.Namespace("md")
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 2 && f[0] == "get":
			v, found, err := tradecache.GetNear[int64](ctx, md, f[1])
			switch {
			case err != nil:
				fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
			case found:
				fmt.Println("found", v)
			default:
				fmt.Println("absent")
			}
		case len(f) == 4 && f[0] == "load":
			n, _ := strconv.ParseInt(f[3], 10, 64)
			var opts []tradecache.LoadOption
			if f[2] != "-" {
				opts = append(opts, tradecache.WithTags(f[2]))
			}
			v, meta, err := tradecache.GetOrLoad(ctx, md, f[1], func(context.Context) (int64, error) { return n, nil }, opts...)
			if err != nil {
				fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
			} else {
				fmt.Println("value", v, meta.Source)
			}
		default:
			fmt.Println("error unknown command", in.Text())
		}
	}
}

// child is a Cache in another process (TestCacheChild).
type child struct {
	in   io.WriteCloser
	out  *bufio.Scanner
	mu   sync.Mutex
	errs strings.Builder
}

// startChild starts a Cache on rc in a process of its own, with a near
// tier on namespace md, and stops it when the test ends; its stderr is
// printed if the test fails.
func startChild(t *testing.T, rc tradecache.RedisConfig) *child {
	t.Helper()
	spec, _ := json.Marshal(rc)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	c := &child{}
	cmd.Stderr = &c.errs
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.in, c.out = in, bufio.NewScanner(out)
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("the child process's stderr:\n%s", c.errs.String())
		}
	})
	return c
}

// do sends one command and returns the child's answer.
func (c *child) do(t *testing.T, cmd string) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		t.Fatalf("child: %v\n%s", err, c.errs.String())
	}
	if !c.out.Scan() {
		t.Fatalf("child ended without answering %q: %v\n%s", cmd, c.out.Err(), c.errs.String())
	}
	return c.out.Text()
}
