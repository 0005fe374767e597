/**
 * A full garbage collection in another Node process, through its inspector (the process runs with
 * `--inspect=127.0.0.1:<port>`), then its memory as it reports it. RSS right after a burst still
 * holds garbage V8 has not collected yet; what an idle viewer really costs is what is left after a
 * full GC. No hook in the server is needed: the inspector protocol does it from outside.
 */
import WebSocket from 'ws';

export interface LiveMemory {
  heapUsed: number;
  external: number;
  rssKb: number;
}

export async function collectGarbageAndMeasure(inspectPort: number, rssKb: () => number): Promise<LiveMemory> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((ok, fail) => (ws.once('open', ok), ws.once('error', fail)));
  let nextId = 1;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<any>((ok) => {
      const id = nextId++;
      const onMessage = (raw: WebSocket.RawData) => {
        const msg = JSON.parse(raw.toString()) as { id?: number; result?: unknown };
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        ok(msg.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  // Twice: the first pass can leave objects whose finalizers free more on the second.
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  const res = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  ws.close();
  const mem = JSON.parse(res.result.value as string) as { heapUsed: number; external: number };
  return { heapUsed: mem.heapUsed, external: mem.external, rssKb: rssKb() };
}
