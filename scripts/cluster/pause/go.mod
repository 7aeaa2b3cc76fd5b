module reelflux.local/cluster/pause

go 1.24.0
