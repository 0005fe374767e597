/**
 * What media nodes say to each other over the node bus (node-bus.ts), validated on arrival like
 * anything else that crosses a process boundary. RTP and SRTP parameters come from a mediasoup
 * of ours and are checked for shape; mediasoup validates their meaning.
 */
import { z } from 'zod';
import type { types as ms } from 'mediasoup';

const id = z.string().min(1).max(128);
const port = z.number().int().min(1).max(65535);
const srtpParameters = z.object({ cryptoSuite: z.string().max(64), keyBase64: z.string().max(256) });

/** A pipe transport's side of the connection: where it listens and its SRTP key. */
const pipeEnd = { ip: z.string().min(1).max(253), port, srtpParameters };

/** Edge → origin: pipe this producer to my pipe transport `pipeKey` (its id on the edge). */
export const pipeRequest = z.object({ roomId: id, producerId: id, pipeKey: id, ...pipeEnd });

/** Origin → edge: my end of the pipe and what to produce on yours. */
export const pipeAnswer = z.object({
  ...pipeEnd,
  kind: z.enum(['audio', 'video']),
  rtpParameters: z.looseObject({ codecs: z.array(z.looseObject({})).min(1).max(32) }),
  paused: z.boolean(),
});
export type PipeAnswer = z.infer<typeof pipeAnswer> & { rtpParameters: ms.RtpParameters; srtpParameters: ms.SrtpParameters };

/** Either way: the pipe `pipeKey` is closed by the sender (edge: no viewer left; origin: the
 * producer is gone). */
export const pipeRef = z.object({ pipeKey: id });

/** Origin → edge: the producer behind the pipe was paused or resumed. */
export const pipeState = z.object({ pipeKey: id, paused: z.boolean() });

/** Any node → origin: the host, connected elsewhere, pauses, resumes or stops a producer. */
export const producerControl = z.object({ roomId: id, producerId: id, action: z.enum(['pause', 'resume', 'close']) });
export type ProducerAction = z.infer<typeof producerControl>['action'];
