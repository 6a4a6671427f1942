// The client in a real browser: headless Chromium loads the compiled package
// (import map onto node_modules), connects to the fakes with the browser's
// WebSocket (token in Sec-WebSocket-Protocol) and keeps its queue in the
// browser's IndexedDB; a node provider on the same document converges with
// it. Skipped, saying so, when no chromium binary is installed.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider } from '../dist/index.js';
import { startFakes, waitFor } from './fakes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (name) => spawnSync('which', [name]).status === 0,
);

/** Picks the browser entry of a package.json "exports" condition tree. */
function pick(target) {
  if (typeof target === 'string') return target;
  for (const key of ['browser', 'module', 'import', 'default']) {
    if (target && key in target) {
      const found = pick(target[key]);
      if (found) return found;
    }
  }
  return null;
}

function importMap() {
  const imports = {};
  for (const name of ['yjs', 'lib0', 'y-protocols', 'y-indexeddb']) {
    const dir = path.join(root, 'node_modules', name);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const [key, target] of Object.entries(pkg.exports ?? {})) {
      const file = pick(target);
      if (!file || key.includes('*')) continue;
      imports[key === '.' ? name : `${name}/${key.slice(2)}`] =
        `/node_modules/${name}/${file.slice(2)}`;
    }
  }
  return { imports };
}

const types = {
  '.html': 'text/html',
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.json': 'application/json',
};

test(
  'the provider works in headless Chromium with WebSocket and IndexedDB',
  { skip: chromium ? false : 'no chromium installed' },
  async () => {
    const fakes = await startFakes();
    const docId = `browser-${process.pid}`;
    let result = null;
    const server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method === 'POST' && url.pathname === '/result') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          result = JSON.parse(body);
          res.end();
        });
        return;
      }
      const file = path.join(root, path.normalize(url.pathname));
      if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': types[path.extname(file)] ?? 'application/octet-stream',
      });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-chromium-'));
    const doc = new Y.Doc();
    const node = new CollabProvider(doc, docId, {
      writeUrl: fakes.writeUrl,
      readUrl: fakes.readUrl,
      token: 'token-bob',
      WebSocket,
      batch: { pauseMs: 5 },
    });
    node.setUser({ id: 'node', name: 'Node', color: '#43a047' });
    let browser;
    let output = '';
    try {
      const page =
        `http://127.0.0.1:${server.address().port}/test/browser/page.html` +
        `?doc=${docId}&ws=${encodeURIComponent(fakes.writeUrl)}&token=token-alice` +
        `#${encodeURIComponent(JSON.stringify(importMap()))}`;
      browser = spawn(chromium, [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        page,
      ]);
      browser.stderr.on('data', (d) => (output += d));
      await waitFor(
        () => doc.getText('t').toString().includes('from the browser'),
        'browser text reached node',
        20000,
      );
      doc.getText('t').insert(0, 'from node ');
      await waitFor(() => result !== null, 'browser reported', 20000);
      assert.equal(result.ok, true, result.error);
      assert.equal(result.text, doc.getText('t').toString());
      assert.equal(result.left, 0, 'IndexedDB queue empty after the acks');
      assert.deepEqual(result.errors, []);
      assert.ok(result.peers.includes('Node'), `browser sees node's presence: ${result.peers}`);
      const item = fakes.received.find((m) => m.opId === result.itemId);
      assert.equal(item.type, 'item_write');
      assert.deepEqual(item.clock, [[result.deviceId, 1]]);
      assert.ok(fakes.tokenTransports.includes('protocol'));
    } catch (err) {
      err.message += `\nchromium stderr:\n${output.slice(-2000)}`;
      throw err;
    } finally {
      if (browser && browser.exitCode === null) {
        const exited = new Promise((resolve) => browser.on('exit', resolve));
        browser.kill('SIGTERM');
        await exited;
      }
      await node.destroy();
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await fakes.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  },
);
