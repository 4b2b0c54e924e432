# meshlet peer, run beside the member's Docker engine (see docker-compose.yml).
#
#   npm run build                                                    # compiles src/ to dist/ first
#   docker build -t meshlet/peer .                                   # real users: official Node image
#   docker build --build-arg BASE=meshlet/node-base:local -t meshlet/peer:local .   # offline CI
#
# The image runs the compiled dist/ (no TypeScript at run time, no tsx), with the production
# node_modules of the checkout it is built from (`npm ci --omit=dev`; scripts/check-compose.sh
# builds from exactly that).
ARG BASE=node:24-bookworm-slim
FROM ${BASE}

WORKDIR /app
# MESHLET_HOST=0.0.0.0: inside its own network namespace the peer must listen on every interface,
# or the port docker publishes reaches nothing. Who can reach it is decided by the publish rule.
ENV NODE_ENV=production \
    MESHLET_PORT=2583 \
    MESHLET_HOST=0.0.0.0 \
    MESHLET_DATA_DIR=/data \
    MESHLET_DOCKER_SOCKET=/var/run/docker.sock

# Dependencies first: they change far less often than the code, so this layer stays cached.
COPY package.json package-lock.json ./
COPY node_modules ./node_modules
COPY lexicons ./lexicons
COPY web ./web
COPY bin ./bin
COPY dist ./dist

# Cursor and local state live on a volume so a recreated container resumes where it was.
RUN mkdir -p /data
VOLUME ["/data"]
EXPOSE 2583

# No USER switch: talking to the engine socket is root-equivalent on the host anyway (README,
# "The Docker socket"), and the socket's group id differs per host. docker-compose.yml drops
# every capability instead. bin/meshlet.mjs runs dist/cli.js (there is no src/ here).
# A small young generation keeps an idle peer near 150 MB RSS (BENCHMARKS.md, footprint).
CMD ["node", "--max-semi-space-size=1", "bin/meshlet.mjs", "run"]
