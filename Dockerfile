# Push cluster node. Classic-builder compatible (no BuildKit-only syntax).

# 1. Compile TypeScript.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# 3. Runtime: compiled code + production dependencies, owned by root, run as `node`.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# For LISTEN_SOCKET=/run/push/<node>.sock (docker-compose.yml mounts a shared volume here).
RUN mkdir -p /run/push && chown node:node /run/push
USER node
EXPOSE 3000
# Slim images have no curl. A probe that starts Node costs about half a second of CPU on a slow
# 2-core machine (every 3 s per node: a quarter of a core for three nodes); bash's /dev/tcp asks
# /healthz for a few milliseconds.
HEALTHCHECK --interval=3s --timeout=2s --start-period=20s --retries=5 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-3000} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r _ status _ <&3 && [ \"$status\" = 200 ]"]
CMD ["node", "dist/main.js"]
