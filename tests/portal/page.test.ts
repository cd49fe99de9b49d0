import * as assert from "assert";
import { BrowserContext } from "playwright-core";
import { exampleTeamValues, MemoryLiveBackend, readyPod } from "../../portal";
import { assertInert, launchBrowser, openPage, Watched } from "./browser";
import { memoryPortal, serve, Served, SSH_KEY, TOKEN } from "./helpers";

const field = (path: string, tag = "input") => `#editor [data-path="${path}"] > ${tag}`;
const opState = (w: Watched) => w.page.textContent("#operations .op:first-child .state");
/** Waits for the newest operation to end and says how, with its words when it did not end as expected. */
async function opEnded(w: Watched, outcome: "ok" | "failed") {
    await w.page.waitForSelector("#operations .op:first-child:is(.ok, .failed)");
    const cls = await w.page.getAttribute("#operations .op:first-child", "class");
    assert.ok(cls!.includes(outcome), `expected ${outcome}: ${await w.page.textContent("#operations .op:first-child")} ${await w.page.textContent("#editor-problems")}`);
}
const opLog = (w: Watched) => w.page.$$eval("#operations .op:first-child li", (lis) => lis.map((li) => li.textContent ?? ""));

describe("portal: web page in headless Chromium", function () {
    this.timeout(120000);
    let browser: BrowserContext;
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    let chromium: Awaited<ReturnType<typeof launchBrowser>>;

    before(async () => {
        chromium = await launchBrowser("portal-chromium-");
        browser = chromium.browser;
    });
    after(async () => { await chromium?.close(); });
    beforeEach(async () => {
        mem = await memoryPortal();
        mem.stack.options.delayMs = 300;
        served = await serve(mem.portal);
    });
    afterEach(() => served.close());

    it("lists the gitspaces with status and IDE link; Stop sends the request and shows the new status", async () => {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
        const requests: string[] = [];
        page.on("request", (r) => { if (r.url().includes("/teams/")) requests.push(`${r.method()} ${new URL(r.url()).pathname} ${r.headers().authorization ?? ""}`); });
        await page.goto(`${served.url}/?team=platform&env=dev#token=${TOKEN}`);
        await page.waitForSelector("tr[data-name=carol]");
        const rows = await page.$$eval("#gitspaces tbody tr", (trs) => trs.map((tr) => ({
            name: (tr as unknown as { dataset: Record<string, string> }).dataset.name,
            status: tr.querySelector(".status")!.textContent,
            link: tr.querySelector("a.ide")?.getAttribute("href") ?? null,
            button: tr.querySelector("button")!.textContent,
        })));
        assert.deepStrictEqual(rows, [
            { name: "alice", status: "running", link: "https://alice--platform--dev.gitspace.localtest.me", button: "Stop" },
            { name: "bob", status: "running", link: null, button: "Stop" },
            { name: "carol", status: "stopped", link: null, button: "Start" },
        ]);
        assert.ok(!page.url().includes(TOKEN), "the token leaves the address bar");

        // The engine run takes 1.5 s here, so the intermediate state is on screen long enough to be read on a
        // loaded machine (without it, the run could finish before the check and the test would race).
        mem.stack.options.delayMs = 1500;
        await page.click("tr[data-name=alice] button.stop");
        await page.waitForSelector("tr[data-name=alice] .status-updating");
        assert.strictEqual(await page.textContent("tr[data-name=alice] .status"), "stopping…");
        await page.waitForSelector("tr[data-name=alice] .status-stopped");
        mem.stack.options.delayMs = 0;
        assert.strictEqual(await page.textContent("tr[data-name=alice] button"), "Start");
        assert.ok(requests.includes(`POST /teams/platform/envs/dev/gitspaces/alice/stop Bearer ${TOKEN}`), requests.join("\n"));
        assert.strictEqual((await mem.portal.get({ team: "platform", env: "dev" }, "alice")).running, false);

        await page.click("tr[data-name=carol] button.start");
        await page.waitForSelector("tr[data-name=carol] .status-running");
        assert.strictEqual(await page.getAttribute("tr[data-name=carol] a.ide", "href"), "https://carol--platform--dev.gitspace.localtest.me");
        assert.deepStrictEqual(violations, [], "the page runs under its CSP without violations");
        await page.close();
    });

    it("shows the service's message for a wrong token", async () => {
        const page = await browser.newPage();
        await page.goto(`${served.url}/?team=platform&env=dev#token=wrong`);
        await page.waitForFunction("document.getElementById('message').textContent !== ''");
        assert.strictEqual(await page.textContent("#message"), "missing or wrong bearer token");
        assert.ok(await page.isHidden("#gitspaces") && await page.isHidden("#add"));
        await page.close();
    });

    it("shows live status as it changes; the cluster's words are shown as text, never as markup, under the CSP", async () => {
        const live = new MemoryLiveBackend();
        const m = await memoryPortal({ live });
        const NS = "gitspace--platform--dev";
        const alice = readyPod("alice", NS, "platform");
        live.setPods([alice]);
        const s = await serve(m.portal);
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (msg) => { if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text()); });
        let dialogs = 0;
        page.on("dialog", (d) => { dialogs++; void d.dismiss(); });
        try {
            await page.goto(`${s.url}/?team=platform&env=dev#token=${TOKEN}`);
            await page.waitForSelector("tr[data-name=alice] .live-ready");
            assert.match((await page.textContent("tr[data-name=alice] .live-text"))!, /^ready since /);
            assert.strictEqual(await page.getAttribute("tr[data-name=alice] a.live-url", "href"), "https://alice--platform--dev.gitspace.localtest.me");
            assert.strictEqual(await page.textContent("tr[data-name=carol] .live-text"), "stopped");
            // bob: an init container failing with hostile output.
            const evil = "<img src=x onerror=alert(1)>\u0007\u001b[31mred";
            const bobPod = readyPod("bob", NS, "platform");
            bobPod.metadata!.name = "bob-x";
            bobPod.status = { phase: "Pending", initContainerStatuses: [{ name: "gitspace-init", ready: false, restartCount: 1, image: "", imageID: "", state: { terminated: { exitCode: 1 } } }] };
            live.setLog(NS, "bob-x", `[gitspace] step: clone-repos\nfatal: ${evil}\n[gitspace] step: clone-repos failed (exit 1) after 1s\n`);
            live.setPods([alice, bobPod]);
            await page.waitForSelector("tr[data-name=bob] .live-failed");
            assert.strictEqual(await page.textContent("tr[data-name=bob] .live-text"), "failed: init-failed in clone-repos (gitspace-init exited 1 in step clone-repos)");
            const lines = await page.textContent("tr[data-name=bob] .live-lines");
            assert.ok(lines!.includes("fatal: <img src=x onerror=alert(1)>\\u0007red"), lines!);
            assert.strictEqual(await page.$$eval("img", (imgs) => imgs.length), 0, "no markup from the cluster");
            // The live stream follows an operation started from the page.
            await page.click("tr[data-name=carol] button.start");
            live.setPods([alice, bobPod, readyPod("carol", NS, "platform")]);
            await page.waitForSelector("tr[data-name=carol] .live-ready");
            assert.strictEqual(dialogs, 0);
            assert.deepStrictEqual(violations, [], "the page runs under its CSP without violations");
        } finally {
            await page.close();
            await s.close();
        }
    });
    const REF = { team: "platform", env: "dev" };
    const pageUrl = () => `${served.url}/?team=platform&env=dev#token=${TOKEN}`;

    it("adds a developer through a form built from the API's Developer schema, with the operation's progress", async () => {
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.waitForSelector("tr[data-name=carol]");
            await w.page.click("#add");
            await w.page.waitForSelector("#editor:not([hidden])");
            // The form has exactly the fields the API accepts (components.schemas.Developer of /openapi.json).
            const doc = await (await fetch(`${served.url}/openapi.json`)).json() as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
            const top = await w.page.$$eval("#editor-fields > [data-path]", (els) => els.map((e) => (e as HTMLElement).dataset.path));
            assert.deepStrictEqual(top, Object.keys(doc.components.schemas.Developer.properties));
            assert.deepStrictEqual(await w.page.$$eval(`${field("ide", "select")} option`, (os) => os.map((o) => (o as HTMLOptionElement).value)),
                ["", ...(doc.components.schemas.Developer.properties.ide as { enum: string[] }).enum]);
            assert.strictEqual(await w.page.getAttribute(field("git.token"), "type"), "password");

            await w.page.fill(field("name"), "dave");
            await w.page.selectOption(field("ide", "select"), "goland");
            await w.page.fill(field("sshPublicKeys", "textarea"), `\n${SSH_KEY}\n`);
            await w.page.click('#editor [data-path="repos"] > button.add-item');
            await w.page.fill(field("repos[0].url"), "https://git.example.com/acme/web.git");
            // A boolean is a checkbox; untouched it is not sent (indeterminate: the team's default applies).
            assert.strictEqual(await w.page.$eval('#editor [data-path="running"] input', (i) => (i as HTMLInputElement).indeterminate), true);
            await w.page.check('#editor [data-path="running"] input');
            await w.page.uncheck('#editor [data-path="running"] input');
            await w.page.fill(field("resources.requests.cpu"), "500m");
            await w.page.fill(field("resources.requests.memory"), "1Gi");
            await w.page.fill(field("resources.limits.cpu"), "2");
            await w.page.fill(field("resources.limits.memory"), "4Gi");
            await w.page.click("#editor-save");
            await opEnded(w, "ok");
            await w.page.waitForSelector("tr[data-name=dave]");

            const expected = {
                name: "dave", repos: [{ url: "https://git.example.com/acme/web.git" }], ide: "goland",
                resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } }, running: false, sshPublicKeys: [SSH_KEY],
            };
            const post = w.requests.find((r) => r.method === "POST" && r.url.pathname === "/teams/platform/envs/dev/gitspaces")!;
            assert.strictEqual(post.url.search, "?stream=1", "progress is streamed");
            assert.deepStrictEqual(JSON.parse(post.body!), expected, "the body holds exactly the fields filled in");
            assert.deepStrictEqual((await mem.portal.get(REF, "dave")).config, expected);
            assert.ok(await w.page.isHidden("#editor"), "the form closes after success");
            const log = await opLog(w);
            assert.deepStrictEqual(log.filter((l) => /^(Update started|Config written|Summary)/.test(l)).map((l) => l.split(/[:(]/)[0].trim()),
                ["Update started", "Config written", "Summary"], log.join("\n"));
            assert.ok(log.some((l) => l === "Done: create Gitspace dave"), log.join("\n"));
            assert.strictEqual(await opState(w), "Done: 1 to create");
            assert.strictEqual(await w.page.textContent("#operations .op:first-child .title"), "Add dave");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("edits a developer with a merge patch of what changed; the git token stays an untouched secret", async () => {
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.click("tr[data-name=bob] button.edit");
            await w.page.waitForSelector("#editor:not([hidden])");
            assert.strictEqual(await w.page.textContent("#editor-title"), "Edit bob");
            assert.ok(await w.page.isDisabled(field("name")), "a developer is not renamed");
            assert.strictEqual(await w.page.inputValue(field("name")), "bob");
            assert.strictEqual(await w.page.inputValue(field("ide", "select")), "vs_code");
            assert.strictEqual(await w.page.inputValue(field("sshPublicKeys", "textarea")), SSH_KEY);
            assert.strictEqual(await w.page.inputValue(field("git.username")), "bob");
            assert.strictEqual(await w.page.inputValue(field("git.token")), "", "the secret is not shown");
            assert.strictEqual(await w.page.getAttribute(field("git.token"), "placeholder"), "unchanged (stored as a secret)");

            await w.page.click("#editor-save");
            assert.strictEqual(await w.page.textContent("#editor-problems"), "Nothing changed.");

            // Preview: the diff in words, nothing changed, the form stays open.
            const before = JSON.stringify(mem.stack.values);
            await w.page.fill(field("storage"), "30Gi");
            await w.page.click("#editor-preview");
            await opEnded(w, "ok");
            assert.strictEqual(await opState(w), "Preview, nothing was changed: 1 to update\n• would update Gitspace bob");
            assert.strictEqual(await w.page.textContent("#operations .op:first-child .title"), "Preview: Edit bob");
            const preview = w.requests.find((r) => r.method === "PATCH")!;
            assert.strictEqual(preview.url.search, "?dryRun=1&stream=1");
            assert.strictEqual(JSON.stringify(mem.stack.values), before, "a preview changes nothing");
            assert.ok(await w.page.isVisible("#editor"));
            w.requests.length = 0;

            const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJp0wIlBn1mbq0dmtBm4YcLzRMa6mm3BfN9dHu8AGsq bob@desk";
            await w.page.fill(field("storage"), "30Gi");
            await w.page.fill(field("sshPublicKeys", "textarea"), `${SSH_KEY}\n${KEY2}`);
            await w.page.fill(field("git.username"), "bob-ci");
            await w.page.click("#editor-save");
            await opEnded(w, "ok");
            const patch = w.requests.find((r) => r.method === "PATCH")!;
            assert.strictEqual(patch.url.pathname + patch.url.search, "/teams/platform/envs/dev/gitspaces/bob?stream=1");
            assert.deepStrictEqual(JSON.parse(patch.body!), { storage: "30Gi", sshPublicKeys: [SSH_KEY, KEY2], git: { username: "bob-ci" } });
            const bob = (mem.stack.values.developers as Array<Record<string, unknown>>)[1];
            assert.deepStrictEqual(bob.git, { username: "bob-ci", token: "s3cret-bob" }, "the token is kept");
            assert.strictEqual(bob.storage, "30Gi");
            assert.strictEqual(await opState(w), "Done: 1 to update");

            // Clearing a field sends null for it.
            await w.page.waitForSelector("#editor", { state: "hidden" });
            await w.page.click("tr[data-name=bob] button.edit");
            await w.page.waitForSelector("#editor:not([hidden])");
            assert.strictEqual(await w.page.inputValue(field("storage")), "30Gi");
            await w.page.fill(field("storage"), "");
            await w.page.click("#editor-save");
            await w.page.waitForSelector("#editor", { state: "hidden" });
            assert.deepStrictEqual(JSON.parse(w.requests.filter((r) => r.method === "PATCH")[1].body!), { storage: null });
            assert.strictEqual((mem.stack.values.developers as Array<Record<string, unknown>>)[1].storage, undefined);
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("edits a boolean as a checkbox: shown as stored, untouched not sent, \"use default\" clears it (null in the patch)", async () => {
        const w = await openPage(browser, pageUrl());
        const box = '#editor [data-path="running"]';
        try {
            await w.page.click("tr[data-name=carol] button.edit");
            await w.page.waitForSelector("#editor:not([hidden])");
            assert.deepStrictEqual(await w.page.$eval(`${box} input`, (i) => [(i as HTMLInputElement).checked, (i as HTMLInputElement).indeterminate]), [false, false]);
            assert.strictEqual(await w.page.textContent(`${box} .check-state`), "no");
            assert.ok(await w.page.isHidden('#editor [data-path="retainHome"] button.reset'), "nothing stored: nothing to reset");
            await w.page.click("#editor-save");
            assert.strictEqual(await w.page.textContent("#editor-problems"), "Nothing changed.");
            await w.page.click(`${box} button.reset`);
            assert.strictEqual(await w.page.textContent(`${box} .check-state`), "not set: the default applies");
            await w.page.click("#editor-save");
            await w.page.waitForSelector("#editor", { state: "hidden" });
            assert.deepStrictEqual(JSON.parse(w.requests.find((r) => r.method === "PATCH")!.body!), { running: null });
            assert.strictEqual((mem.stack.values.developers as Array<Record<string, unknown>>)[2].running, undefined);
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("shows a refused change next to the fields it names, in words with the config path; nothing changes", async () => {
        const w = await openPage(browser, pageUrl());
        try {
            const before = JSON.stringify(mem.stack.values);
            await w.page.click("tr[data-name=bob] button.edit");
            await w.page.waitForSelector("#editor:not([hidden])");
            // Fields the schema refuses…
            await w.page.fill(field("user.name"), "Not A User");
            await w.page.fill(field("sshNodePort"), "80");
            await w.page.click("#editor-save");
            await w.page.waitForSelector('#editor [data-path="user.uid"].invalid');
            assert.strictEqual(await w.page.textContent('#editor [data-path="user.uid"] > .field-error'), "required");
            assert.match((await w.page.textContent('#editor [data-path="user.name"] > .field-error'))!, /^must be a POSIX user name/);
            assert.match((await w.page.textContent('#editor [data-path="sshNodePort"] > .field-error'))!, /./);
            let problems = await w.page.$$eval("#editor-problems li", (lis) => lis.map((l) => l.textContent));
            assert.match(problems[0]!, /^Refused: \d+ problems with the request$/);
            assert.ok(problems.includes("• User › UID: required (gitspace:developers[1].user.uid)"), problems.join("\n"));
            assert.ok(problems.some((p) => /^• SSH node port: .+ \(gitspace:developers\[1\]\.sshNodePort\)$/.test(p!)), problems.join("\n"));
            // …and a rule across fields: the problems of the previous try are gone.
            await w.page.fill(field("user.name"), "");
            await w.page.fill(field("sshNodePort"), "");
            await w.page.selectOption(field("ide", "select"), "intellij");
            await w.page.fill(field("sshPublicKeys", "textarea"), "");
            await w.page.click("#editor-save");
            await w.page.waitForSelector('#editor [data-path="sshPublicKeys"].invalid');
            assert.strictEqual(await w.page.textContent('#editor [data-path="sshPublicKeys"] > .field-error'),
                'required for the SSH IDE "intellij" (at least one public key)');
            assert.strictEqual(await w.page.$$eval("#editor .invalid", (e) => e.length), 1, "only the field the service named");
            problems = await w.page.$$eval("#editor-problems li", (lis) => lis.map((l) => l.textContent));
            assert.deepStrictEqual(problems, ["Refused: 1 problem with the request",
                '• SSH public keys: required for the SSH IDE "intellij" (at least one public key) (gitspace:developers[1].sshPublicKeys)']);
            assert.deepStrictEqual(JSON.parse(w.requests.filter((r) => r.method === "PATCH")[1].body!), { ide: "intellij", sshPublicKeys: null });
            assert.ok(!(await w.page.isHidden("#editor")), "the form stays open with what was typed");
            assert.strictEqual(await w.page.inputValue(field("ide", "select")), "intellij");
            assert.strictEqual(JSON.stringify(mem.stack.values), before, "nothing applied");

            // A value the schema does not list (a hand-edited config) is shown as it is and not dropped by an edit.
            await w.page.click("#editor-cancel");
            (mem.stack.values.developers as Array<Record<string, unknown>>)[1].ide = "vscod";
            await w.page.click("tr[data-name=bob] button.edit");
            await w.page.waitForSelector("#editor:not([hidden])");
            assert.strictEqual(await w.page.inputValue(field("ide", "select")), "vscod");
            await w.page.fill(field("storage"), "5Gi");
            await w.page.click("#editor-save");
            await w.page.waitForSelector('#editor [data-path="ide"].invalid');
            assert.match((await w.page.textContent('#editor [data-path="ide"] > .field-error'))!, /^unknown IDE "vscod"; expected one of /);
            assert.deepStrictEqual(JSON.parse(w.requests.filter((r) => r.method === "PATCH")[2].body!), { storage: "5Gi" });
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("hostile names, messages and secrets are shown as text: markup, bidi overrides, control characters, huge strings", async () => {
        const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>\u202egnp.exe\u0000\u001b[31m";
        const shortHostile = "<img src=x onerror=alert(3)>\u202ecod.exe\u0007";
        const outputs = mem.stack.outputs.bind(mem.stack);
        mem.stack.outputs = async () => {
            const o = await outputs();
            const g = o.gitspaces.value as Record<string, { password: string; url: string }>;
            g.alice.password = `${hostile}pw`;
            g.carol.url = "javascript:alert(4)//<img src=x onerror=alert(5)>";
            return o;
        };
        // A name nobody validated (a hand-edited stack config) reaches the list as it is.
        mem.stack.options.delayMs = 0;
        await mem.portal.start(REF, "carol");
        (mem.stack.values.developers as unknown[]).push({ name: hostile });
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.waitForSelector("#gitspaces tbody tr:nth-child(4)");
            assert.strictEqual(await w.page.textContent("#gitspaces tbody tr:nth-child(4) td"),
                "<img src=x onerror=alert(1)><script>alert(2)</script>\\u202egnp.exe\\u0000\\u001b[31m");
            assert.strictEqual(await w.page.$("tr[data-name=carol] a"), null, "a javascript: URL never becomes a link");
            await w.page.click("#gitspaces tbody tr:nth-child(4) button.remove");
            assert.strictEqual(await w.page.textContent("#remove-title"), "Remove <img src=x onerror=alert(1)><script>alert(2)</script>\\u202egnp.exe\\u0000\\u001b[31m");
            await w.page.click("#remove-cancel");
            // Every change is refused while that entry is there: the problem is the other entry's, not the form's.
            await w.page.click("#add");
            await w.page.waitForSelector("#editor:not([hidden])");
            await w.page.fill(field("name"), "erin");
            await w.page.click("#editor-save");
            await w.page.waitForSelector("#editor-problems li");
            assert.strictEqual(await w.page.$$eval("#editor .invalid", (e) => e.length), 0, "no field of the form is blamed");
            assert.match((await w.page.textContent("#editor-problems"))!, /• Developers › #4 › Name: .*\(gitspace:developers\[3\]\.name\)/);
            await w.page.click("#editor-cancel");
            (mem.stack.values.developers as unknown[]).pop();
            await w.page.click("#load");
            await w.page.waitForSelector("#gitspaces tbody tr:nth-child(4)", { state: "detached" });
            // A name the schema refuses: the refusal quotes it, next to the name field, as text.
            await w.page.click("#add");
            await w.page.waitForSelector("#editor:not([hidden])");
            await w.page.fill(field("name"), shortHostile);
            await w.page.fill(field("homeVolumeName"), hostile + "x".repeat(5000));
            await w.page.fill(field("storage"), "<b>big</b>");
            await w.page.click("#editor-save");
            await w.page.waitForSelector('#editor [data-path="name"].invalid');
            const nameError = (await w.page.textContent('#editor [data-path="name"] > .field-error'))!;
            assert.ok(nameError.includes('invalid name "<img src=x onerror=alert(3)>\\u202ecod.exe\\u0007"'), nameError);
            const volumeError = (await w.page.textContent('#editor [data-path="homeVolumeName"] > .field-error'))!;
            assert.ok(volumeError.includes("<img src=x onerror=alert(1)><script>alert(2)</script>\\u202egnp.exe\\u0000\\u001b[31m"), volumeError);
            for (const text of [nameError, volumeError, (await w.page.textContent("#editor-problems"))!]) {
                assert.ok(!/[\u202e\u0000\u001b\u0007]/.test(text), "bidi overrides and control characters are shown escaped");
            }
            assert.match((await w.page.textContent('#editor [data-path="storage"] > .field-error'))!, /<b>big<\/b>/);

            // An existing name: the 409 goes next to the name field too.
            await w.page.fill(field("name"), "alice");
            await w.page.fill(field("storage"), "");
            await w.page.click("#editor-save");
            await w.page.waitForFunction(() => /already exists/.test(document.querySelector('#editor [data-path="name"] > .field-error')?.textContent ?? ""));
            assert.match((await w.page.textContent("#editor-problems"))!, /^Conflict: developer "alice" already exists in stack "platform-dev"/);
            await w.page.click("#editor-cancel");

            // A hostile password, and a 20,000-character failure with markup and a bidi override.
            await w.page.click("tr[data-name=alice] button.reveal");
            await w.page.waitForSelector("tr[data-name=alice] .password");
            assert.strictEqual(await w.page.textContent("tr[data-name=alice] .password"),
                "<img src=x onerror=alert(1)><script>alert(2)</script>\\u202egnp.exe\\u0000\\u001b[31mpw");
            mem.stack.options.failDeveloper = { name: "carol", message: `${hostile} ${"quota exceeded ".repeat(1400)}` };
            await w.page.click("tr[data-name=carol] button.stop");
            await opEnded(w, "failed");
            const state = (await opState(w))!;
            assert.ok(state.startsWith("The update failed:\n• Deployment carol-deployment: <img src=x onerror=alert(1)>"), state.slice(0, 300));
            assert.ok(state.includes("\\u202egnp.exe"), "the bidi override is shown, not applied");
            await w.page.waitForSelector("tr[data-name=carol] .status-failed .last-error");
            assert.ok((await w.page.textContent("tr[data-name=carol] .last-error"))!.includes("<img src=x onerror=alert(1)><script>alert(2)</script>\\u202egnp.exe"));
            assert.ok((await w.page.textContent("#message"))!.startsWith("carol: The update failed:\n• Deployment carol-deployment: <img"));
            const width = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
            assert.ok(width[0] <= width[1], `long words wrap instead of widening the page: ${width}`);
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("removes a developer: home kept by default; a purge needs the name typed and is refused without it", async () => {
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.click("tr[data-name=carol] button.remove");
            await w.page.waitForSelector("#remove-panel:not([hidden])");
            assert.match((await w.page.textContent("#remove-text"))!, /home \(Namespace and home volume\) is kept/);
            assert.ok(await w.page.isHidden("#purge-confirm"));
            await w.page.click("#remove-go");
            await w.page.waitForSelector("tr[data-name=carol]", { state: "detached" });
            const plain = w.requests.find((r) => r.method === "DELETE")!;
            assert.strictEqual(plain.url.pathname + plain.url.search, "/teams/platform/envs/dev/gitspaces/carol?stream=1");
            assert.strictEqual(await opState(w), "Done: 1 to delete");

            await w.page.click("tr[data-name=alice] button.remove");
            await w.page.check("#purge");
            await w.page.waitForSelector("#purge-confirm:visible");
            assert.strictEqual(await w.page.textContent("#purge-confirm-text"), "Type alice to confirm that their home data is deleted");
            assert.ok(await w.page.isDisabled("#remove-go"), "no purge without the confirmation");
            await w.page.fill("#purge-confirm", "alic");
            assert.ok(await w.page.isDisabled("#remove-go"));
            await w.page.fill("#purge-confirm", "Alice");
            assert.ok(await w.page.isDisabled("#remove-go"), "the name must match exactly");
            // Submitting anyway (Enter in a form, a disabled button bypassed) is refused by the page too.
            await w.page.evaluate(() => (document.getElementById("remove-panel") as HTMLFormElement).requestSubmit());
            assert.match((await w.page.textContent("#remove-problems"))!, /Type the developer's name \(alice\) exactly/);
            assert.strictEqual(w.requests.filter((r) => r.method === "DELETE").length, 1, "no request sent for the refused purge");
            assert.ok((await mem.portal.list(REF)).some((g) => g.name === "alice"));

            await w.page.fill("#purge-confirm", "alice");
            assert.strictEqual(await w.page.textContent("#remove-go"), "Remove and delete home data");
            await w.page.click("#remove-go");
            await w.page.waitForSelector("tr[data-name=alice]", { state: "detached" });
            const purge = w.requests.filter((r) => r.method === "DELETE")[1];
            assert.strictEqual(purge.url.pathname + purge.url.search, "/teams/platform/envs/dev/gitspaces/alice?purge=1&stream=1");
            const log = await opLog(w);
            assert.strictEqual(log.filter((l) => l.startsWith("Update started")).length, 2, `a purge is two updates:\n${log.join("\n")}`);
            assert.strictEqual(await w.page.textContent("#operations .op:first-child .title"), "Remove and purge alice");
            assert.deepStrictEqual((await mem.portal.list(REF)).map((g) => g.name), ["bob"]);
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("reveals an IDE password only on click, from a request without secrets in its URL, and hides it again", async () => {
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.waitForSelector("tr[data-name=alice] button.reveal");
            assert.strictEqual(await w.page.$("tr[data-name=bob] button.reveal"), null, "an SSH IDE has no password");
            assert.ok(!(await w.page.content()).includes("pw-alice"), "not in the page before the click");
            assert.strictEqual(w.requests.filter((r) => r.url.search.includes("showSecrets")).length, 0, "not fetched before the click");
            await w.page.click("tr[data-name=alice] button.reveal");
            await w.page.waitForSelector("tr[data-name=alice] .password");
            assert.strictEqual(await w.page.textContent("tr[data-name=alice] .password"), "pw-alice");
            assert.strictEqual(await w.page.textContent("tr[data-name=alice] button.reveal"), "Hide password");
            const get = w.requests.find((r) => r.url.search.includes("showSecrets"))!;
            assert.strictEqual(get.url.pathname + get.url.search, "/teams/platform/envs/dev/gitspaces/alice?showSecrets=1");
            await w.page.click("tr[data-name=alice] button.reveal");
            await w.page.waitForSelector("tr[data-name=alice] .password", { state: "detached" });
            assert.ok(!(await w.page.content()).includes("pw-alice"), "gone from the page");
            const stored = await w.page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie);
            assert.ok(!stored.includes("pw-alice"), "never stored");
            // Shown again, then the tab is hidden: gone.
            await w.page.click("tr[data-name=alice] button.reveal");
            await w.page.waitForSelector("tr[data-name=alice] .password");
            await w.page.evaluate(() => {
                Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
                document.dispatchEvent(new Event("visibilitychange"));
            });
            await w.page.waitForSelector("tr[data-name=alice] .password", { state: "detached" });
            assert.strictEqual(await w.page.textContent("tr[data-name=alice] button.reveal"), "Show password");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("lists and picks team stacks, creates one from a team config (problems in words) and deletes one with its name typed", async () => {
        await mem.addStack("web-staging2", exampleTeamValues("web", [{ name: "zed" }]));
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.waitForSelector("#stack-list option[value=web-staging2]", { state: "attached" });
            assert.deepStrictEqual(await w.page.$$eval("#stack-list option", (os) => os.map((o) => o.textContent)),
                ["(pick a team stack)", "platform-dev (3 resources)", "web-staging2 (1 resources)"]);
            assert.strictEqual(await w.page.inputValue("#stack-list"), "platform-dev");
            await w.page.selectOption("#stack-list", "web-staging2");
            await w.page.waitForSelector("tr[data-name=zed]");
            assert.strictEqual(await w.page.$("tr[data-name=alice]"), null);
            assert.strictEqual(new URL(w.page.url()).search, "?team=web&env=staging2");
            assert.strictEqual(await w.page.inputValue("#team"), "web");
            // Typing another team without Show does not redirect the actions of the stack shown.
            await w.page.fill("#team", "platform");
            await w.page.click("tr[data-name=zed] button.stop");
            await opEnded(w, "ok");
            assert.ok(w.requests.some((r) => r.method === "POST" && r.url.pathname === "/teams/web/envs/staging2/gitspaces/zed/stop"));
            assert.strictEqual((await mem.portal.get({ team: "web", env: "staging2" }, "zed")).running, false);

            // A stack that does not exist: said in words, and the list of the previous one is gone.
            await w.page.fill("#team", "ghost");
            await w.page.fill("#env", "dev");
            await w.page.click("#load");
            await w.page.waitForSelector("#gitspaces", { state: "hidden" });
            assert.match((await w.page.textContent("#message"))!, /^Not found: .*ghost-dev/);
            assert.strictEqual(await w.page.$$eval("#gitspaces tbody tr", (r) => r.length), 0);

            // Create (the form is tested in depth in page-stack.test.ts): a config the program refuses, then a good one.
            const stackField = (path: string) => `#new-stack [data-path="${path}"] > input`;
            await w.page.click("#new-stack-open");
            await w.page.waitForSelector("#new-stack:not([hidden])");
            await w.page.fill(stackField("team"), "data");
            await w.page.fill(stackField("environment"), "prod");
            await w.page.fill(stackField("domain"), "gitspace.localtest.me");
            await w.page.fill(stackField("images.registry"), "https://bad/<img>");
            await w.page.fill(stackField("developers[0].name"), "yan");
            await w.page.click("#new-stack-go");
            await w.page.waitForFunction(() => document.querySelectorAll("#new-stack-problems li").length > 1);
            const problems = await w.page.$$eval("#new-stack-problems li", (lis) => lis.map((l) => l.textContent));
            assert.ok(problems.some((p) => /^• Images › Registry: invalid registry repository "https:\/\/bad\/<img>".*\(gitspace:images\.registry\)$/.test(p!)), problems.join("\n"));
            assert.match((await w.page.textContent('#new-stack [data-path="images.registry"] > .field-error'))!, /^invalid registry repository/);
            assert.ok(!mem.stacks.has("data-prod"), "nothing created");
            await w.page.fill(stackField("images.registry"), "127.0.0.1:5000/gitspace-runtime");
            await w.page.click("#new-stack-go");
            await w.page.waitForSelector("tr[data-name=yan]");
            assert.strictEqual(await w.page.textContent("tr[data-name=yan] .status"), "pending");
            await w.page.waitForSelector("#stack-list option[value=data-prod]", { state: "attached" });
            assert.strictEqual(await w.page.inputValue("#stack-list"), "data-prod");

            // Delete: only with the stack's name typed.
            await w.page.click("#delete-stack-open");
            assert.strictEqual(await w.page.textContent("#delete-stack-confirm-text"), "Type data-prod to confirm");
            assert.ok(await w.page.isDisabled("#delete-stack-go"));
            await w.page.fill("#delete-stack-confirm", "data-pro");
            assert.ok(await w.page.isDisabled("#delete-stack-go"));
            await w.page.fill("#delete-stack-confirm", "data-prod");
            await w.page.click("#delete-stack-go");
            await w.page.waitForSelector("#gitspaces", { state: "hidden" });
            assert.ok(!mem.stacks.has("data-prod"));
            await w.page.waitForSelector("#stack-list option[value=data-prod]", { state: "detached" });
            assert.match((await opState(w))!, /^Deleted: .*homes kept$/);
            const del = w.requests.find((r) => r.method === "DELETE")!;
            assert.strictEqual(del.url.pathname + del.url.search, "/teams/data/envs/prod");
            assert.ok(mem.stacks.has("platform-dev") && mem.stacks.has("web-staging2"), "other stacks untouched");
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });

    it("shows a queued request's place in line and cancels it, lists everyone's requests in line; a busy stack's retries in words", async () => {
        mem.stack.options.delayMs = 1500;
        const w = await openPage(browser, pageUrl());
        try {
            await w.page.waitForSelector("tr[data-name=carol]");
            const running = mem.portal.stop(REF, "bob");
            await new Promise((r) => setTimeout(r, 200));
            await w.page.click("tr[data-name=carol] button.start");
            await w.page.waitForSelector("#operations .op:first-child button.cancel");
            assert.deepStrictEqual(await opLog(w), ["Waiting in line: 1 request ahead"]);
            assert.strictEqual(await opState(w), "Queued");
            await w.page.click("#operations .op:first-child button.cancel");
            await opEnded(w, "failed");
            assert.match((await opState(w))!, /^Conflict: operation .* was cancelled before it ran; nothing was changed$/);
            await running;
            assert.strictEqual((await mem.portal.get(REF, "carol")).running, false, "the cancelled start never ran");
            assert.ok(w.requests.some((r) => r.method === "DELETE" && /^\/teams\/platform\/envs\/dev\/operations\/[-0-9a-f]{36}$/.test(r.url.pathname)));

            // Everyone's requests in line (GET …/operations): a queued one is cancelled from the list.
            mem.stack.options.delayMs = 1500;
            const first = mem.portal.stop(REF, "alice");
            await new Promise((r) => setTimeout(r, 200));
            const queued = mem.portal.update(REF, "carol", { storage: "9Gi" }, { operationId: "lib-request-1" });
            const outcome = queued.then(() => "ran", (e: Error) => e.name);
            await w.page.click("#load");
            await w.page.waitForSelector("#queue:not([hidden]) li[data-id=lib-request-1] button.cancel");
            const lines = await w.page.$$eval("#queue-list li", (lis) => lis.map((l) => l.firstChild!.textContent));
            assert.match(lines[0]!, /^running: stop alice, since /);
            assert.match(lines[1]!, /^queued, 1 ahead: edit carol, since /);
            await w.page.click("li[data-id=lib-request-1] button.cancel");
            assert.strictEqual(await outcome, "OperationCancelledError");
            await first;
            assert.strictEqual((mem.stack.values.developers as Array<Record<string, unknown>>)[2].storage, undefined, "the cancelled edit never ran");
            await w.page.click("#queue-refresh");
            await w.page.waitForSelector("#queue", { state: "hidden" });

            mem.stack.options.delayMs = 50;
            mem.stack.options.busyRuns = 1;
            await w.page.click("tr[data-name=carol] button.start");
            await opEnded(w, "ok");
            const log = await opLog(w);
            assert.ok(log.some((l) => /^The stack is busy \(.+\); trying again in [\d.]+ s \(attempt 1\)$/.test(l)), log.join("\n"));
            await assertInert(w);
        } finally {
            await w.page.close();
        }
    });
});
