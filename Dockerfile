# syntax=docker/dockerfile:1
# One image for every REELFLUX process: `docker run reelflux router` (or auth, media,
# conversion, notification, worker). Built in stages so the runtime has no compiler and no dev packages.
# NODE_IMAGE names the base: Node.js 22 on Debian bookworm with an unprivileged `node` user
# (uid 1000). Where no registry is reachable, `npm run test:containers` makes one locally.
ARG NODE_IMAGE=node:22-bookworm-slim

# FFmpeg for the worker, built from Debian bookworm's own source of its FFmpeg 5.1 (the package
# `npm start` and the tests run), with only what making an MP3 needs: the demuxers the worker
# allows (worker/probeMedia.ts), the audio decoders those containers carry, zlib for compressed
# Matroska and QuickTime headers, LAME, and no protocol but file and pipe, so it cannot open a
# URL whatever it is given. Debian's hardening flags, as in its package. Debian's binary package
# would add about 700 MB of video, GPU and display libraries (LLVM alone 115 MB).
FROM ${NODE_IMAGE} AS ffmpeg
RUN printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' \
    > /etc/apt/sources.list.d/debian-sources.list \
  && apt-get update \
  && apt-get install -y --no-install-recommends build-essential dpkg-dev nasm pkg-config \
    libmp3lame-dev zlib1g-dev xz-utils
WORKDIR /src
RUN apt-get source -qq --only-source ffmpeg \
  && cd ffmpeg-*/ \
  && ./configure --prefix=/opt/ffmpeg --toolchain=hardened --disable-everything \
    --disable-autodetect --disable-doc --disable-debug --disable-ffplay --disable-network \
    --disable-avdevice --disable-postproc --disable-swscale --enable-zlib --enable-libmp3lame \
    --enable-encoder=libmp3lame --enable-muxer=mp3 --enable-protocol=file,pipe \
    --enable-demuxer=mov,matroska,avi,mpegts,mpegps,flv,ogg,asf,mp3,aac,flac,wav \
    --enable-parsers --enable-bsfs \
    --enable-decoder='aac*,mp1*,mp2*,mp3*,ac3*,eac3*,opus,vorbis,flac,alac,pcm*,adpcm*,wma*,amr*,dca,truehd,mlp,speex,gsm*,qdm*,cook,atrac*,nellymoser,ra_*,sipr,dolby_e,wavpack,tta,als,ape,tak,mpc7,mpc8,ralf,dsd*,g722,g723_1,g726*,g729,ilbc,mace3,mace6,qcelp,truespeech,xma1,xma2,s302m' \
    --enable-filter=abuffer,abuffersink,aformat,anull,aresample,asetnsamples,atrim,volume,buffer,buffersink,format,null,trim \
  && make -j"$(nproc)" \
  && make install

FROM ${NODE_IMAGE} AS build
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
# The web app the router serves at `/`, bundled with the SDK's typed operations, transport and
# faststart remuxer.
COPY sdk/generated sdk/generated
COPY sdk/transport sdk/transport
COPY sdk/faststart sdk/faststart
COPY sdk/ReelfluxError.ts sdk/ReelfluxError.ts
COPY web web
RUN node node_modules/vite/bin/vite.js build --config web/vite.config.ts

FROM ${NODE_IMAGE}
# LAME for the worker's FFmpeg; tini reaps ffmpeg children and forwards SIGTERM.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libmp3lame0 tini \
  && rm -rf /var/lib/apt/lists/*
COPY --from=ffmpeg /opt/ffmpeg/bin/ffmpeg /opt/ffmpeg/bin/ffprobe /usr/local/bin/
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
COPY subgraphs/notification/notification.graphql subgraphs/notification/notification.graphql
COPY scripts/container-entrypoint.sh /usr/local/bin/reelflux
# The base image's unprivileged user (uid 1000); Kubernetes pins the same uid.
USER node
# Public ports (router 4000, auth 4001, media 4002, conversion 4003, notification 4004), then each
# process's internal port for /healthz, /readyz and /metrics (9400-9404, worker 9410): publish
# only the router's 4000.
EXPOSE 4000 4001 4002 4003 4004 9400 9401 9402 9403 9404 9410
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "dist/scripts/healthcheck.js"]
ENTRYPOINT ["tini", "--", "reelflux"]
CMD ["router"]
