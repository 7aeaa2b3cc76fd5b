// etcd for the local cluster (scripts/cluster): upstream's own entry point, built from the
// version go.mod pins, so the cluster needs no etcd release download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
