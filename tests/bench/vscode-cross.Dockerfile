# EXPERIMENT, not used by the component or any test: the `vscode` image for a foreign TARGETARCH (arm64 on an amd64
# builder) with code-server's native modules compiled by a cross toolchain running natively, not by a compiler under
# QEMU. The build stage runs on the BUILDPLATFORM; npm and node-gyp run on the target's Node under QEMU (JavaScript
# only: process.arch, the optional platform packages and the prebuilt-binary checks, e.g. koffi's, are then the
# target's), CC/CXX are aarch64-linux-gnu-gcc/g++. What it lacks against images/vscode/Dockerfile: the code-server
# wrapper, the extension step, the scripts (see images/README.md, "Multi-arch and cold start").
#   buildx build --platform linux/arm64 --build-arg BASE_IMAGE=<multi-arch base-system ref> \
#     -f tests/bench/vscode-cross.Dockerfile -t <ref> --push .
ARG BASE_IMAGE
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER root
ARG TARGETARCH
COPY images/lib/apt-install.sh /usr/local/gitspace/image/
RUN dpkg --add-architecture "${TARGETARCH}" \
    && /usr/local/gitspace/image/apt-install.sh build-essential python3 pkg-config \
        "crossbuild-essential-${TARGETARCH}" "libkrb5-dev:${TARGETARCH}" "libstdc++6:${TARGETARCH}"
ARG NPM_REGISTRY=https://registry.npmjs.org
ARG NODE_VERSION=24.21.0
ARG NODE_INTEGRITY_AMD64=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
ARG NODE_INTEGRITY_ARM64=sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==
ARG NPM_VERSION=11.19.1
ARG NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
ARG CODE_SERVER_VERSION=4.139.1
COPY images/lib/install-node.sh images/lib/prune-code-server.sh /usr/local/gitspace/image/
# The target's Node (install-node.sh reads the architecture from dpkg: a shim answers TARGETARCH); it runs under
# QEMU when foreign (binfmt_misc), with the target's libstdc++ installed above.
RUN mkdir -p /tmp/fake && printf '#!/bin/sh\necho %s\n' "${TARGETARCH}" >/tmp/fake/dpkg && chmod +x /tmp/fake/dpkg \
    && PATH="/tmp/fake:$PATH" /usr/local/gitspace/image/install-node.sh /usr/local/gitspace/node
# npm and node-gyp run on the target's Node (under QEMU when foreign: JavaScript only, so process.arch, optional
# platform packages and prebuilt-binary checks are the target's); the compilers are the cross toolchain, native.
RUN case "${TARGETARCH}" in arm64) triple=aarch64-linux-gnu ;; amd64) triple=x86_64-linux-gnu ;; esac \
    && export PATH="/usr/local/gitspace/node/bin:$PATH" npm_config_registry="${NPM_REGISTRY}" \
        npm_config_nodedir=/usr/local/gitspace/node npm_config_build_from_source=kerberos \
        CC="$triple-gcc" CXX="$triple-g++" AR="$triple-ar" LINK="$triple-g++" STRIP="$triple-strip" \
        PKG_CONFIG_LIBDIR="/usr/lib/$triple/pkgconfig:/usr/share/pkgconfig" \
        npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false HOME=/tmp/npm-home \
        NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    && time npm install --global --prefix /usr/local/gitspace/code-server --allow-scripts=code-server,argon2 \
        "code-server@${CODE_SERVER_VERSION}" \
    && rm -rf /tmp/npm-home
# Checks and pruning with the target's Node (under QEMU when foreign: loading, no compiling).
RUN pkg=/usr/local/gitspace/code-server/lib/node_modules/code-server \
    && file "$pkg/lib/vscode/node_modules/node-pty/build/Release/pty.node" 2>/dev/null || true \
    && cd "$pkg/lib/vscode" && /usr/local/gitspace/node/bin/node -e ' \
        const load = (m) => require(require.resolve(m, { paths: [process.cwd()] })); \
        for (const m of ["node-pty", "@vscode/spdlog", "@vscode/sqlite3", "kerberos", "@vscode/native-watchdog", "@parcel/watcher", "@vscode/deviceid", "@vscode/fs-copyfile"]) load(m); \
        console.log("native modules load as", process.arch);' \
    && /usr/local/gitspace/image/prune-code-server.sh /usr/local/gitspace/node /usr/local/gitspace/code-server

FROM ${BASE_IMAGE} AS vscode
USER root
COPY --from=build /usr/local/gitspace/node/ /usr/local/gitspace/node/
COPY --from=build /usr/local/gitspace/code-server/ /usr/local/gitspace/code-server/
RUN ln -sfn /usr/local/gitspace/node/bin/node /usr/local/bin/node \
    && /usr/local/gitspace/node/bin/node /usr/local/gitspace/code-server/lib/node_modules/code-server/out/node/entry.js --version
USER vscode
WORKDIR /home/vscode
