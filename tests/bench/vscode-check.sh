#!/usr/bin/env bash
# shellcheck disable=SC2016  # JavaScript in single quotes, on purpose
# Runs INSIDE a `vscode` image (tests/bench/vscode-arm64.bench.sh: a `RUN --network=none` step, as the image's user;
# arm64 under QEMU on an amd64 machine) and prints its findings as "bench: ..." lines; fails on the first broken one:
# - no network but loopback (so "starts offline" cannot pass by accident);
# - every native module compiled in the build (build/Release/*.node) is an ELF of this architecture; which came
#   prebuilt for it (prebuilds/, platform packages), and which .node files of other platforms are left;
# - VS Code's native modules load and node-pty spawns a process on a pty;
# - code-server --version, then code-server serves /healthz on loopback within TIMEOUT seconds (how long it took).
# Usage: vscode-check.sh [TIMEOUT]   (default 900)
# Environment: GITSPACE_CODE_SERVER_DIR (default /usr/local/gitspace/code-server), GITSPACE_NODE (default
#   /usr/local/gitspace/node/bin/node)
set -euo pipefail

timeout="${1:-900}"
prefix="${GITSPACE_CODE_SERVER_DIR:-/usr/local/gitspace/code-server}"
node="${GITSPACE_NODE:-/usr/local/gitspace/node/bin/node}"
pkg="$prefix/lib/node_modules/code-server"
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

ifs="$(ls /sys/class/net)"
[[ "$ifs" == lo ]] || { echo "bench: FAIL network interfaces: $ifs"; exit 1; }
echo "bench: network: loopback only"
echo "bench: machine $(uname -m), node $("$node" -p 'process.platform + "-" + process.arch')"

start="$(now)"
(cd "$pkg/lib/vscode" && "$node" -e '
    const fs = require("fs"), path = require("path");
    const want = { arm64: 183, x64: 62 }[process.arch];   // ELF e_machine: EM_AARCH64, EM_X86_64
    const compiled = [], prebuilt = [], other = [], wrong = [];
    const walk = (dir) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile() && e.name.endsWith(".node")) {
                const head = Buffer.alloc(20);
                const fd = fs.openSync(p, "r"); fs.readSync(fd, head, 0, 20, 0); fs.closeSync(fd);
                const rel = path.relative(process.argv[1], p);
                const mine = head.toString("latin1", 1, 4) === "ELF" && head.readUInt16LE(18) === want;
                if (/\/build\/Release\//.test(p)) (mine ? compiled : wrong).push(rel);
                else (mine ? prebuilt : other).push(rel);
            }
        }
    };
    walk(process.argv[1]);
    const short = (l) => l.map((f) => f.replace(/^(lib\/vscode\/)?node_modules\//, "")).sort().join(" ");
    console.log(`bench: native modules compiled (${compiled.length}): ${short(compiled)}`);
    console.log(`bench: native modules prebuilt (${prebuilt.length}): ${short(prebuilt)}`);
    console.log(`bench: binaries of other platforms left (${other.length}): ${short(other)}`);
    if (wrong.length) { console.log(`bench: FAIL compiled, not ${process.arch}: ${wrong.join(" ")}`); process.exit(1); }
    const load = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
    const mods = ["node-pty", "@vscode/spdlog", "@vscode/sqlite3", "kerberos", "@vscode/native-watchdog",
        "@parcel/watcher", "@vscode/deviceid", "@vscode/fs-copyfile"];
    for (const m of mods) load(m);
    let out = "";
    const p = load("node-pty").spawn("/bin/echo", ["pty-ok"], {});
    p.onData((d) => { out += d; });
    p.onExit(({ exitCode }) => {
        if (exitCode !== 0 || !out.includes("pty-ok")) { console.log(`bench: FAIL pty: ${exitCode} ${out}`); process.exit(1); }
        console.log(`bench: native modules load as ${process.arch} (${mods.join(" ")}); node-pty spawned: ${out.trim()}`);
    });
' "$pkg")
echo "bench: native checks took $(since "$start")s"

start="$(now)"
echo "bench: code-server --version: $(code-server --version | grep -m 1 -E "^[0-9]+\.[0-9]+") ($(since "$start")s)"

start="$(now)"
code-server --auth none --bind-addr 127.0.0.1:8089 --disable-telemetry >/tmp/code-server.log 2>&1 &
pid=$!
deadline=$((SECONDS + timeout))
until curl -fs -o /dev/null http://127.0.0.1:8089/healthz; do
    if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
        echo "bench: FAIL healthz: no answer after $(since "$start")s"
        sed 's/^/bench: code-server: /' /tmp/code-server.log
        exit 1
    fi
    sleep 1
done
echo "bench: healthz answered after $(since "$start")s: $(curl -fs http://127.0.0.1:8089/healthz)"
kill "$pid"
