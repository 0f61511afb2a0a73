/** Password sign-in and registration (with the spec's user-interactive auth). */
import type { MatrixClient } from "matrix-js-sdk";
import { DEVICE_NAME } from "./client";
import type { StoredSession } from "./sessionStore";

export interface UiaState {
  session?: string;
  flows: { stages: string[] }[];
  completed: string[];
}

export class AuthError extends Error {
  constructor(message: string, readonly errcode?: string) {
    super(message);
  }
}

/** The UIA body of a 401 answer, or null when the error is something else. */
export function readUia(error: unknown): UiaState | null {
  const data = (error as { data?: Record<string, unknown>; httpStatus?: number })?.data;
  if (!data || !Array.isArray(data.flows)) return null;
  return {
    session: typeof data.session === "string" ? data.session : undefined,
    flows: data.flows as { stages: string[] }[],
    completed: Array.isArray(data.completed) ? (data.completed as string[]) : [],
  };
}

/** The first flow made only of stages this client can do. */
export function chooseFlow(uia: UiaState, haveToken: boolean): string[] | null {
  const doable = new Set(["m.login.dummy", ...(haveToken ? ["m.login.registration_token"] : [])]);
  return uia.flows.find((flow) => flow.stages.every((stage) => doable.has(stage)))?.stages ?? null;
}

export function describeError(error: unknown): string {
  const e = error as { errcode?: string; data?: { error?: string }; message?: string };
  if (e?.data?.error) return e.data.error;
  if (e?.message) return e.message;
  return String(error);
}

export function passwordAuth(userId: string, password: string) {
  return { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password };
}

export async function signIn(client: MatrixClient, baseUrl: string, username: string, password: string): Promise<StoredSession> {
  try {
    const response = await client.loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: username.trim() },
      password,
      initial_device_display_name: DEVICE_NAME,
    });
    return { homeserverUrl: baseUrl, userId: response.user_id, deviceId: response.device_id, accessToken: response.access_token };
  } catch (error) {
    const errcode = (error as { errcode?: string }).errcode;
    if (errcode === "M_FORBIDDEN") throw new AuthError("Wrong username or password", errcode);
    throw new AuthError(describeError(error), errcode);
  }
}

export interface Registration {
  username: string;
  password: string;
  token?: string;
}

/** Registers an account, walking the UIA stages (dummy, registration token). */
export async function register(client: MatrixClient, baseUrl: string, form: Registration): Promise<StoredSession> {
  const body = { username: form.username.trim(), password: form.password, initial_device_display_name: DEVICE_NAME };
  let auth: Record<string, unknown> | undefined;
  // A flow has at most a handful of stages; never loop on a server that keeps asking.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const response = await client.registerRequest(auth ? { ...body, auth } : body);
      if (!response.access_token || !response.device_id) throw new AuthError("The server did not sign the new account in");
      return { homeserverUrl: baseUrl, userId: response.user_id, deviceId: response.device_id, accessToken: response.access_token };
    } catch (error) {
      if (error instanceof AuthError) throw error;
      const uia = readUia(error);
      if (!uia) throw new AuthError(describeError(error), (error as { errcode?: string }).errcode);
      const flow = chooseFlow(uia, Boolean(form.token));
      if (!flow) {
        throw new AuthError(form.token ? "This server does not accept registration tokens" : "Registration needs a registration token", "M_FORBIDDEN");
      }
      const next = flow.find((stage) => !uia.completed.includes(stage));
      if (!next) throw new AuthError(describeError(error));
      const failure = (error as { data?: { errcode?: string } }).data?.errcode;
      if (auth && failure) {
        // The stage just tried was refused (a wrong or used-up token, say).
        throw new AuthError(auth.type === "m.login.registration_token" ? "That registration token is not valid" : describeError(error), failure);
      }
      auth = next === "m.login.registration_token" ? { type: next, token: form.token?.trim(), session: uia.session } : { type: next, session: uia.session };
    }
  }
  throw new AuthError("Registration did not complete");
}
