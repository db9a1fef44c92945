# Hubbub's image: one build stage with the dev dependencies (tsx, esbuild, TypeScript) that
# `npm run build` needs, and a runtime stage with production dependencies and the built dist/
# only, run as the unprivileged `node` user. How to build, run and compose it: docs/deploy.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lock file first: the dependency layer is rebuilt only when dependencies change.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
# Readiness, not liveness: a draining node or one that lost NATS reports unhealthy. The slim
# image has no curl; Node's fetch does it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HUBBUB_PORT || 8080) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself, so a stop drains connections.
CMD ["node", "dist/server/main.js"]
