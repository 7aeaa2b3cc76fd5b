#!/bin/bash
# Starts one member of the replica set `reelflux` (k8s/overlays/production). The image's
# first-start setup (the root user, then mongodb-users.js, on a mongod listening on localhost
# only) runs on member 0 of a new set and nowhere else: members 1 and 2 get the users from it by
# initial sync, and a member holding data of its own could not join a new set. The initiate
# sidecar (mongodb-initiate.js) then initiates the set.
set -euo pipefail

# mongod refuses a key file its group may read, and Kubernetes makes Secret files
# group-readable in a pod with an fsGroup: mongod gets a private copy.
keyfile=/run/mongodb-keyfile/replica-set.key
rm -f "$keyfile"
cp /run/replica-set-key/mongodb-replica-set.key "$keyfile"
chmod 0400 "$keyfile"

mongod=(mongod --replSet reelflux --keyFile "$keyfile" --bind_ip_all)
ordinal="${HOSTNAME##*-}"

# Whether another member already belongs to the set (`hello` needs no login): member 0 that
# lost its volume must then join empty, like any other member, and make no users of its own.
set_exists() {
  local n
  for n in 0 1 2; do
    [ "$n" = "$ordinal" ] && continue
    if mongosh --quiet --eval 'if (!db.hello().setName) quit(1)' \
      "mongodb://mongodb-$n.mongodb.reelflux.svc.cluster.local:27017/?directConnection=true&serverSelectionTimeoutMS=3000" \
      > /dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}

if [ "$ordinal" = 0 ] && [ ! -e /data/db/WiredTiger ] && ! set_exists; then
  exec docker-entrypoint.sh "${mongod[@]}"
fi
exec "${mongod[@]}"
