// Entry of every load generator and baseline process: imports one role module
// (argv[2]) and serves calls to its exported `handlers` from the parent over
// IPC. Each role runs in its own process with its own event loop and CPU
// time, apart from the server it measures.
import { pathToFileURL } from "node:url";

type Handler = (...args: unknown[]) => unknown;
interface Call {
  readonly id: number;
  readonly method: string;
  readonly args: unknown[];
}

const rolePath = process.argv[2];
if (!rolePath || !process.send) {
  console.error("worker-main: run by the bench harness with a role module path");
  process.exit(2);
}
const role = (await import(pathToFileURL(rolePath).href)) as { handlers?: Record<string, Handler> };
const handlers = role.handlers;
if (!handlers) throw new Error(`${rolePath} exports no handlers`);

const send = (message: unknown) => process.send!(message);
process.on("message", (message: Call) => {
  const handler = handlers[message.method];
  if (!handler) {
    send({ id: message.id, error: { message: `${rolePath} has no handler "${message.method}"` } });
    return;
  }
  Promise.resolve()
    .then(() => handler(...message.args))
    .then(
      (result) => send({ id: message.id, result }),
      (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        send({ id: message.id, error: { message: e.message, stack: e.stack } });
      },
    );
});
// The parent gone (it crashed or was killed): nothing left to serve.
process.on("disconnect", () => process.exit(0));
send({ ready: true });
