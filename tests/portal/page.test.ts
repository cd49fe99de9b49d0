import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, BrowserContext } from "playwright-core";
import { MemoryLiveBackend, readyPod } from "../../portal";
import { memoryPortal, serve, Served, TOKEN } from "./helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("portal: web page in headless Chromium", function () {
    this.timeout(120000);
    let browser: BrowserContext;
    let served: Served;
    let mem: Awaited<ReturnType<typeof memoryPortal>>;
    let profile: string;

    before(async () => {
        if (!fs.existsSync(CHROMIUM)) {
            throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
        }
        profile = fs.mkdtempSync(path.join(os.tmpdir(), "portal-chromium-"));
        // A fresh profile directory (playwright passes it as --user-data-dir).
        browser = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM,
            headless: true,
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    });
    after(async () => {
        await browser?.close();
        if (profile) fs.rmSync(profile, { recursive: true, force: true });
    });
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

        await page.click("tr[data-name=alice] button.stop");
        await page.waitForSelector("tr[data-name=alice] .status-updating");
        assert.strictEqual(await page.textContent("tr[data-name=alice] .status"), "stopping…");
        await page.waitForSelector("tr[data-name=alice] .status-stopped");
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
});
