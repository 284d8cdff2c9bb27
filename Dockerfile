# The worker image of a sharded run (`sessionbench k8s`, README "Beyond one machine"): the
# release binary on a slim base, `sessionbench` as the entry point. Besides load at external
# targets it runs every command that reads files only (validate, import har, check, merge,
# report, compare, codecs, schema) and the strategies made of its own processes alone; Redis,
# nginx, HAProxy, Apache and Tomcat are not in it (docs/running.md, "Installing").
#
#   docker build -t sessionbench:dev .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sessionbench

FROM debian:bookworm-slim
# ca-certificates: https:// targets checked against the system's roots.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sessionbench /usr/local/bin/sessionbench
ENTRYPOINT ["sessionbench"]
