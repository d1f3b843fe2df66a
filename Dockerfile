# The esm image: the static esm binary on distroless, with the example
# schemas in /schemas.
#
#   docker build --build-arg VERSION=v1.2.3 -t esm .
#   docker run --rm esm validate /schemas

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that the download is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# .ci/run builds the binary with the same command.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/esm ./cmd/esm

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/esm /esm
COPY schemas /schemas
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/esm"]
# esm serve: the GitHub webhook bot and the event collector on port 8080.
# Mount your schemas over /schemas and esm.yaml anywhere (--config), and a
# writable volume at ESM_STATE_DIR when the bot runs without Datadog keys.
ENV ESM_SCHEMAS=/schemas ESM_STATE_DIR=/home/nonroot/.esm/state
CMD ["serve"]
