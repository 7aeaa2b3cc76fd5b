# Stands in for mongo:7 where no registry serves it: our FerretDB wrapper (scripts/ferretdb) on
# its SQLite handler, so the whole store lives in the container's volume. No authentication:
# the per-service MongoDB users of k8s/base/mongodb-users.js are not exercised here.
ARG BASE
FROM ${BASE}
COPY ferretdb /usr/local/bin/ferretdb
# The ids of the mongo image's user; /data/db is the volume docker-compose.yml mounts.
RUN groupadd --gid 999 ferretdb \
  && useradd --uid 999 --gid ferretdb --home-dir /data --no-create-home ferretdb \
  && mkdir -p /data/db && chown ferretdb:ferretdb /data/db
# The mongo image's readiness probe in k8s/base/mongodb.yaml runs `mongosh … ping`; this image has
# no mongosh, so a script of that name answers it with what it can check: the port accepts.
RUN printf '#!/bin/bash\n# Stand-in for mongosh in probes only: succeeds when FerretDB accepts connections.\nexec 3<>/dev/tcp/127.0.0.1/27017\n' \
    > /usr/local/bin/mongosh && chmod 0755 /usr/local/bin/mongosh
USER ferretdb
ENTRYPOINT ["ferretdb", "--handler=sqlite", "--sqlite-url=file:/data/db/"]
# Every address, as mongod in the mongo image listens: in a pod, the other pods reach it there.
# docker-compose.local.yml gives its own address on the host's network.
CMD ["--listen-addr=:27017"]
