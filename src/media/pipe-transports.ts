/**
 * The PipeTransports of the cascade (cascade.ts), on either side: how they listen, and the end of
 * one that the other node connects to.
 */
import type { types as ms } from 'mediasoup';

/** Where pipe transports listen, and the address other nodes reach them at. */
export interface PipeListen {
  listenIp: string;
  announcedAddress?: string;
  minPort: number;
  maxPort: number;
}

/** SRTP on (the pipe may cross networks), RTX on (NACKs of the far end's viewers are served). */
export function pipeTransportOptions(listen: PipeListen, appData: Record<string, string>): ms.PipeTransportOptions {
  const { listenIp, announcedAddress, minPort, maxPort } = listen;
  return {
    listenInfo: { protocol: 'udp', ip: listenIp, ...(announcedAddress ? { announcedAddress } : {}), portRange: { min: minPort, max: maxPort } },
    enableSrtp: true,
    enableRtx: true,
    appData,
  };
}

/** This side of a pipe, as the other node connects to it. */
export function pipeEnd(listen: PipeListen, transport: ms.PipeTransport): { ip: string; port: number; srtpParameters: ms.SrtpParameters } {
  return {
    ip: listen.announcedAddress ?? transport.tuple.localAddress,
    port: transport.tuple.localPort,
    srtpParameters: transport.srtpParameters!,
  };
}
