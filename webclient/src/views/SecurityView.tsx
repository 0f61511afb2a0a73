/** Encryption set-up prompts: the recovery key (shown once), verifying a new session. */
import { useState } from "preact/hooks";
import type { SecurityViewModel } from "../viewmodels/SecurityViewModel";
import { Dialog, ErrorText } from "./common";
import { VerificationView } from "./VerificationView";

export function SecurityView({ vm }: { vm: SecurityViewModel }) {
  const step = vm.step.value;
  const [key, setKey] = useState("");
  switch (step.kind) {
    case "checking":
    case "ready":
      return null;
    case "settingUp":
      return <p class="security-status" role="status">Setting up encryption…</p>;
    case "failed":
      return (
        <Dialog title="Encryption is not set up" onClose={() => vm.skip()}>
          <ErrorText error={step.error} />
          <button type="button" onClick={() => vm.skip()}>Continue</button>
        </Dialog>
      );
    case "recoveryKey":
      return (
        <Dialog title="Save your recovery key" onClose={() => vm.acknowledgeRecoveryKey()}>
          <p>Your messages are end-to-end encrypted. This recovery key opens your secure backup on a new device:
            keep it somewhere safe (a password manager). It is shown only once.</p>
          <label>Recovery key<textarea readOnly rows={2} class="recovery-key" value={step.recoveryKey} onFocus={(e) => e.currentTarget.select()} /></label>
          <div class="row">
            <button type="button" onClick={() => void navigator.clipboard?.writeText(step.recoveryKey)}>Copy</button>
            <button type="button" class="primary" onClick={() => vm.acknowledgeRecoveryKey()}>Continue</button>
          </div>
        </Dialog>
      );
    case "unverified":
      return (
        <Dialog title="Verify this session" onClose={() => vm.skip()}>
          <p>Confirm it is you to read your encrypted messages on this device.</p>
          <div class="column">
            <button type="button" class="primary" onClick={() => vm.chooseRecoveryKey()}>Verify with recovery key</button>
            <button type="button" onClick={() => void vm.verifyWithOtherSession()}>Verify with another session</button>
            <button type="button" onClick={() => vm.skip()}>Skip for now</button>
          </div>
        </Dialog>
      );
    case "enterRecoveryKey":
      return (
        <Dialog title="Enter your recovery key" onClose={() => vm.back()}>
          <form onSubmit={(e) => { e.preventDefault(); void vm.verifyWithRecoveryKey(key); }}>
            <label>Recovery key<textarea rows={2} autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)} /></label>
            <ErrorText error={step.error} />
            <button type="submit" class="primary" disabled={step.busy}>{step.busy ? "Verifying…" : "Verify"}</button>
          </form>
        </Dialog>
      );
    case "verifying":
      return <VerificationView vm={step.vm} onClose={() => vm.back()} />;
  }
}
