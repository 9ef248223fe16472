# One image for every process of docker-compose.yml: `shadowramp serve`,
# `shadowramp worker`, and the demo's two json-server generations, which
# are dependencies of the package and so already installed.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# The build copies the web UI's static files with a script of its own.
COPY scripts ./scripts
COPY src ./src
# The compiler and test tools are needed for the build only.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Relative paths in the configuration (fallback content) resolve from /app.
COPY config ./config
USER node
# Gateway, admin listener (/metrics, API), worker's /metrics.
EXPOSE 8080 9090 9091
ENTRYPOINT ["node", "--initial-old-space-size=128", "dist/cli/main.js"]
CMD ["serve", "--config", "config/compose.yaml"]
