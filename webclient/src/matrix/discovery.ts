/**
 * Which homeserver to talk to. By default the one that served this page (the
 * page's origin); otherwise a server name is looked up through
 * `/.well-known/matrix/client`, or a full URL is taken as it is.
 */
import { AutoDiscovery, AutoDiscoveryAction } from "matrix-js-sdk";

export class DiscoveryError extends Error {}

export interface Discoverer {
  findClientConfig(domain: string): Promise<{ "m.homeserver": { state: string; base_url?: string | null; error?: unknown } }>;
}

const sdkDiscoverer: Discoverer = {
  findClientConfig: (domain) => AutoDiscovery.findClientConfig(domain) as ReturnType<Discoverer["findClientConfig"]>,
};

/** The base URL of the homeserver named by `input` ("" means the page's own origin). */
export async function discoverHomeserver(input: string, pageOrigin: string, discoverer: Discoverer = sdkDiscoverer): Promise<string> {
  const name = input.trim();
  if (name === "") return pageOrigin;
  if (/^https?:\/\//i.test(name)) return name.replace(/\/+$/, "");
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(name) && !/^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(name)) {
    throw new DiscoveryError(`"${name}" is not a server name`);
  }
  const config = await discoverer.findClientConfig(name);
  const homeserver = config["m.homeserver"];
  if (homeserver.state === AutoDiscoveryAction.SUCCESS && homeserver.base_url) {
    return homeserver.base_url.replace(/\/+$/, "");
  }
  if (homeserver.state === AutoDiscoveryAction.IGNORE || homeserver.state === AutoDiscoveryAction.PROMPT) {
    // No usable /.well-known: the spec says to try the name itself.
    return `https://${name}`;
  }
  throw new DiscoveryError(`Could not find the homeserver of ${name}`);
}
