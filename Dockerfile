# One image for every service of RECQ Mesh: the gateway (the default command) and the TodoList service
# (`node services/todo/dist/main.js`). See docker-compose.yml. The same image runs on the embedded store (the
# default) and on MongoDB (MONGODB_URI set): the driver and its OpenTelemetry instrumentation are production
# dependencies, so the run stage has them.
#
# Your own contracts: the gateway serves every descriptor set (*.binpb) in /descriptors, which holds the
# TodoList's by default. Mount a folder of your own sets there, or name files with RECQ_DESCRIPTORS:
#   docker run -v "$PWD/dist:/descriptors:ro" -p 50051:50051 -e RECQ_ALLOW_PLAINTEXT=true recq-mesh
# On 0.0.0.0 the gateway needs TLS (RECQ_TLS_CERT_FILE, RECQ_TLS_KEY_FILE) or RECQ_ALLOW_PLAINTEXT=true (docs/security.md).
# (docs/your-own-domain.md, "Run the gateway with Docker").

# Build: the TypeScript compiler and buf (dev dependencies) make each package's dist/, descriptor sets included.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY services/protocol/package.json services/protocol/
COPY services/gateway/package.json services/gateway/
COPY services/kit/package.json services/kit/
COPY services/todo/package.json services/todo/
RUN npm ci
COPY . .
RUN npm run build

# Run: production dependencies and the packages' build output only.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY services/protocol/package.json services/protocol/
COPY services/gateway/package.json services/gateway/
COPY services/kit/package.json services/kit/
COPY services/todo/package.json services/todo/
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/services/protocol/dist services/protocol/dist
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/kit/dist services/kit/dist
COPY --from=build /app/services/todo/dist services/todo/dist
# The descriptor sets the gateway serves: the TodoList's unless a volume is mounted on /descriptors.
COPY --from=build /app/services/todo/dist/descriptors.binpb /descriptors/todo.binpb
# The gateway's embedded store lives in /app/data/gateway (RECQ_DATA_DIR defaults to ./data/gateway):
# mount a volume on /app/data. It is created here, owned by the unprivileged user, so a new volume is too.
# With MONGODB_URI set, the gateway keeps nothing there.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 50051
ENV RECQ_ADDRESS=0.0.0.0:50051
ENV RECQ_DESCRIPTORS=/descriptors
CMD ["node", "services/gateway/dist/main.js"]
