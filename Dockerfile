# syntax=docker/dockerfile:1
# One image for every Chorus app; the command picks the app:
#   node dist/apps/gateway/src/main.js        (the default CMD)
#   node dist/apps/session/src/main.js        | presence | conflict
#   node dist/apps/session/src/main.js migrate   (one-shot; then the same for conflict)
# Why one image, not a target per app: the apps share every dependency and most code, so one build, one scan
# and one tag describe a release, and the migration Job runs exactly the code the services run.
#
#   docker build -t chorus:dev .

ARG NODE_IMAGE=node:24-slim

# --- deps: every dependency, for the build. --ignore-scripts: nothing we use needs an install script
# (npm 11 blocks them by default anyway; an image's older npm would run them).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# --- build: TypeScript to dist/ (tsc + tsc-alias rewrites the @chorus/* imports into relative paths).
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY standalone standalone
RUN npm run build

# --- prod-deps: production dependencies only, installed clean (smaller than pruning the build's tree).
# --omit=optional: the optional dependencies are the embedded Postgres binaries of `npm start` (58 MB); the
# deployed apps always get a DATABASE_URL.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, run as uid 1000 ("node" in the official image): the app cannot modify its own code.
# Numeric USER so Kubernetes' runAsNonRoot can verify it.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 1000:1000
# Documentation only: each app listens on PORT (defaults gateway 3000, session 3001, presence 3002, conflict 3003).
EXPOSE 3000 3001 3002 3003
# Liveness for plain `docker run` (Kubernetes ignores HEALTHCHECK and uses its probes). PORT if set, else the
# default of the app that pid 1 runs, read from its command line.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a=(require('fs').readFileSync('/proc/1/cmdline','utf8').match(/apps\\/(\\w+)\\//)||[])[1];const p=process.env.PORT||{session:3001,presence:3002,conflict:3003}[a]||3000;fetch('http://127.0.0.1:'+p+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is pid 1 and handles SIGTERM itself (drain, then exit within SHUTDOWN_GRACE_MS).
CMD ["node", "dist/apps/gateway/src/main.js"]
