# syntax=docker/dockerfile:1
# One image for both roles: `warren worker` (holds the SSH keys, talks to the hosts) and
# `warren bot` (the Slack app). Mount the config and the SSH key read-only.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY jobs ./jobs
# valibot (under Bull Board) names TypeScript as an optional peer, so the lockfile no longer marks it
# dev-only and prune keeps it: nothing at run time needs the compiler (23 MB), so it goes too.
RUN npm run build && npm prune --omit=dev && rm -rf node_modules/typescript

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node config/warren.example.yaml ./config/warren.example.yaml
USER node
ENV WARREN_CONFIG=/etc/warren/warren.yaml
ENTRYPOINT ["node", "dist/src/cli/bin.js"]
CMD ["worker"]
