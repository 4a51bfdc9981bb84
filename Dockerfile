# syntax=docker/dockerfile:1
# relaygate: multi-stage build. The build stage compiles exactly what `npm run build` makes
# (dist/); the runtime stage has production dependencies only, runs as the unprivileged `node`
# user, and runs node itself as PID 1 so SIGTERM reaches main.ts's shutdown handler (npm would
# not forward it).
ARG NODE_VERSION=20.19

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Everything .dockerignore lets through: the build reads tsconfig*.json, protocol/, server/,
# loadtest/ and web/, like `npm run build` in a checkout, which compiles the server and bundles
# the web client (build:web) into dist/.
COPY . .
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only; readiness (/readyz) is for the load balancer and compose's depends_on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/server/main.js"]
