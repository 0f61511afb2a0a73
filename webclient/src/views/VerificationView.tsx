/** Emoji verification: the seven emoji to compare, "They match" / "They don't match". */
import type { VerificationViewModel } from "../viewmodels/VerificationViewModel";
import { Dialog } from "./common";

export function VerificationView({ vm, onClose }: { vm: VerificationViewModel; onClose: () => void }) {
  const step = vm.step.value;
  return (
    <Dialog title="Verify session" onClose={() => { void vm.cancel(); onClose(); }}>
      {step.kind === "waiting" && <p role="status">Accept the request on your other session…</p>}
      {step.kind === "incoming" && (
        <>
          <p>Another session{vm.otherDevice ? ` (${vm.otherDevice})` : ""} wants to verify this one.</p>
          <div class="row">
            <button type="button" class="primary" onClick={() => void vm.accept()}>Start verification</button>
            <button type="button" onClick={() => { void vm.cancel(); onClose(); }}>Not now</button>
          </div>
        </>
      )}
      {step.kind === "starting" && <p role="status">Starting verification…</p>}
      {step.kind === "emoji" && (
        <>
          <p>Check that these emoji appear on the other session, in the same order.</p>
          <ol class="sas" aria-label="Verification emoji">
            {step.emoji.map(([emoji, name], i) => <li key={i}><span class="sas-emoji" aria-hidden="true">{emoji}</span><span>{name}</span></li>)}
          </ol>
          <div class="row">
            <button type="button" class="primary" onClick={() => void vm.confirm()}>They match</button>
            <button type="button" onClick={() => vm.mismatch()}>They don't match</button>
          </div>
        </>
      )}
      {step.kind === "confirming" && <p role="status">Waiting for the other session to confirm…</p>}
      {step.kind === "done" && <><p role="status">Session verified.</p><button type="button" class="primary" onClick={onClose}>Done</button></>}
      {step.kind === "cancelled" && <><p role="status">{step.reason}</p><button type="button" onClick={onClose}>Close</button></>}
    </Dialog>
  );
}
