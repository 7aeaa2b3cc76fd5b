# syntax=docker/dockerfile:1
# One image for every REELFLUX process: `docker run reelflux router` (or auth, media,
# conversion, worker). Built in two stages so the runtime has no compiler and no dev packages.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY lib lib
COPY router router
COPY subgraphs subgraphs
COPY worker worker
COPY scripts/healthcheck.ts scripts/healthcheck.ts
RUN node node_modules/typescript/bin/tsc -p tsconfig.image.json

FROM node:22-bookworm-slim
# ffmpeg for the worker (Debian's, as locally); tini reaps ffmpeg children and forwards SIGTERM.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# argon2 loads its prebuilt binary, so no install scripts are needed (none run by default).
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time: the composed schema (router) and each subgraph's own SDL.
COPY schema schema
COPY subgraphs/auth/auth.graphql subgraphs/auth/auth.graphql
COPY subgraphs/media/media.graphql subgraphs/media/media.graphql
COPY subgraphs/conversion/conversion.graphql subgraphs/conversion/conversion.graphql
COPY scripts/container-entrypoint.sh /usr/local/bin/reelflux
# The base image's unprivileged user (uid 1000); Kubernetes pins the same uid.
USER node
EXPOSE 4000 4001 4002 4003 4010
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "dist/scripts/healthcheck.js"]
ENTRYPOINT ["tini", "--", "reelflux"]
CMD ["router"]
