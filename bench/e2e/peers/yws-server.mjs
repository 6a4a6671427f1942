// The @y/websocket-server peer: y-websocket's own server (its setupWSConnection
// on a `ws` server), in memory, no persistence, on 127.0.0.1. Prints
// "ready <port>" once listening; stops on SIGTERM.
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
