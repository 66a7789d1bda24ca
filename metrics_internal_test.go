package tradecache

import "testing"

// A cluster's INFO is every master's, one after the other: the figures add
// up, and the memory is written again for the sum.
func TestParseInfoAddsUpNodes(t *testing.T) {
	one := "# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n# Stats\r\nkeyspace_hits:10\r\n"
	if r := parseInfo(one); r.Nodes != 1 || r.ConnectedClients != 3 || r.UsedMemoryHuman != "1.00M" || r.KeyspaceHits != 10 {
		t.Fatalf("one server: %+v", r)
	}
	r := parseInfo(one + one + one)
	if r.Nodes != 3 || r.ConnectedClients != 9 || r.UsedMemory != 3<<20 || r.UsedMemoryHuman != "3.00M" || r.KeyspaceHits != 30 {
		t.Fatalf("three masters: %+v", r)
	}
}
