// Drives Debian's headless chromium over the DevTools protocol with no npm packages (a minimal
// WebSocket client over node:net below, so any Node >= 18 works): opens PAGE, types QUERY into the
// search box the way a user does (Input.insertText), reports the visible rows as JSON on stdout,
// and saves a screenshot to SHOT.
//   node search.mjs CHROMIUM PAGE_URL QUERY SHOT USER_DATA_DIR
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

// A text-only WebSocket client (RFC 6455): masked client frames, unmasked server frames of any
// length, fragmented messages joined; enough for the DevTools protocol.
class MiniSocket {
  constructor(url) {
    const u = new URL(url);
    this.onmessage = () => {};
    this.buf = Buffer.alloc(0);
    this.parts = [];
    this.opened = new Promise((ok, err) => {
      this.sock = connect(Number(u.port), u.hostname, () => {
        this.sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      this.sock.on('error', err);
      let upgraded = false;
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        if (!upgraded) {
          const end = this.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          if (!this.buf.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return err(new Error('no upgrade'));
          this.buf = this.buf.subarray(end + 4); upgraded = true; ok();
        }
        this.drain();
      });
    });
  }
  drain() {
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = this.buf[0] & 0x80, op = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f, off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (op === 1 || op === 0) { this.parts.push(payload); if (fin) { const text = Buffer.concat(this.parts).toString(); this.parts = []; this.onmessage({ data: text }); } }
    }
  }
  send(text) {
    const data = Buffer.from(text), mask = randomBytes(4);
    const head = data.length < 126 ? Buffer.from([0x81, 0x80 | data.length])
      : data.length < 65536 ? Buffer.from([0x81, 0xfe, data.length >> 8, data.length & 0xff])
      : Buffer.concat([Buffer.from([0x81, 0xff]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(data.length)); return b; })()]);
    const body = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) body[i] = data[i] ^ mask[i % 4];
    this.sock.write(Buffer.concat([head, mask, body]));
  }
  close() { this.sock.destroy(); }
}

const [chromium, page, query, shot, userData] = process.argv.slice(2);
const browser = spawn(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--user-data-dir=${userData}`, '--remote-debugging-port=0', '--window-size=1280,800', page,
], { stdio: ['ignore', 'ignore', 'ignore'] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + 60000;
const fail = (msg) => { browser.kill('SIGKILL'); console.error(msg); process.exit(1); };

try {
  const portFile = join(userData, 'DevToolsActivePort');
  while (!existsSync(portFile)) { if (Date.now() > deadline) fail('no DevToolsActivePort'); await sleep(100); }
  const port = readFileSync(portFile, 'utf8').split('\n')[0].trim();
  let target;
  while (!target) {
    if (Date.now() > deadline) fail('no page target');
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      target = list.find((t) => t.type === 'page' && t.url.startsWith(page.split('?')[0]));
    } catch { /* not up yet */ }
    if (!target) await sleep(100);
  }
  const ws = new MiniSocket(target.webSocketDebuggerUrl);
  await ws.opened;
  let id = 0; const waiting = new Map();
  ws.onmessage = (m) => { const msg = JSON.parse(m.data); if (waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); } };
  const send = (method, params = {}) => new Promise((ok, err) => {
    const n = ++id; waiting.set(n, (msg) => msg.error ? err(new Error(`${method}: ${msg.error.message}`)) : ok(msg.result));
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  const evaluate = async (expression) => (await send('Runtime.evaluate', { expression, returnByValue: true })).result.value;
  // The target can still hold the initial about:blank document: wait for the page itself.
  const ready = "document.readyState === 'complete' && location.protocol !== 'about:' && !!document.getElementById('q')";
  while (!(await evaluate(ready))) { if (Date.now() > deadline) fail('page did not load'); await sleep(100); }
  const total = await evaluate("document.querySelectorAll('#bundles tbody tr').length");
  await evaluate("document.getElementById('q').focus()");
  await send('Input.insertText', { text: query });
  await sleep(200);
  const visible = await evaluate("[...document.querySelectorAll('#bundles tbody tr')].filter(r => !r.hidden).map(r => r.getAttribute('data-kernel'))");
  const shown = await evaluate("document.getElementById('shown').textContent");
  const png = await send('Page.captureScreenshot', { format: 'png' });
  writeFileSync(shot, Buffer.from(png.data, 'base64'));
  console.log(JSON.stringify({ total, visible, shown }));
  ws.close();
} catch (e) {
  fail(String(e));
}
browser.kill('SIGKILL');
process.exit(0);
