// The @hocuspocus/server peer: a plain Hocuspocus server (no extensions, so
// no persistence and no auth hook), in memory, on 127.0.0.1. Prints
// "ready <port>" once listening; stops on SIGTERM.
//
//   node peers/hocuspocus-server.mjs PORT

import { Server } from '@hocuspocus/server';

const port = Number(process.argv[2]);
const server = new Server({ port, address: '127.0.0.1', quiet: true });
await server.listen();
console.log(`ready ${port}`);
process.on('SIGTERM', () => process.exit(0)); // in memory: nothing to save
