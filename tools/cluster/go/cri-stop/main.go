// cri-stop: stops and removes every pod sandbox (and so its containers) of a CRI runtime, the way the kubelet
// would: StopPodSandbox runs the CNI DEL (veth, IPAM, iptables of the CNI plugins) and tears down the network
// namespace. Used by tools/cluster/down.sh, since crictl is not served by the module proxy here.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("endpoint", "/run/gitspace-cluster/containerd/containerd.sock", "CRI socket path")
	timeout := flag.Duration("timeout", 60*time.Second, "overall timeout")
	list := flag.Bool("list", false, "only list the pod sandboxes")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	resp, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		fail(err)
	}
	failed := 0
	for _, sb := range resp.Items {
		name := sb.Metadata.Namespace + "/" + sb.Metadata.Name
		if *list {
			fmt.Printf("%s %s %s\n", sb.Id[:13], sb.State, name)
			continue
		}
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "stop %s (%s): %v\n", name, sb.Id[:13], err)
			failed++
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "remove %s (%s): %v\n", name, sb.Id[:13], err)
			failed++
			continue
		}
		fmt.Printf("stopped and removed pod sandbox %s (%s)\n", name, sb.Id[:13])
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cri-stop:", err)
	os.Exit(1)
}
