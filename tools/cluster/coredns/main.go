// A CoreDNS with only the plugins the local cluster uses (the upstream binary compiles in ~50 plugins and their
// cloud SDKs). Built by tools/cluster/up.sh from the Go module proxy; runs on the node as a host process.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// the plugins' order in a server block, as in CoreDNS' plugin.cfg
var directives = []string{"bind", "ready", "health", "errors", "log", "cache", "loadbalance", "hosts", "kubernetes", "forward"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
