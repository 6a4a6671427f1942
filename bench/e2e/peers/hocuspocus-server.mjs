// The @hocuspocus/server peer: a plain Hocuspocus server (no extensions, so
// no persistence and no auth hook), in memory, on 127.0.0.1. Prints
// "ready <port>" once listening; stops on SIGTERM; SIGUSR2 runs a full garbage
// collection when started with --expose-gc.
//
//   node peers/hocuspocus-server.mjs PORT

import { Server } from '@hocuspocus/server';

// Before anything is awaited: a SIGUSR2 that arrives before its handler
// exists ends the process (the memory benchmark sends it right after "ready").
process.on('SIGTERM', () => process.exit(0)); // in memory: nothing to save
// The memory benchmark's forced collection (node --expose-gc): live memory, not garbage.
process.on('SIGUSR2', () => globalThis.gc?.());

const port = Number(process.argv[2]);
const server = new Server({ port, quiet: true, stopOnSignals: false });
// Not server.listen(): Hocuspocus 3.4 passes its `address` option to Node's
// listen() as `address`, which Node ignores (it wants `host`), so the server
// would listen on every interface. Its HTTP server, bound here, serves the same.
await new Promise((resolve, reject) => {
  server.httpServer.once('error', reject);
  server.httpServer.listen({ port, host: '127.0.0.1' }, resolve);
});
console.log(`ready ${port}`);
