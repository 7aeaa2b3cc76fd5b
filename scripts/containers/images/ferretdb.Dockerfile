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
USER ferretdb
ENTRYPOINT ["ferretdb", "--handler=sqlite", "--sqlite-url=file:/data/db/"]
CMD ["--listen-addr=127.0.0.1:27017"]
