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
# "serve" (the GitHub webhook bot and the event collector, on port 8080) is
# not implemented yet: until it is, give the image a command, such as
# "validate /schemas".
CMD ["serve"]
