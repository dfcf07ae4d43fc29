# One image for every service of RECQ Mesh: the gateway (the default command) and the TodoList service
# (`node dist/services/todo/main.js`). See docker-compose.yml. The same image runs on the embedded store (the
# default) and on MongoDB (MONGODB_URI set): the driver and its OpenTelemetry instrumentation are production
# dependencies, so the run stage has them.

# Build: the TypeScript compiler and buf (dev dependencies) make dist/, including dist/descriptors.binpb.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Run: production dependencies and the build output only.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The gateway's embedded store lives in /app/data/gateway (RECQ_DATA_DIR defaults to ./data/gateway):
# mount a volume on /app/data. It is created here, owned by the unprivileged user, so a new volume is too.
# With MONGODB_URI set, the gateway keeps nothing there.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 50051
ENV RECQ_ADDRESS=0.0.0.0:50051
CMD ["node", "dist/services/gateway/main.js"]
