import { strict as assert } from "assert";
import {
    NAME_LIMIT, appPortLabel, appRouteName, developerNamespaceName, gitspaceUrl, hostname, identifier, metadataKeyProblem,
    nameComponentProblem, nameProblems, namespaceName, objectNames, teamNamespaceName,
} from "../../components/names";

const s = (team: string, environment = "dev") => ({ team, environment });

describe("names: the cases that collided (issue 9)", () => {
    it("team a-b + developer c and team a + developer b-c differ in namespace, hostname and selector", () => {
        assert.notEqual(developerNamespaceName(s("a-b"), "c"), developerNamespaceName(s("a"), "b-c"));
        assert.notEqual(identifier(s("a-b"), "c"), identifier(s("a"), "b-c"));
        assert.notEqual(hostname(s("a-b"), "d.io", "c"), hostname(s("a"), "d.io", "b-c"));
        assert.equal(developerNamespaceName(s("a-b"), "c"), "gitspace--a-b--dev--c");
        assert.equal(developerNamespaceName(s("a"), "b-c"), "gitspace--a--dev--b-c");
    });

    it("developer c-8089 does not take developer c's app-port hostname", () => {
        assert.equal(hostname(s("t"), "d.io", "c", 8089), "c--t--dev--8089.d.io");
        assert.equal(hostname(s("t"), "d.io", "c-8089"), "c-8089--t--dev.d.io");
        assert.notEqual(hostname(s("t"), "d.io", "c", 8089), hostname(s("t"), "d.io", "c-8089"));
    });

    it("two environments of one team on one cluster get different names", () => {
        assert.notEqual(teamNamespaceName(s("t", "dev")), teamNamespaceName(s("t", "prod")));
        assert.notEqual(developerNamespaceName(s("t", "dev"), "a"), developerNamespaceName(s("t", "prod"), "a"));
        assert.notEqual(identifier(s("t", "dev"), "a"), identifier(s("t", "prod"), "a"));
    });

    it("is injective over every combination of tricky components", () => {
        // Components that are prefixes, suffixes and hyphen-joins of one another, and look like ports.
        const parts = ["a", "b", "c", "a-b", "b-c", "a-b-c", "c-8089", "8089", "dev", "dev-1", "1"];
        const namespaces = new Map<string, string>();
        const hosts = new Map<string, string>();
        const note = (map: Map<string, string>, name: string, what: string) => {
            assert.ok(!map.has(name), `${what} and ${map.get(name)} both give ${name}`);
            map.set(name, what);
        };
        for (const team of parts) {
            for (const env of parts) {
                const scope = s(team, env);
                note(namespaces, teamNamespaceName(scope), `shared ${team}/${env}`);
                for (const dev of parts) {
                    note(namespaces, developerNamespaceName(scope, dev), `${team}/${env}/${dev}`);
                    note(hosts, identifier(scope, dev), `${team}/${env}/${dev}`);
                    for (const port of [1, 8089, 3000]) note(hosts, appPortLabel(scope, dev, port), `${team}/${env}/${dev}:${port}`);
                }
            }
        }
        assert.equal(namespaces.size, parts.length ** 2 * (1 + parts.length));
    });

    it("names objects per developer only in the shared layout", () => {
        assert.equal(objectNames("alice", "per-developer").homeClaim, "home");
        assert.equal(objectNames("alice", "shared").homeClaim, "home--alice");
        assert.equal(objectNames("a", "shared").sshHostKey, "ssh-host-key--a");
        // A developer named like a role suffix cannot take another's object: roles never contain "--".
        assert.notEqual(objectNames("ssh", "shared").service, objectNames("a", "shared").sshService);
        assert.equal(appRouteName("alice", "shared", 3000), "app-3000--alice");
        assert.equal(appRouteName("alice", "per-developer", 3000), "app-3000");
        assert.equal(namespaceName(s("t"), "alice", "shared"), "gitspace--t--dev");
        assert.equal(gitspaceUrl(s("t"), "d.io", "alice", 3000), "https://alice--t--dev--3000.d.io");
    });
});

