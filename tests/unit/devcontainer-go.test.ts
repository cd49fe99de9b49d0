/**
 * The Go helper of the scripts (images/devcontainer: gitspace-devcontainer) checked with its own tools, as part of
 * `npm test`: gofmt, go vet, and its unit tests (parser limits, env rules, process groups, the fuzz target's seeds),
 * with the machine's Go. The scripts' tests (tests/scripts) run the built binary for real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { DEVCONTAINER_SRC, goCommand } from "../scripts/devcontainer-binary";

function go(args: string[], timeout = 600000) {
    const r = spawnSync(goCommand(), args, {
        cwd: DEVCONTAINER_SRC, encoding: "utf8", timeout, env: { ...process.env, GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
    });
    if (r.error) throw new Error(`cannot run ${goCommand()} (set GITSPACE_GO): ${r.error.message}`);
    return r;
}

describe("images/devcontainer (Go): gofmt, go vet, go test", function () {
    this.timeout(900000);

    it("is gofmt-clean", () => {
        // gofmt sits beside go (/usr/local/go/bin, /usr/lib/go-1.19/bin); `go` on PATH: `gofmt` on PATH.
        const r = spawnSync(goCommand().replace(/go$/, "gofmt"), ["-l", "."], { cwd: DEVCONTAINER_SRC, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "", `not gofmt-formatted: ${r.stdout}`);
    });

    it("passes go vet (including its check of the go 1.19 language and library level)", () => {
        const r = go(["vet", "./..."]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    it("passes its unit tests", () => {
        const r = go(["test", "-count=1", "./..."]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^ok\s+gitspace\/devcontainer\s/m);
    });
});
