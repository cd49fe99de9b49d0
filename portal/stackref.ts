/**
 * Which stack a request names: `<team>-<env>`. The team is a DNS label (the program's own `gitspace:team` rule,
 * so it may contain `-`); the environment is lowercase letters and digits only, without `-`. The stack name
 * therefore splits at its last `-` into exactly one (team, env) pair: `my/team-dev` is refused instead of reaching
 * the stack of `my-team/dev`. The same schemas validate the HTTP path parameters and the library's StackRef.
 */
import { z } from "zod";
import { TOP_LEVEL_SCHEMAS } from "../components/config";
import { ValidationError } from "./errors";
import { StackRef } from "./types";

/** Pulumi's limit for a stack name: `<team>` (≤ 63) + `-` + `<env>` stays within it. */
const MAX_ENV = 36;

export const teamNameSchema = TOP_LEVEL_SCHEMAS.team;

export const envNameSchema = z.string({ error: "must be a string" })
    .max(MAX_ENV, { error: `must be at most ${MAX_ENV} characters` })
    .regex(/^[a-z0-9]+$/, {
        error: (iss) => `invalid environment ${JSON.stringify(String(iss.input).substring(0, 64))}; lowercase letters and digits only (no '-': the stack is <team>-<env>)`,
    });

/** Team and environment must be valid (they name the stack and, through the team, Kubernetes objects). */
export function checkStackRef(ref: StackRef): void {
    const problems = [
        ...teamNameSchema.safeParse(ref?.team).error?.issues.map((i) => ({ path: "team", message: i.message })) ?? [],
        ...envNameSchema.safeParse(ref?.env).error?.issues.map((i) => ({ path: "env", message: i.message })) ?? [],
    ];
    if (problems.length) throw new ValidationError(problems, "invalid stack reference", "invalid_request");
}
