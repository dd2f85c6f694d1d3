# catalog-sync worker image: Node 24 LTS, compiled JavaScript, production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
# The build (scripts/build.js) stamps dist/ as current with bin/build-stamp.js.
COPY scripts/build.js ./scripts/
COPY bin/build-stamp.js ./bin/
COPY src ./src
COPY jobs ./jobs
COPY db ./db
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# `worker` sets its own heap flags (bin/catalog-sync.js; README, "One process per core").
ENV NODE_ENV=production LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY db/migrations ./db/migrations
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/catalog-sync.js"]
# One worker process per core the container may use (its CPU quota included) under a supervisor
# that serves /healthz, /readyz and /metrics for them all; WORKER_PROCESSES overrides.
CMD ["worker"]
