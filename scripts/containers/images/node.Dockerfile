# Stands in for node:22-bookworm-slim where no registry serves it (scripts/containers/localImages.ts
# assembles the context: Node.js and npm from the npm registry, the machine's CA bundle).
ARG BASE
FROM ${BASE}
COPY node /usr/local/
# npm, and only npm, trusts what the machine trusts (a TLS-inspecting egress proxy included), so
# a build reaches the registry; the processes of an image built on this keep Node's own CAs.
COPY ca-certificates.crt /usr/local/share/reelflux-local/ca-certificates.crt
RUN printf 'cafile=/usr/local/share/reelflux-local/ca-certificates.crt\n' > /usr/local/etc/npmrc
# The unprivileged user of the public image, with the same ids.
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD ["node"]
