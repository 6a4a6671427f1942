// The @hocuspocus/server peer: a plain Hocuspocus server (no extensions, so
// no persistence and no auth hook), in memory, on 127.0.0.1. Prints
// "ready <port>" once listening; stops on SIGTERM; SIGUSR2 runs a full garbage
// collection when started with --expose-gc.
//
//   node peers/hocuspocus-server.mjs PORT

import { Server } from '@hocuspocus/server';

const port = Number(process.argv[2]);
const server = new Server({ port, address: '127.0.0.1', quiet: true });
await server.listen();
console.log(`ready ${port}`);
process.on('SIGTERM', () => process.exit(0)); // in memory: nothing to save
// The memory benchmark's forced collection (node --expose-gc): live memory, not garbage.
process.on('SIGUSR2', () => globalThis.gc?.());