describe("names: components", () => {
    const bad: [string, RegExp][] = [
        ["", /must not be empty/],
        ["a--b", /must not contain "--"/],
        ["--", /DNS label/],
        ["-a", /DNS label/],
        ["a-", /DNS label/],
        ["A", /DNS label/],
        ["a_b", /DNS label/],
        ["a.b", /DNS label/],
        ["a b", /DNS label/],
        ["ä", /DNS label/],
        ["a\n", /DNS label/],
        ["a\u0000", /DNS label/],
        ["x".repeat(64), /at most 63/],
        ["xn--abc", /must not contain "--"/],
    ];
    for (const [name, message] of bad) {
        it(`rejects ${JSON.stringify(name)}`, () => assert.match(nameComponentProblem(name) ?? "", message));
    }
    for (const name of ["a", "a-b", "0", "1234", "x".repeat(63), "a-b-c"]) {
        it(`accepts ${JSON.stringify(name)}`, () => assert.equal(nameComponentProblem(name), undefined));
    }
});

describe("names: limits", () => {
    it("reports every name over 63 characters with the limit", () => {
        const problems = nameProblems({ scope: s("t".repeat(25), "e".repeat(20)), developer: "d".repeat(15), layout: "per-developer", ports: [3000] });
        assert.ok(problems.some((p) => p.startsWith(`namespace "gitspace--${"t".repeat(25)}`) && p.includes(`over the limit of ${NAME_LIMIT}`)), problems.join("\n"));
        assert.ok(problems.some((p) => p.startsWith("hostname label")), problems.join("\n"));
        assert.ok(problems.some((p) => p.startsWith("app hostname label")), problems.join("\n"));
    });

    it("accepts names of exactly 63 characters", () => {
        // identifier: 20 + 2 + 20 + 2 + 19 = 63
        const problems = nameProblems({ scope: s("t".repeat(20), "e".repeat(19)), developer: "d".repeat(20), layout: "shared", ports: [] });
        assert.deepEqual(problems, []);
        assert.equal(identifier(s("t".repeat(20), "e".repeat(19)), "d".repeat(20)).length, 63);
    });

    it("counts the longest app port", () => {
        const scope = s("t".repeat(20), "e".repeat(19));
        // identifier 57 characters: "--1024" fits exactly (63), "--65535" does not (64).
        assert.deepEqual(nameProblems({ scope, developer: "d".repeat(14), layout: "shared", ports: [1024] }), []);
        const problems = nameProblems({ scope, developer: "d".repeat(14), layout: "shared", ports: [1024, 65535] });
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.match(problems[0], /^app hostname label ".*--65535" would be 64 characters, over the limit of 63/);
    });

    it("refuses a hostname with '--' in its 3rd and 4th characters (reserved by IDNA)", () => {
        const problems = nameProblems({ scope: s("t"), developer: "ab", layout: "shared", ports: [] });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /RFC 5891/);
        assert.deepEqual(nameProblems({ scope: s("t"), developer: "a", layout: "shared", ports: [] }), []);
        assert.deepEqual(nameProblems({ scope: s("t"), developer: "abc", layout: "shared", ports: [] }), []);
    });
});

describe("names: label and annotation keys", () => {
    for (const key of ["app", "app.kubernetes.io/name", "example.com/a_b.c-d", "a/b", "x".repeat(63)]) {
        it(`accepts ${JSON.stringify(key)}`, () => assert.equal(metadataKeyProblem(key), undefined));
    }
    for (const key of ["", "/", "a/", "/a", "a/b/c", "-a", "a-", "Example.com/a", "a b", "a\nb", "x".repeat(64), `${"p".repeat(254)}/a`, "a/b\u0000", "é"]) {
        it(`rejects ${JSON.stringify(key.length > 40 ? key.slice(0, 20) + "…" : key)}`, () => assert.match(metadataKeyProblem(key) ?? "", /invalid key/));
    }
});
