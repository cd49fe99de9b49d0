/**
 * The whole team stack from a validated config: the runtime images and one Gitspace per developer. index.ts, the
 * portal and the benchmarks all go through here.
 */
import * as pulumi from "@pulumi/pulumi";
import { dockerConfigJson } from "./builders";
import { ideSpec } from "./catalog";
import { TeamConfig } from "./config";
import { Gitspace } from "./gitspace";
import { RuntimeImages } from "./images";

export interface GitspaceOutput {
    namespace: pulumi.Output<string>;
    ide: string;
    url: string;
    image: pulumi.Output<string>;
    /** Web IDE password (a Pulumi secret); absent for SSH IDEs or behind an authenticating proxy. */
    password?: pulumi.Output<string>;
    /** How to connect for SSH IDEs (through a port-forward until a TCP route is configured). */
    ssh?: pulumi.Output<string>;
}

export interface TeamOutputs {
    images: RuntimeImages["refs"];
    gitspaces: Record<string, GitspaceOutput>;
}

/** Resource name of a developer's Gitspace component (`gitspace:gitspace:Gitspace` named after the developer). */
export const gitspaceResourceName = (developer: string) => developer;

export function provisionTeam(config: TeamConfig, opts?: pulumi.ComponentResourceOptions): TeamOutputs {
    const { images: img } = config;
    const secretPassword = img.password === undefined ? undefined : pulumi.secret(img.password);
    const images = new RuntimeImages("runtime-images", {
        registry: img.registry,
        tag: img.tag,
        platforms: img.platforms,
        push: img.push,
        build: img.build,
        vscodeExtensions: img.vscodeExtensions,
        baseImage: img.baseImage,
        builder: img.builder,
        username: img.username,
        password: secretPassword,
    }, opts);
    // One pull secret value for the whole team, computed once.
    const registryCredentials = img.username !== undefined && img.password !== undefined
        ? pulumi.secret(dockerConfigJson(img.registry, img.username, img.password))
        : undefined;

    const gitspaces: Record<string, GitspaceOutput> = {};
    for (const developer of config.developers) {
        const spec = ideSpec(developer.ide);
        const image = images.refs[spec.flavor];
        const gitspace = new Gitspace(gitspaceResourceName(developer.name), {
            team: config.team,
            domain: config.domain,
            developer,
            image,
            storageClass: config.storageClass,
            ideAuth: config.ideAuth,
            routerNamespace: config.router.namespace,
            registryCredentials,
        }, opts);
        gitspaces[developer.name] = {
            namespace: gitspace.namespace,
            ide: developer.ide,
            url: gitspace.url,
            image,
            ...(gitspace.password ? { password: gitspace.password } : {}),
            ...(spec.access === "ssh"
                ? { ssh: pulumi.interpolate`kubectl -n ${gitspace.namespace} port-forward svc/gitspace ${spec.port} & ssh -p ${spec.port} ${developer.user.name}@localhost` }
                : {}),
        };
    }
    return { images: images.refs, gitspaces };
}
