import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseTeamConfig } from "../../components/config";

describe("Pulumi.dev.yaml", () => {
    it("is a complete, valid team stack", () => {
        const file = parse(fs.readFileSync(path.resolve(__dirname, "../../Pulumi.dev.yaml"), "utf8"));
        const raw: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(file.config as Record<string, unknown>)) {
            assert.ok(key.startsWith("gitspace:"), key);
            raw[key.substring("gitspace:".length)] = value;
        }
        const config = parseTeamConfig(raw, [], { stack: "dev" });
        assert.equal(config.team, "platform");
        assert.equal(config.environment, "dev");
        assert.deepEqual(config.router, {
            mode: "gateway", namespace: "traefik-system", parentRefs: [{ name: "gitspace", namespace: "traefik-system" }], annotations: {},
        });
        assert.equal(config.namespaceLayout, "per-developer");
        assert.equal(config.ssh.serviceType, "NodePort");
        assert.deepEqual(config.egress.dns.cidrs, ["10.88.0.1/32"]);
        assert.deepEqual(config.developers.map((d) => [d.name, d.ide, d.running]), [
            ["alice", "vs_code_web", true], ["bob", "vs_code", true], ["carol", "goland", true], ["dave", "vs_code_web", false],
        ]);
    });
});
