/**
 * The IDE catalog: the one table that decides, per IDE type, which runtime image flavor a gitspace runs, on which
 * port, with which command and probe, and whether the developer reaches it in the browser or over SSH.
 * IDE type names are the ones Gitness uses.
 */

/** Runtime image flavors, in build order (`base` first: every other flavor is built FROM it). */
export const FLAVORS = ["base", "vscode", "vscode-desktop", "jetbrains", "cursor"] as const;
export type Flavor = (typeof FLAVORS)[number];

/** How the developer's IDE reaches the gitspace. */
export type Access = "web" | "ssh";

export interface IdeSpec {
    /** Human-readable name for outputs and docs. */
    displayName: string;
    flavor: Exclude<Flavor, "base">;
    access: Access;
    port: number;
    /** The IDE container's command (tini, then a script baked into the image). */
    command: string[];
    /** Readiness/liveness check on the IDE port. */
    probe: { kind: "http"; path: string } | { kind: "tcp" };
}

const SCRIPTS = "/usr/local/gitspace/scripts";
/** tini as PID 1 reaps the zombies IDE servers leave (the pod command replaces the image's ENTRYPOINT). */
const INIT_PROCESS = ["/usr/bin/tini", "--"];
export const WEB_PORT = 8089;
export const SSH_PORT = 8088;

/** The init container's entrypoint: migration, identity, credentials, clone. */
export const INIT_COMMAND = [`${SCRIPTS}/common/gitspace-init.sh`];

const webIde = (displayName: string): IdeSpec => ({
    displayName,
    flavor: "vscode",
    access: "web",
    port: WEB_PORT,
    command: [...INIT_PROCESS, `${SCRIPTS}/vscode/run-vscode-web.sh`],
    probe: { kind: "http", path: "/healthz" },
});

const sshIde = (displayName: string, flavor: IdeSpec["flavor"], script: string): IdeSpec => ({
    displayName,
    flavor,
    access: "ssh",
    port: SSH_PORT,
    command: [...INIT_PROCESS, `${SCRIPTS}/${script}`],
    probe: { kind: "tcp" },
});

const jetbrains = (displayName: string) => sshIde(displayName, "jetbrains", "jetbrains/run-jetbrains.sh");
const cursorLike = (displayName: string) => sshIde(displayName, "cursor", "cursor/run-cursor.sh");

export const IDE_CATALOG = {
    vs_code_web: webIde("VS Code in the browser (code-server)"),
    vs_code: sshIde("VS Code Desktop over Remote-SSH", "vscode-desktop", "common/run-ssh-server.sh"),
    cursor: cursorLike("Cursor over SSH"),
    windsurf: cursorLike("Windsurf over SSH"),
    intellij: jetbrains("IntelliJ IDEA via JetBrains Gateway"),
    goland: jetbrains("GoLand via JetBrains Gateway"),
    pycharm: jetbrains("PyCharm via JetBrains Gateway"),
    webstorm: jetbrains("WebStorm via JetBrains Gateway"),
    clion: jetbrains("CLion via JetBrains Gateway"),
    phpstorm: jetbrains("PhpStorm via JetBrains Gateway"),
    rubymine: jetbrains("RubyMine via JetBrains Gateway"),
    rider: jetbrains("Rider via JetBrains Gateway"),
} satisfies Record<string, IdeSpec>;

export type IdeType = keyof typeof IDE_CATALOG;
export const IDE_TYPES = Object.keys(IDE_CATALOG) as IdeType[];

export function ideSpec(ide: IdeType): IdeSpec {
    return IDE_CATALOG[ide];
}
