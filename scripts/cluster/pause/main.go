// The pause container of every pod sandbox in the local cluster (scripts/cluster): it holds the
// pod's namespaces and does nothing until it is told to stop (pods here do not share a PID
// namespace, so it has no orphans to reap). No registry serves
// registry.k8s.io/pause here, so it is built from this file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
