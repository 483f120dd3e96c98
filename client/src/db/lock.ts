// One opener per browser database.

/**
 * In a browser, two tabs opening one IndexedDB database would share its client
 * id while counting client sequences apart, and their pushes would collide
 * (PROTOCOL §9.1). A Web Lock per database name keeps it to one tab; Node's
 * LevelDB already refuses a second opener with its own lock file.
 */
export async function holdExclusively(name: string): Promise<(() => void) | undefined> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return undefined;
  return new Promise((resolve, reject) => {
    locks
      .request(`pocket-sync:database:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new Error(`database "${name}" is already open in another tab or window; give each tab its own name, or close it there first`));
          return undefined;
        }
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}
