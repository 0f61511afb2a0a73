import { useEffect } from "preact/hooks";
import type { AppViewModel } from "../viewmodels/AppViewModel";
import { RegisterView } from "./RegisterView";
import { SessionView } from "./SessionView";
import { SignInView } from "./SignInView";

export function App({ vm }: { vm: AppViewModel }) {
  const screen = vm.screen.value;
  useEffect(() => {
    if (screen.kind !== "session") document.title = "Hearth";
  }, [screen]);
  switch (screen.kind) {
    case "loading":
      return <main class="loading" aria-busy="true"><p role="status">{screen.message}</p></main>;
    case "signIn":
      return <SignInView vm={screen.vm} notice={vm.notice.value} />;
    case "register":
      return <RegisterView vm={screen.vm} />;
    case "session":
      return <SessionView vm={screen.vm} />;
  }
}
