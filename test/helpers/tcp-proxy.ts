/**
 * A TCP proxy standing in for the network and the load balancer in reconnect tests: clients
 * connect through it; a test can cut every connection (a network blip), hold new connections
 * until it has done what should happen "while away", and send them to another server node.
 */
import { connect as tcpConnect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  /** Where connections accepted from now on are forwarded. */
  target(url: string): void;
  /** Destroy every open connection, both sides, as a dropped network would. */
  cut(): void;
  /** Accept new connections but forward nothing until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(initialTarget: string): Promise<TcpProxy> {
  let target = new URL(initialTarget);
  let holding = false;
  const held: Socket[] = [];
  const open = new Set<Socket>();

  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };

  const forward = (client: Socket) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    track(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server = createServer((client) => {
    track(client);
    if (holding) {
      client.pause(); // bytes the client sends wait in the socket until release()
      held.push(client);
    } else {
      forward(client);
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    target(url) {
      target = new URL(url);
    },
    cut() {
      for (const s of open) s.destroy();
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const client of held.splice(0)) if (!client.destroyed) forward(client);
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}
