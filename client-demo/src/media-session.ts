/**
 * One mediasoup-client Device and its transports over the page's socket, following the server's
 * order: capabilities → create-transport → produce | consume → resume-consumer, with
 * connect-transport when mediasoup-client asks for it. After a media:reset (worker replaced,
 * connection recovered) or a fresh join the transports are dropped and built again on demand.
 */
import type { Device, types as msc } from 'mediasoup-client';
import type { MediaConsumerParams } from '../../src/protocol/index.js';
import type { LiveClient } from './live-client.js';

export class MediaSession {
  private device: Device | null = null;
  private sendTransport: Promise<msc.Transport> | null = null;
  private recvTransport: Promise<msc.Transport> | null = null;

  constructor(private readonly client: LiveClient) {}

  private async loadedDevice(): Promise<Device> {
    if (this.device?.loaded) return this.device;
    const { routerRtpCapabilities } = await this.client.request('media:capabilities', {});
    // Loaded on first use, not with the page: mediasoup-client is the largest part of the bundle,
    // and the page (chat, product, sale) should be usable before it has arrived and been parsed.
    const device = this.device ?? (await (await import('mediasoup-client')).Device.factory());
    // A router's capabilities come from the server's fixed codec list, so one load serves every
    // router this page will meet (also after a worker was replaced).
    if (!device.loaded) await device.load({ routerRtpCapabilities: routerRtpCapabilities as msc.RtpCapabilities });
    this.device = device;
    return device;
  }

  private transport(direction: 'send' | 'recv'): Promise<msc.Transport> {
    const existing = direction === 'send' ? this.sendTransport : this.recvTransport;
    if (existing) return existing;
    const created = this.createTransport(direction);
    if (direction === 'send') this.sendTransport = created;
    else this.recvTransport = created;
    // A failed creation must not be cached: the next call tries again.
    created.catch(() => {
      if (direction === 'send' && this.sendTransport === created) this.sendTransport = null;
      if (direction === 'recv' && this.recvTransport === created) this.recvTransport = null;
    });
    return created;
  }

  private async createTransport(direction: 'send' | 'recv'): Promise<msc.Transport> {
    const device = await this.loadedDevice();
    const params = (await this.client.request('media:create-transport', { direction })) as unknown as msc.TransportOptions;
    const transport = direction === 'send' ? device.createSendTransport(params) : device.createRecvTransport(params);
    transport.on('connect', ({ dtlsParameters }, done, fail) => {
      this.client.request('media:connect-transport', { transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => done(), fail);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, done, fail) => {
        this.client
          .request('media:produce', { transportId: transport.id, kind, rtpParameters: rtpParameters as never, appData: appData as Record<string, string> })
          .then(({ id }) => done({ id }), fail);
      });
    }
    return transport;
  }

  async produce(track: MediaStreamTrack): Promise<msc.Producer> {
    const transport = await this.transport('send');
    return transport.produce({ track, appData: { source: track.kind === 'video' ? 'camera' : 'microphone' } });
  }

  /** A consumer for the producer, resumed once its track exists (the server starts it paused). */
  async consume(producerId: string): Promise<msc.Consumer> {
    const device = await this.loadedDevice();
    const transport = await this.transport('recv');
    const params: MediaConsumerParams = await this.client.request('media:consume', {
      producerId,
      transportId: transport.id,
      rtpCapabilities: device.recvRtpCapabilities as never,
    });
    const consumer = await transport.consume({
      id: params.id,
      producerId: params.producerId,
      kind: params.kind,
      rtpParameters: params.rtpParameters as unknown as msc.RtpParameters,
    });
    await this.client.request('media:resume-consumer', { consumerId: consumer.id });
    return consumer;
  }

  /** The server forgot these transports ('all': every one of ours): close the local side so
   * the next call builds new ones. Returns the directions that were dropped. */
  async reset(transportIds: string[] | 'all'): Promise<Set<'send' | 'recv'>> {
    const dropped = new Set<'send' | 'recv'>();
    for (const direction of ['send', 'recv'] as const) {
      const pending = direction === 'send' ? this.sendTransport : this.recvTransport;
      const transport = await pending?.catch(() => null);
      if (!pending || (transport && transportIds !== 'all' && !transportIds.includes(transport.id))) continue;
      transport?.close();
      if (direction === 'send' && this.sendTransport === pending) this.sendTransport = null;
      if (direction === 'recv' && this.recvTransport === pending) this.recvTransport = null;
      dropped.add(direction);
    }
    return dropped;
  }
}
