// The @y/websocket-server peer: y-websocket's own server (its setupWSConnection
// on a `ws` server), in memory, no persistence, on 127.0.0.1. Prints
// "ready <port>" once listening; stops on SIGTERM; SIGUSR2 runs a full garbage
// collection when started with --expose-gc.
//
//   node peers/yws-server.mjs PORT

import http from 'node:http';

import { setupWSConnection } from '@y/websocket-server/utils';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const server = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server });
wss.on('connection', (conn, req) => setupWSConnection(conn, req));
server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
process.on('SIGTERM', () => process.exit(0)); // in memory: nothing to save
// The memory benchmark's forced collection (node --expose-gc): live memory, not garbage.
process.on('SIGUSR2', () => globalThis.gc?.());
