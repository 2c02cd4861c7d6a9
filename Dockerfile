# sockwarden serve in a container. Build: docker build -t sockwarden .
# Run:   docker run -p 8080:8080 -e SOCKWARDEN_JWT_SECRET=... -e SOCKWARDEN_API_KEY=... sockwarden
# No container engine runs in this project's CI: test/unit/deploy-files.test.ts checks that the
# flags below exist, and the README says what was not tried.

# Build stage: compile TypeScript, then keep only the production dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Runtime stage: no compiler, no dev dependencies, not root.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY LICENSE README.md ./
USER node
EXPOSE 8080
# SIGTERM drains: new upgrades get 503, sockets close with 1012 and a retry hint over
# --drain-timeout. Give `docker stop` a longer grace period (docker stop -t 45, or
# stop_grace_period in Compose) than that window plus any shutdown delay.
STOPSIGNAL SIGTERM
# The check speaks plain HTTP to the port of CMD below: with --tls-cert, or another --port, give the
# image a HEALTHCHECK of your own. Run with `docker run --init` (or tini) so that PID 1 forwards
# signals even before the server has set up its handlers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/sockwarden.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--drain-timeout", "30000"]
