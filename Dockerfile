# meshlet peer, run beside the member's Docker engine (see docker-compose.yml).
#
#   docker build -t meshlet/peer .                                   # real users: official Node image
#   docker build --build-arg BASE=meshlet/node-base:local -t meshlet/peer:local .   # offline CI
#
# The project runs from TypeScript through tsx (no build step), so the image carries src/,
# lexicons/ and the installed node_modules of the checkout it is built from (run `npm ci` first).
ARG BASE=node:24-bookworm-slim
FROM ${BASE}

WORKDIR /app
ENV NODE_ENV=production \
    MESHLET_PORT=2583 \
    MESHLET_DATA_DIR=/data \
    MESHLET_DOCKER_SOCKET=/var/run/docker.sock

# Dependencies first: they change far less often than the code, so this layer stays cached.
COPY package.json package-lock.json tsconfig.json ./
COPY node_modules ./node_modules
COPY lexicons ./lexicons
COPY bin ./bin
COPY src ./src

# Cursor and local state live on a volume so a recreated container resumes where it was.
RUN mkdir -p /data
VOLUME ["/data"]
EXPOSE 2583

# No USER switch: talking to the engine socket is root-equivalent on the host anyway, and the
# socket's group id differs per host. docker-compose.yml drops every capability instead.
# A small young generation keeps an idle peer near 150 MB RSS (BENCHMARKS.md, footprint).
CMD ["node", "--max-semi-space-size=1", "bin/meshlet.mjs", "run"]
