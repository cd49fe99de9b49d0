// The gitspace stack: read the team config, build the runtime images, provision one gitspace per developer.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadTeamConfig } from "./components/config";
import { provisionTeam } from "./components/team";

function load() {
    try {
        return loadTeamConfig();
    } catch (e) {
        // A RunError prints just the message: every bad field, no stack trace.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

const team = provisionTeam(load());

/** Image reference per flavor (digest-pinned when built here). */
export const images = team.images;
/**
 * Per developer: namespace, ide, url (web IDEs), appUrls (app ports), image, password (secret, web IDEs), ssh and
 * sshConfig (SSH IDEs).
 */
export const gitspaces = team.gitspaces;
/** The team stack's shared namespace (layout `shared`; caddy2-k8s watches it). */
export const namespace = team.namespace;
