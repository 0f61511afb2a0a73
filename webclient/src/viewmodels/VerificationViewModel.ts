/** One emoji (SAS) verification, started here or by the other side. */
import { signal } from "@preact/signals";
import {
  VerificationPhase, VerificationRequestEvent, VerifierEvent,
  type ShowSasCallbacks, type VerificationRequest, type Verifier,
} from "matrix-js-sdk/lib/crypto-api";
import { ViewModel } from "./ViewModel";

export type VerificationStep =
  | { kind: "waiting" }
  | { kind: "incoming" }
  | { kind: "starting" }
  | { kind: "emoji"; emoji: [string, string][] }
  | { kind: "confirming" }
  | { kind: "done" }
  | { kind: "cancelled"; reason: string };

export class VerificationViewModel extends ViewModel {
  readonly step = signal<VerificationStep>({ kind: "waiting" });
  private sas: ShowSasCallbacks | null = null;
  private verifier: Verifier | null = null;
  private finished = false;

  constructor(readonly request: VerificationRequest, private readonly onFinished: () => void | Promise<void>) {
    super();
    this.listen(request, VerificationRequestEvent.Change, () => this.update());
    this.update();
  }

  get otherDevice(): string | undefined {
    return this.request.otherDeviceId;
  }

  private update(): void {
    const request = this.request;
    switch (request.phase) {
      case VerificationPhase.Unsent:
      case VerificationPhase.Requested:
        this.step.value = request.initiatedByMe ? { kind: "waiting" } : { kind: "incoming" };
        break;
      case VerificationPhase.Ready:
        if (request.initiatedByMe) void this.startSas();
        else this.step.value = { kind: "starting" };
        break;
      case VerificationPhase.Started:
        if (request.verifier) this.attach(request.verifier);
        break;
      case VerificationPhase.Done:
        this.step.value = { kind: "done" };
        this.finish();
        break;
      case VerificationPhase.Cancelled:
        this.step.value = { kind: "cancelled", reason: request.cancellationCode === "m.mismatched_sas" ? "The emoji did not match" : "Verification was cancelled" };
        this.finish();
        break;
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    void this.onFinished();
  }

  async accept(): Promise<void> {
    this.step.value = { kind: "starting" };
    await this.request.accept();
  }

  private async startSas(): Promise<void> {
    if (this.verifier) return;
    this.step.value = { kind: "starting" };
    this.attach(await this.request.startVerification("m.sas.v1"));
  }

  private attach(verifier: Verifier): void {
    if (this.verifier === verifier) return;
    this.verifier = verifier;
    const show = (sas: ShowSasCallbacks) => {
      this.sas = sas;
      this.step.value = { kind: "emoji", emoji: (sas.sas.emoji ?? []) as [string, string][] };
    };
    this.listen(verifier, VerifierEvent.ShowSas, show);
    const existing = verifier.getShowSasCallbacks();
    if (existing) show(existing);
    verifier.verify().catch(() => undefined);
  }

  async confirm(): Promise<void> {
    this.step.value = { kind: "confirming" };
    await this.sas?.confirm();
  }

  mismatch(): void {
    this.sas?.mismatch();
  }

  async cancel(): Promise<void> {
    await this.request.cancel();
  }
}
