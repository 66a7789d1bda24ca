package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReplyError is an error reply from the server ("-MOVED 3999 ...").
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// passwords holds the requirepass of servers the harness started with one,
// by address, so that Do can authenticate.
var passwords sync.Map

// register records how Do must talk to the server now started at addr:
// its password ("" for none) and whether it speaks only TLS. Every start
// calls it, so that a port the kernel hands out again does not inherit an
// earlier server's settings: a plain node on a port a TLS node had used
// was once sent a TLS handshake, and StartCluster timed out on it.
func register(addr, pw string, tlsOnly bool) {
	if pw != "" {
		passwords.Store(addr, pw)
	} else {
		passwords.Delete(addr)
	}
	if tlsOnly {
		tlsAddrs.Store(addr, true)
	} else {
		tlsAddrs.Delete(addr)
	}
}

// SetPassword tells Do the password of the server at addr after a test
// changed it (CONFIG SET requirepass).
func SetPassword(addr, pw string) {
	if pw != "" {
		passwords.Store(addr, pw)
	} else {
		passwords.Delete(addr)
	}
}

// Do sends one command to addr on a new connection and returns the reply:
// a string (simple or bulk), an int64, nil, a []any, or a ReplyError.
// The harness uses it to drive servers (CLUSTER MEET, SENTINEL ..., DEBUG
// SLEEP) without going through the client library the tests are testing.
// It sends AUTH first to a server started with requirepass.
func Do(addr string, args ...string) (any, error) {
	c, r, err := connect(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return roundTrip(c, r, args...)
}

// connect dials addr as Do does (TLS for a TLS-only server, AUTH for one
// with a password), with 5 s for everything sent on the connection.
func connect(addr string) (net.Conn, *bufio.Reader, error) {
	var c net.Conn
	var err error
	if _, ok := tlsAddrs.Load(addr); ok {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, harnessTLS)
	} else {
		c, err = net.DialTimeout("tcp", addr, time.Second)
	}
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if pw, ok := passwords.Load(addr); ok {
		if _, err := roundTrip(c, r, "AUTH", pw.(string)); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	return c, r, nil
}

// roundTrip sends one command and reads its reply, an error reply as a
// ReplyError.
func roundTrip(c net.Conn, r *bufio.Reader, args ...string) (any, error) {
	if err := send(c, args...); err != nil {
		return nil, err
	}
	v, err := readReply(r)
	if err != nil {
		return nil, err
	}
	if re, ok := v.(ReplyError); ok {
		return nil, re
	}
	return v, nil
}

func send(w io.Writer, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DoString is Do for a reply that is a string (INFO, CLUSTER NODES).
func DoString(addr string, args ...string) (string, error) {
	v, err := Do(addr, args...)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("redistest: %v replied %T, not a string", args, v)
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redistest: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return ReplyError(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redistest: unexpected reply %q", line)
}

// InfoField returns one "name:value" field of an INFO reply, or "".
func InfoField(info, name string) string {
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return v
		}
	}
	return ""
}

// waitFor polls cond every 50ms until it returns nil or timeout passes,
// and returns the last error.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
