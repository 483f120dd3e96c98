// A wait between retries or polls that the engine can cut short.

/** Waits `ms`, or less if woken. */
export class Sleeper {
  private wakeFn: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wakeFn === done) self.wakeFn = null;
        resolve();
      }
      this.wakeFn = done;
    });
  }
  wake(): void {
    this.wakeFn?.();
  }
}
