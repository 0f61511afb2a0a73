/** Entry point: wires the platform (browser storage, this page's origin, matrix-js-sdk) into the app. */
import { render } from "preact";
import { createClient } from "matrix-js-sdk";
import { anonymousClient, openClient } from "./matrix/client";
import { discoverHomeserver } from "./matrix/discovery";
import type { Platform } from "./platform";
import { AppViewModel } from "./viewmodels/AppViewModel";
import { applyTheme, loadTheme } from "./viewmodels/SettingsViewModel";
import { App } from "./views/App";
import "./styles/app.css";

const platform: Platform = {
  storage: window.localStorage,
  origin: window.location.origin,
  discover: (input) => discoverHomeserver(input, window.location.origin),
  anonymousClient,
  authedClient: (s) => createClient({ baseUrl: s.homeserverUrl, userId: s.userId, deviceId: s.deviceId, accessToken: s.accessToken }),
  openClient,
};

applyTheme(loadTheme(platform.storage));
const app = new AppViewModel(platform);
render(<App vm={app} />, document.getElementById("app")!);
void app.start();
