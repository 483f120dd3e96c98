// Test support (not part of the client's API): a scriptable in-memory fake of
// SyncService for engine tests (router transport, no network).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import {
  ChangeEventSchema,
  ChangeResultSchema,
  CheckpointSchema,
  Operation,
  SyncService,
  type ChangeEvent,
  type PullRequest,
  type PushRequest,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

type Result = MessageInitShape<typeof ChangeResultSchema>;

/** A scriptable fake: records pushes, answers with `onPush`, serves `docs` to pulls; a stream only catches up. */
export function fakeServer() {
  const pushes: PushRequest[] = [];
  const pulls: PullRequest[] = [];
  let seq = 0n;
  const docs = new Map<string, ChangeEvent>();
  const fake = {
    pushes,
    pulls,
    docs,
    failPushes: 0,
    failPushWith: undefined as ConnectError | undefined,
    maxPushChanges: Infinity,
    failPullWith: undefined as ConnectError | undefined,
    pullDelayMs: 0,
    onPush: undefined as ((change: ChangeEvent) => Result | undefined) | undefined,
    commit(change: ChangeEvent): ChangeEvent {
      seq++;
      const committed = create(ChangeEventSchema, {
        ...change,
        revision: `${seq}-r`,
        serverSequence: seq,
        deleted: change.operation === Operation.DELETE,
      });
      docs.set(`${change.collection}/${change.documentId}`, committed);
      return committed;
    },
  };
  const transport = createRouterTransport(({ service }) => {
    service(SyncService, {
      push(request) {
        pushes.push(request);
        if (request.changes.length > fake.maxPushChanges) throw new ConnectError("message size is larger than configured readMaxBytes", Code.ResourceExhausted);
        if (fake.failPushWith) throw fake.failPushWith;
        if (fake.failPushes > 0) {
          fake.failPushes--;
          throw new ConnectError("down", Code.Unavailable);
        }
        const results = request.changes.map((change): Result => {
          const scripted = fake.onPush?.(change);
          if (scripted) return scripted;
          const committed = fake.commit(change);
          return { clientSequence: change.clientSequence, outcome: { case: "accepted", value: { revision: committed.revision, serverSequence: committed.serverSequence } } };
        });
        return { results, checkpoint: { serverSequence: seq } };
      },
      async pull(request) {
        pulls.push(request);
        if (fake.pullDelayMs) await new Promise((r) => setTimeout(r, fake.pullDelayMs));
        if (fake.failPullWith) {
          const error = fake.failPullWith;
          if ((request.checkpoint?.serverSequence ?? 0n) > 0n) throw error;
        }
        const from = request.checkpoint?.serverSequence ?? 0n;
        const changes = [...docs.values()].filter((d) => d.serverSequence > from).sort((a, b) => Number(a.serverSequence - b.serverSequence));
        return { changes, checkpoint: create(CheckpointSchema, { serverSequence: seq, collections: { todos: seq } }), hasMore: false };
      },
      async *subscribe(_request, context) {
        // Caught up at once, then quiet until the client ends the stream.
        yield { event: { case: "changes", value: { changes: [], checkpoint: { serverSequence: seq }, caughtUp: true } } };
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }));
      },
    });
  });
  return { fake, transport };
}
