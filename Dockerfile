# syntax=docker/dockerfile:1
# Tobira: passkey-first OpenID Connect identity provider.
# Build: docker build -t tobira .   Run: see README.md, "Production".

# 1. Install production dependencies only (lock file, exact versions).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 2. Compile the TypeScript sources to JavaScript (npm run build: dist/). Running the compiled
#    code spares each process Node's TypeScript stripper, about 20 MB of memory.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY migrations ./migrations
COPY src ./src
RUN npm run build

# 3. The runtime image.
FROM node:24-bookworm-slim
# V8 settings measured in docs/performance.md: a smaller young generation, an old generation
# that grows by 60% of what survives a full collection before the next one (fewer full
# collections, for memory the compiled code saves), a capped old space, and two malloc arenas,
# keep one process under 200 MB. (--heap-growing-percent is not allowed in NODE_OPTIONS, so
# the command line gets them all; bench/options.ts measures the same.)
ENV NODE_ENV=production \
    TOBIRA_NODE_ARGS="--max-semi-space-size=8 --max-old-space-size=160 --heap-growing-percent=60" \
    MALLOC_ARENA_MAX=2 \
    PORT=3000 \
    DATA_DIR=/var/lib/tobira
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist ./dist
COPY config ./config
COPY static ./static
COPY views ./views
RUN mkdir -p /var/lib/tobira && chown node:node /var/lib/tobira
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Apply pending migrations (idempotent, under an advisory lock), then serve.
CMD ["sh", "-c", "node dist/src/cli.js migrate && exec node $TOBIRA_NODE_ARGS dist/src/main.js"]
