# syntax=docker/dockerfile:1
# Build stage: type-check, then bundle Greenlight and its dependencies into dist/ (scripts/build.ts).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build

# Runtime stage: the bundle alone (it needs no node_modules), run as the unprivileged `node` user.
FROM node:24-slim
ENV NODE_ENV=production \
    PORT=3000 \
    GREENLIGHT_CONFIG=/etc/greenlight/greenlight.yml
WORKDIR /app
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json greenlight.example.yml ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Mount greenlight.yml at /etc/greenlight/greenlight.yml; SIGTERM stops it cleanly (exit 0).
# The Node options of `npm start`: a young generation of at most 2 MiB per semi-space (V8 otherwise
# grows it to 32-64 MiB during start-up and keeps it resident) and V8's memory-over-speed mode
# (BENCHMARKS.md, row 4), and WebAssembly compiled by the baseline compiler only: undici's HTTP
# parser is WebAssembly, and its optimised compile made a 15 MiB malloc peak that glibc kept.
# V8 refuses these options in NODE_OPTIONS, hence here.
CMD ["node", "--max-semi-space-size=2", "--optimize-for-size", "--liftoff-only", "dist/src/main.js"]
