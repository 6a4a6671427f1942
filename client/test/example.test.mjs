// examples/edit.mjs runs end to end against the fakes: logs in, types, and
// sees what another provider types.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider } from '../dist/index.js';
import { startFakes, waitFor } from './fakes.mjs';

test('the example program types, acks and prints what others type', async () => {
  const fakes = await startFakes();
  const docId = `example-${process.pid}`;
  const other = new Y.Doc();
  const provider = new CollabProvider(other, docId, {
    writeUrl: fakes.writeUrl,
    readUrl: fakes.readUrl,
    token: 'token-bob',
    WebSocket,
    batch: { pauseMs: 5 },
  });
  provider.setUser({ id: 'bob', name: 'bob', color: '#43a047' });
  try {
    const script = fileURLToPath(new URL('../examples/edit.mjs', import.meta.url));
    const child = spawn(process.execPath, [
      script,
      '--user',
      'alice',
      '--password',
      'secret-a',
      '--doc',
      docId,
      '--text',
      'typed by the example',
      '--seconds',
      '3',
      '--http',
      fakes.httpUrl,
      '--write',
      fakes.writeUrl,
      '--read',
      fakes.readUrl,
    ]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => out.includes('[acked]'), 'example acked its text', 10000);
    other.getText('text').insert(0, 'bob was here ');
    await waitFor(
      () => out.includes('[others typed] "bob was here "'),
      'example printed the other edit',
      10000,
    );
    assert.equal(await exited, 0, out);
    assert.match(out, /\[joined\] bob/);
    assert.match(out, /\[status\] connected/);
    assert.ok(
      fakes.backend.doc(docId).ydoc.getText('text').toString().includes('typed by the example'),
    );
  } finally {
    await provider.destroy();
    await fakes.close();
  }
});
