/**
 * Base of every view model: what a screen shows lives in signals the view reads;
 * listeners on matrix-js-sdk objects are tracked and removed by dispose().
 */
export abstract class ViewModel {
  private readonly disposers: (() => void)[] = [];
  private disposed = false;

  protected track(dispose: () => void): void {
    if (this.disposed) dispose();
    else this.disposers.push(dispose);
  }

  /** Listens on an EventEmitter-like source until the view model is disposed. */
  protected listen<A extends unknown[]>(
    source: { on(event: never, fn: never): unknown; off(event: never, fn: never): unknown },
    event: string,
    fn: (...args: A) => void,
  ): void {
    const s = source as unknown as { on(e: string, f: (...a: A) => void): void; off(e: string, f: (...a: A) => void): void };
    s.on(event, fn);
    this.track(() => s.off(event, fn));
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    this.disposed = true;
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
  }
}
